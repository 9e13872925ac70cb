"""Exponential moving average of a model's weights, with no GPU->CPU sync per step.

torch's ``AveragedModel`` keeps its update count as a device tensor (read back to the host every step) and lerps
parameter by parameter; here the count is a Python int and one fused ``_foreach_lerp_`` updates every parameter.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_weight(decay: float, num_updates: int) -> float:
    """Weight of the current parameters in update ``num_updates`` (0-based): 1 (a copy) first, then
    ``1 - min(decay, (1 + n) / (10 + n))``.

    Why the warm-up: with adaLN-Zero the output is a product of zero-initialised gates, so an average that still
    holds much of the initial weights predicts almost nothing; early on the EMA must forget the start quickly.
    """
    if num_updates == 0:
        return 1.0
    return 1.0 - min(decay, (1 + num_updates) / (10 + num_updates))


class EMA:
    """``ema.module`` is a frozen copy of ``model`` that ``update(model)`` moves towards the model's weights."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.module = copy.deepcopy(model).requires_grad_(False).eval()
        self.decay = decay
        self.num_updates = 0

    def to(self, device: torch.device | str) -> EMA:
        self.module.to(device)
        return self

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = ema_weight(self.decay, self.num_updates)
        averaged = list(self.module.parameters())
        current = [p.detach() for p in model.parameters()]
        if weight == 1.0:
            torch._foreach_copy_(averaged, current)
        else:
            torch._foreach_lerp_(averaged, current, weight)
        for mine, theirs in zip(self.module.buffers(), model.buffers()):  # fixed tables: copied, not averaged
            mine.copy_(theirs)
        self.num_updates += 1
