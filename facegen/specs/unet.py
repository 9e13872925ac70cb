"""The UNet backbone's torch-free spec: its ``model.unet`` options, size presets and what the builders need."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from facegen.specs import BackboneSpec, TemporalSites, register_backbone
from facegen.utils.bounds import POSITIVE


@dataclass
class UNetOptions:
    """``model.unet``: options of the UNet backbone; each overrides the size preset (null = the preset's value)."""

    base_channels: int | None = None
    channel_mult: list[int] | None = None
    layers_per_block: int | None = None
    attention_resolutions: list[int] | None = None
    head_dim: int | None = None


@dataclass(frozen=True)
class UNetPreset:
    base_channels: int
    channel_mult: Sequence[int]  # level i has base_channels * channel_mult[i] channels at image_size / 2**i
    layers_per_block: int
    attention_resolutions: Sequence[int]  # feature-map sizes whose blocks attend
    head_dim: int


UNET_PRESETS: dict[str, UNetPreset] = {
    "tiny": UNetPreset(32, (1, 2, 2), 1, (8,), 32),  # CPU tests and smoke runs
    "small": UNetPreset(64, (1, 2, 2, 4), 2, (16, 8), 64),
    "base": UNetPreset(64, (1, 2, 4, 8), 2, (16, 8), 64),
}

# LoRA's defaults: diffusers' attention (self and cross) and feed-forward, the transformer's 1x1 in/out, ResNet convs.
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2")
LORA_TARGETS += ("proj_in", "proj_out", "conv1", "conv2")

UNET = register_backbone(
    BackboneSpec(
        name="unet",
        label="UNet",
        options=UNetOptions,
        sizes=tuple(UNET_PRESETS),
        bounds={f.name: POSITIVE for f in UNetOptions.__dataclass_fields__.values()},
        two_time=True,
        lora_targets=LORA_TARGETS,
        flat_keys=True,
        # every ResNet block of diffusers' UNet (down, mid, up): its maps [B*T, C, H, W] are mixed over the frames
        temporal=TemporalSites(
            blocks=("unet.down_blocks.*.resnets.*", "unet.mid_block.resnets.*", "unet.up_blocks.*.resnets.*"),
            layout="maps",
            width="out_channels",
        ),
    )
)
