"""Video backbones: an image backbone with a temporal layer after each block its spec names (the video-diffusion
design of SVD and AnimateDiff).

video = VideoBackbone(build_model("dit", image_size=32, in_channels=3, size="tiny"), frames=8)
video(x [B, T, C, H, W], t [B], cond) -> [B, T, C, H, W]      # one noise time per clip, shared by its frames

The image backbone sees every frame as an image (batch B*T). Each block listed in its spec's ``temporal``
(``facegen.specs.TemporalSites``: the one documented list of its insides this module touches) is replaced by a
:class:`TemporalBlock`: the block, then a :class:`TemporalMixer` over the frame axis. A mixer returns
``alpha * h + (1 - alpha) * (h + residual)`` with ``alpha = sigmoid(logit)``; its residual's output layer starts at
zero, so the untrained video model is the image model applied per frame, exactly. The frame count is fixed when the
model is built (every mixer is told it); its weights do not depend on it, so a model trained on 8 frames loads
into one built for 16 (:func:`facegen.builders.model_from_config` with another ``video.frames``).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from facegen.conditioning import Condition
from facegen.models.backbone import Backbone
from facegen.specs import TemporalSites

TEMPORAL_KINDS = ("attention", "conv", "conv3d")


def frame_positions(frames: int, width: int) -> Tensor:
    """[frames, width] sinusoidal embedding of the frame index (the temporal attention's only sense of order)."""
    half = width // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / max(half, 1))
    angles = torch.arange(frames, dtype=torch.float32)[:, None] * frequencies[None]
    table = torch.cat([angles.sin(), angles.cos()], dim=1)
    return F.pad(table, (0, width - table.shape[1]))


class TemporalMixer(nn.Module):
    """Mixes each position's features over the ``frames`` frames of its clip: multi-head self-attention over the
    frames (with their sinusoidal positions), a 1-D convolution (kernel 3) along them, or (``conv3d``, Video LDM's
    spatio-temporal convolution) a linear layer then a depthwise 3x3x3 convolution over (frame, row, column), which
    sees the neighbouring positions of the neighbouring frames and so can carry content sideways as a camera pan
    does; then a zero-initialised linear output and the learned blend ``alpha``."""

    def __init__(
        self, width: int, layout: str, frames: int, kind: str = "attention", head_dim: int = 32, alpha: float = 0.5
    ) -> None:
        super().__init__()
        if kind not in TEMPORAL_KINDS:
            raise ValueError(f"temporal layer kind {kind!r}: choose one of {list(TEMPORAL_KINDS)}")
        if kind == "attention" and width % head_dim:
            raise ValueError(f"video.head_dim={head_dim} must divide every temporal layer's width (one is {width})")
        if not 0 < alpha < 1:
            raise ValueError(f"video.alpha_init={alpha}: must lie strictly between 0 and 1")
        self.layout, self.frames, self.kind = layout, frames, kind
        self.heads = width // head_dim
        self.norm = nn.LayerNorm(width)
        if kind == "attention":
            self.qkv = nn.Linear(width, 3 * width)
            self.register_buffer("positions", frame_positions(frames, width), persistent=False)
        elif kind == "conv":
            self.conv = nn.Conv1d(width, width, kernel_size=3, padding=1, padding_mode="replicate")
        else:  # depthwise: a per-channel 3x3x3 kernel can shift a feature map by a position a frame
            self.inner = nn.Linear(width, width)
            self.conv = nn.Conv3d(width, width, kernel_size=3, padding=1, padding_mode="replicate", groups=width)
        self.out = nn.Linear(width, width)
        nn.init.zeros_(self.out.weight)  # the residual starts at exactly zero: the image model, per frame
        nn.init.zeros_(self.out.bias)
        self.alpha_logit = nn.Parameter(torch.tensor(math.log(alpha / (1 - alpha))))

    @property
    def alpha(self) -> Tensor:
        """The weight of the spatial output, in [0, 1]."""
        return torch.sigmoid(self.alpha_logit)

    def _sequences(self, h: Tensor) -> Tensor:
        """[B*T, ...] -> [B * positions, T, width]: one sequence over the frames per position."""
        clips = h.shape[0] // self.frames
        if self.layout == "tokens":  # [B*T, L, D]
            return h.unflatten(0, (clips, self.frames)).transpose(1, 2).flatten(0, 1)
        return h.unflatten(0, (clips, self.frames)).flatten(3).permute(0, 3, 1, 2).flatten(0, 1)  # [B*T, C, H, W]

    def _frames(self, s: Tensor, like: Tensor) -> Tensor:
        """The inverse of :meth:`_sequences`, into ``like``'s layout."""
        clips = like.shape[0] // self.frames
        s = s.unflatten(0, (clips, -1))  # [B, positions, T, width]
        if self.layout == "tokens":
            return s.transpose(1, 2).flatten(0, 1)
        return s.permute(0, 2, 3, 1).flatten(0, 1).reshape(like.shape)

    def _grid(self, h: Tensor) -> Tensor:
        """[B*T, ...] -> [B, T, rows, columns, width]: the clip as a channels-last volume (tokens: a square grid)."""
        clips = h.shape[0] // self.frames
        if self.layout == "tokens":  # [B*T, L, D] of a square patch grid
            side = math.isqrt(h.shape[1])
            if side * side != h.shape[1]:
                raise ValueError(f"video.temporal=conv3d needs a square token grid, got {h.shape[1]} tokens")
            return h.unflatten(0, (clips, self.frames)).unflatten(2, (side, side))
        return h.unflatten(0, (clips, self.frames)).permute(0, 1, 3, 4, 2)  # [B*T, C, H, W]

    def _spatiotemporal(self, h: Tensor) -> Tensor:
        """The conv3d residual, in ``h``'s layout."""
        x = self.inner(self.norm(self._grid(h))).permute(0, 4, 1, 2, 3)  # [B, width, T, rows, columns]
        x = self.out(F.silu(self.conv(x)).permute(0, 2, 3, 4, 1)).flatten(0, 1)  # [B*T, rows, columns, width]
        return x.flatten(1, 2) if self.layout == "tokens" else x.permute(0, 3, 1, 2)

    def _over_frames(self, h: Tensor) -> Tensor:
        """The attention or conv residual (each position over its frames), in ``h``'s layout."""
        x = self.norm(self._sequences(h))
        if self.kind == "attention":
            n, frames, width = x.shape
            q, k, v = self.qkv(x + self.positions.to(x.dtype)).view(n, frames, 3, self.heads, -1).unbind(2)
            x = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
            x = x.transpose(1, 2).reshape(n, frames, width)
        else:
            x = F.silu(self.conv(x.transpose(1, 2)).transpose(1, 2))
        return self._frames(self.out(x), h)

    def forward(self, h: Tensor) -> Tensor:
        if h.shape[0] % self.frames:
            raise ValueError(f"a temporal layer built for {self.frames} frames got a batch of {h.shape[0]} frames")
        residual = self._spatiotemporal(h) if self.kind == "conv3d" else self._over_frames(h)
        # alpha * h + (1 - alpha) * (h + residual), written so that a zero residual returns h bit for bit
        return h + (1 - self.alpha).to(h.dtype) * residual


class TemporalBlock(nn.Module):
    """A spatial block followed by its temporal mixer; called exactly as the block was."""

    def __init__(self, block: nn.Module, mixer: TemporalMixer) -> None:
        super().__init__()
        self.block, self.mixer = block, mixer

    def forward(self, *args, **kwargs):
        return self.mixer(self.block(*args, **kwargs))


def temporal_site_names(image: nn.Module, sites: TemporalSites) -> list[str]:
    """The module names of ``image`` that ``sites.blocks`` lists (a ``*`` is one index), in module order."""
    patterns = [re.compile(re.escape(p).replace(r"\*", r"[^.]+") + r"\Z") for p in sites.blocks]
    names = [name for name, _ in image.named_modules() if any(p.match(name) for p in patterns)]
    if not names:
        raise ValueError(f"{type(image).__name__} has no module named like {list(sites.blocks)}")
    return names


class VideoBackbone(Backbone):
    """``net(x [B, T, C, H, W], t [B], cond=None, r=None) -> [B, T, C, H, W]``: ``image`` per frame with temporal
    mixers after its listed blocks. ``cond``, ``t`` and ``r`` are per clip: every frame of a clip shares them
    (``t`` may also be per frame, [B, T]: a frame given clean beside noised ones).

    ``train_spatial=False`` (the video-diffusion recipe) freezes every weight of the image model: only the mixers
    (and their alphas) get gradients.
    """

    def __init__(
        self,
        image: Backbone,
        sites: TemporalSites,
        frames: int,
        kind: str = "attention",
        head_dim: int = 32,
        alpha: float = 0.5,
        train_spatial: bool = False,
    ) -> None:
        super().__init__()
        if frames < 1:
            raise ValueError(f"video.frames={frames}: a clip needs at least one frame")
        self.frames = frames
        self.site_names = temporal_site_names(image, sites)
        image.requires_grad_(train_spatial)
        for name in self.site_names:
            block = image.get_submodule(name)
            mixer = TemporalMixer(getattr(block, sites.width), sites.layout, frames, kind, head_dim, alpha)
            parent, _, child = name.rpartition(".")
            setattr(image.get_submodule(parent), child, TemporalBlock(block, mixer))
        self.image = image
        self.image_size, self.in_channels, self.two_time = image.image_size, image.in_channels, image.two_time

    @property
    def cond_embedder(self) -> nn.Module | None:  # the image model's (registered there only: one state_dict key)
        return self.image.cond_embedder

    def temporal_parameters(self) -> list[nn.Parameter]:
        """The mixers' weights and alphas: what the video-diffusion recipe trains."""
        return [p for name in self.site_names for p in self.image.get_submodule(name).mixer.parameters()]

    def image_key(self, key: str) -> str:
        """The key in this model's state dict of an image model's ``key`` (a listed block moved into its wrapper)."""
        for name in self.site_names:
            if key.startswith(name + "."):
                return f"image.{name}.block.{key[len(name) + 1 :]}"
        return f"image.{key}"

    def load_initial_weights(self, state: dict[str, Tensor]) -> None:
        """A video model's weights, or an image model's: those fill the spatial layers, the mixers keep their
        initialisation (so the video model starts as that image model applied per frame)."""
        if any(key.startswith("image.") for key in state):
            self.load_state_dict(state)
            return
        missing, unexpected = self.load_state_dict({self.image_key(k): v for k, v in state.items()}, strict=False)
        missing = [k for k in missing if ".mixer." not in k]
        if missing or unexpected:
            raise ValueError(
                f"these image weights do not fit the video model's image backbone ({len(missing)} missing, "
                f"{len(unexpected)} unexpected, e.g. {(missing + unexpected)[:2]})"
            )

    def forward(self, x: Tensor, t: Tensor, cond: Condition | None = None, r: Tensor | None = None, return_aux=False):
        """-> prediction shaped like x; with ``return_aux`` (prediction, auxiliary loss, parts): see Backbone."""
        size = self.image_size
        if x.dim() != 5 or x.shape[1:] != (self.frames, self.in_channels, size, size):
            raise ValueError(
                f"video model built for clips [B, {self.frames}, {self.in_channels}, {size}, {size}], "
                f"got {list(x.shape)}"
            )
        clips, frames = x.shape[:2]
        if t.shape not in ((clips,), (clips, frames)):
            raise ValueError(
                f"video model: t must be per clip [{clips}] or per frame [{clips}, {frames}], got {list(t.shape)}"
            )

        def per_frame(v: Tensor) -> Tensor:
            return v.repeat_interleave(frames, dim=0)

        out = self.image(
            x.flatten(0, 1),
            t.flatten() if t.dim() == 2 else per_frame(t),
            None if cond is None else cond.map(per_frame),
            None if r is None else per_frame(r),
            return_aux=return_aux,
        )
        if return_aux:
            return out[0].unflatten(0, (clips, frames)), out[1], out[2]
        return out.unflatten(0, (clips, frames))
