"""What every denoising backbone shares besides ``forward(x, t, cond=None)``: the trainer asks the backbone, never
its parts."""

from __future__ import annotations

import torch
from torch import nn


class Backbone(nn.Module):
    cond_embedder: nn.Module | None  # set by each backbone (a class default would hide the registered module)
    channels_last = False  # convolutional backbones run faster on CUDA with channels-last tensors

    def auxiliary_loss(self) -> tuple[torch.Tensor | float, dict[str, torch.Tensor]]:
        """Training terms besides the objective's loss, recorded by the last training forward, and their parts
        for the logs: the semantic encoder's KL and attribute loss when the embedder has one, else 0."""
        regularizer = getattr(self.cond_embedder, "regularizer", None)
        return regularizer() if regularizer is not None else (0.0, {})
