"""What every denoising backbone shares besides ``forward(x, t, cond=None, r=None, return_aux=False)``: the
objectives ask the backbone's forward, never its parts.

``return_aux=True`` makes the forward return ``(prediction, auxiliary loss, parts)``: training terms computed by
that same forward (the semantic encoder's KL and attribute loss when the condition embedder has them, else 0 and
``{}``), so nothing is kept between calls. ``r`` is a second time (few-step objectives: MeanFlow, shortcut models);
a backbone is built with ``two_time`` when its objective's spec asks for it (then ``r=None`` reads as ``r = t``);
one built without it (every model of a one-time objective) refuses ``r`` and computes exactly what it always did.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

Auxiliary = tuple[torch.Tensor | float, dict[str, torch.Tensor]]
NO_AUXILIARY: Auxiliary = (0.0, {})
Output = torch.Tensor | tuple[torch.Tensor, torch.Tensor | float, dict[str, torch.Tensor]]  # with return_aux


class Backbone(nn.Module):
    cond_embedder: nn.Module | None  # set by each backbone (a class default would hide the registered module)
    channels_last = False  # convolutional backbones run faster on CUDA with channels-last tensors
    two_time = False  # built with a second time input r
    image_size: int  # the [B, in_channels, image_size, image_size] inputs it was built for
    in_channels: int

    def embed_condition(self, how: str, cond: Any, return_aux: bool) -> tuple[Any, Auxiliary]:
        """``cond_embedder.<how>(cond)`` (``"__call__"``: the pooled vector; ``"embed"``: tokens, mask, vector) and
        the auxiliary ``(loss, parts)`` that call computed: an embedder with training terms (``returns_auxiliary``)
        hands them back from this same call."""
        embedder = self.cond_embedder
        if return_aux and getattr(embedder, "returns_auxiliary", False):
            return getattr(embedder, how)(cond, return_aux=True)
        return getattr(embedder, how)(cond), NO_AUXILIARY

    def load_initial_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Start from ``state`` (``train.init_from``); a video backbone also takes its image model's weights."""
        self.load_state_dict(state)

    def check_inputs(self, x: torch.Tensor, r: torch.Tensor | None) -> None:
        """Fail with the sizes named (not deep inside a layer); r only for a net built two-time."""
        name, size = type(self).__name__, self.image_size
        if x.shape[1:] != (self.in_channels, size, size):
            raise ValueError(f"{name} built for [B, {self.in_channels}, {size}, {size}] inputs, got {list(x.shape)}")
        if r is not None and not self.two_time:
            raise ValueError(f"this {name} was built without two_time: it takes no second time r")


def with_auxiliary(prediction: torch.Tensor, auxiliary: Auxiliary, return_aux: bool):
    """The forward's result: the prediction, or ``(prediction, loss, parts)`` with ``return_aux``."""
    return (prediction, *auxiliary) if return_aux else prediction
