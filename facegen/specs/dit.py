"""The DiT backbone's torch-free spec: its ``model.dit`` options, size presets and what the builders need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facegen.specs import BackboneSpec, TemporalSites, register_backbone
from facegen.utils.bounds import POSITIVE


@dataclass
class DiTOptions:
    """``model.dit``: options of the DiT backbone (unused while ``model.name`` is another backbone)."""

    patch_size: int = 2
    pos_embed: Literal["sincos", "learned", "none"] = "sincos"
    rope: bool = True
    qk_norm: bool = False
    long_skip: bool = False  # U-ViT long skips between mirrored blocks
    # Explicit overrides of the size preset (null = the preset's value).
    hidden_size: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_dim: int | None = None


@dataclass(frozen=True)
class DiTPreset:
    hidden_size: int
    depth: int
    num_heads: int
    mlp_dim: int


DIT_PRESETS: dict[str, DiTPreset] = {
    "tiny": DiTPreset(hidden_size=192, depth=6, num_heads=3, mlp_dim=768),  # CPU smoke runs
    "small": DiTPreset(hidden_size=384, depth=12, num_heads=6, mlp_dim=1536),
    "base": DiTPreset(hidden_size=512, depth=12, num_heads=8, mlp_dim=2048),
    "large": DiTPreset(hidden_size=768, depth=24, num_heads=12, mlp_dim=3072),
}


def _hidden_size(options: DiTOptions, size: str) -> int:
    """The DiT adds the pooled condition vector to its timestep embedding: the embedder has its width."""
    return options.hidden_size or DIT_PRESETS[size].hidden_size


def _check(options: DiTOptions, latent_size: int) -> str | None:
    if latent_size % options.patch_size:
        return "data.image_size (divided by the autoencoder's downsampling) must be divisible by model.dit.patch_size"
    return None


DIT = register_backbone(
    BackboneSpec(
        name="dit",
        label="DiT",
        options=DiTOptions,
        sizes=tuple(DIT_PRESETS),
        bounds={k: POSITIVE for k in ("patch_size", "hidden_size", "depth", "num_heads", "mlp_dim")},
        vector_only=True,
        conditioning_width=_hidden_size,
        two_time=True,
        # The blocks' attention and MLP (not the timestep embedder's MLP, which is also named mlp).
        lora_targets=("attn.qkv", "attn.proj", "blocks.*.mlp.0", "blocks.*.mlp.2"),
        check=_check,
        describe=lambda options: f"/{options.patch_size}",
        flat_keys=True,
        # every transformer block: its tokens [B*T, N, hidden] are mixed over the frames after it
        temporal=TemporalSites(blocks=("blocks.*",), layout="tokens", width="hidden_size"),
    )
)
