"""U-Net backbone (Ho et al., 2020; Dhariwal & Nichol, 2021) assembled from diffusers' blocks.

Unconditional: ``UNet2DModel`` with self-attention at the chosen feature-map sizes.
Conditional: ``UNet2DConditionModel``
with self- and cross-attention at those sizes (and in the mid block), attending to the embedder's tokens, and the
embedder's pooled vector added to the time embedding through diffusers' "projection" class-embedding path.
Like the DiT, the network maps ``(x, t, cond)`` to a tensor shaped like x and never knows which objective trains it.
"""

from __future__ import annotations

from collections.abc import Sequence

from diffusers import UNet2DConditionModel, UNet2DModel
from torch import Tensor, nn

from facegen.conditioning import Condition
from facegen.models.backbone import NO_AUXILIARY, Backbone, with_auxiliary
from facegen.models.registry import register_model
from facegen.specs import preset_with
from facegen.specs.unet import UNET_PRESETS, UNetPreset  # noqa: F401  (the presets live with the torch-free spec)


class UNet(Backbone):
    """``net(x [B, C, H, W], t [B] in [0, 1], cond=None) -> [B, C, H, W]``.

    Attention heads are sized by ``head_dim`` (as ADM's ``num_head_channels``), so wider levels get more heads.
    The mid block always attends; ``attention_resolutions`` that no level reaches are ignored, so one preset
    serves several image sizes. Weights keep diffusers' default init (the output conv is not zeroed).

    ``two_time``: the second time ``r`` (``r=None``: ``r = t``) is embedded with diffusers' own parts: the
    unconditional net as a "timestep" class embedding (``r``'s sinusoid through its own MLP, added to t's
    embedding), the conditional one (whose class slot holds the condition vector) as ``timestep_cond`` (``r``'s
    sinusoid projected onto t's). Those layers exist only then, so one-time weights keep their keys.
    """

    channels_last = True

    def __init__(
        self,
        image_size: int = 32,
        in_channels: int = 3,
        base_channels: int = 64,
        channel_mult: Sequence[int] = (1, 2, 4, 8),
        layers_per_block: int = 2,
        attention_resolutions: Sequence[int] = (16, 8),
        head_dim: int = 64,
        dropout: float = 0.0,
        norm_groups: int = 32,
        cond_embedder: nn.Module | None = None,
        grad_checkpointing: bool = False,
        two_time: bool = False,
    ) -> None:
        super().__init__()
        channels = tuple(base_channels * m for m in channel_mult)
        attends = [image_size // 2**level in attention_resolutions for level in range(len(channels))]
        _check_architecture(image_size, channels, attends, head_dim, norm_groups)
        self.image_size = image_size
        self.in_channels = in_channels
        shared = dict(
            sample_size=image_size,
            in_channels=in_channels,
            out_channels=in_channels,
            block_out_channels=channels,
            layers_per_block=layers_per_block,
            dropout=dropout,
            norm_num_groups=norm_groups,
        )
        if cond_embedder is None:
            self.unet = UNet2DModel(
                **shared,
                down_block_types=tuple("AttnDownBlock2D" if a else "DownBlock2D" for a in attends),
                up_block_types=tuple("AttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attends)),
                attention_head_dim=head_dim,
                **({"class_embed_type": "timestep"} if two_time else {}),
            )
        else:
            self.unet = UNet2DConditionModel(
                **shared,
                down_block_types=tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in attends),
                up_block_types=tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(attends)),
                # This class reads attention_head_dim as the number of heads (diffusers issue #2011).
                attention_head_dim=tuple(c // head_dim for c in channels),
                cross_attention_dim=cond_embedder.dim,
                class_embed_type="projection",
                projection_class_embeddings_input_dim=cond_embedder.dim,
                **({"time_cond_proj_dim": channels[0]} if two_time else {}),
            )
        if grad_checkpointing:
            self.unet.enable_gradient_checkpointing()
        self.cond_embedder = cond_embedder
        self.two_time = two_time

    def forward(self, x: Tensor, t: Tensor, cond: Condition | None = None, r: Tensor | None = None, return_aux=False):
        """-> prediction shaped like x; with ``return_aux`` (prediction, auxiliary loss, parts): see Backbone."""
        self.check_inputs(x, r)
        timesteps = t * 1000  # diffusers' sinusoidal time embedding is tuned for DDPM's [0, 1000] step range
        second = (t if r is None else r) * 1000 if self.two_time else None
        if self.cond_embedder is None:
            return with_auxiliary(self.unet(x, timesteps, class_labels=second).sample, NO_AUXILIARY, return_aux)
        if cond is None:  # cross-attention needs tokens: "no condition" is the embedder's own null one
            cond = self.cond_embedder.null_condition(x.shape[0], x.device)
        (tokens, mask, vector), auxiliary = self.embed_condition("embed", cond, return_aux)
        prediction = self.unet(
            x,
            timesteps,
            encoder_hidden_states=tokens,
            class_labels=vector,
            encoder_attention_mask=mask,
            timestep_cond=None if second is None else self.unet.time_proj(second).to(self.unet.dtype),
        ).sample
        return with_auxiliary(prediction, auxiliary, return_aux)


def _check_architecture(
    image_size: int, channels: tuple[int, ...], attends: list[bool], head_dim: int, norm_groups: int
) -> None:
    """Fail at construction with the sizes named, rather than with a shape error deep inside diffusers."""
    if not channels:
        raise ValueError("channel_mult must have at least one level")
    downsamples = len(channels) - 1
    if image_size % 2**downsamples != 0:
        raise ValueError(
            f"image_size {image_size} is not divisible by 2**{downsamples} = {2**downsamples} "
            f"(channel_mult has {len(channels)} levels)"
        )
    if any(c % norm_groups != 0 for c in channels):
        raise ValueError(f"norm_groups {norm_groups} does not divide every level's channels {list(channels)}")
    # The mid block at the last level always attends.
    attending = sorted({c for c, a in zip(channels, attends) if a} | {channels[-1]})
    if any(c % head_dim != 0 for c in attending):
        raise ValueError(f"head_dim {head_dim} does not divide the attending levels' channels {attending}")


@register_model("unet")
def build_unet(
    *,
    image_size: int,
    in_channels: int,
    cond_embedder: nn.Module | None = None,
    size: str = "base",
    base_channels: int | None = None,
    channel_mult: Sequence[int] | None = None,
    layers_per_block: int | None = None,
    attention_resolutions: Sequence[int] | None = None,
    head_dim: int | None = None,
    dropout: float = 0.0,
    norm_groups: int = 32,
    grad_checkpointing: bool = False,
    two_time: bool = False,
) -> UNet:
    """A UNet from a size preset; each architecture option overrides the preset when not None."""
    preset = preset_with(UNET_PRESETS, size, "UNet", base_channels=base_channels, channel_mult=channel_mult,
                         layers_per_block=layers_per_block, attention_resolutions=attention_resolutions,
                         head_dim=head_dim)  # fmt: skip
    return UNet(image_size=image_size, in_channels=in_channels, dropout=dropout, norm_groups=norm_groups,
                cond_embedder=cond_embedder, grad_checkpointing=grad_checkpointing, two_time=two_time,
                **preset)  # fmt: skip
