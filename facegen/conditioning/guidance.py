"""Classifier-free guidance: one batched forward for the conditional and unconditional predictions.

The unconditional branch is the condition dropped (``Condition.dropped``): attributes all "unspecified", empty
text, the same face code if there is one. Guidance acts on the whole prediction (eps, v, velocity or x alike,
all linear in it):

    out = uncond + scale * (cond - uncond)

An edit may guide away from another condition instead (``base``: the face's own attributes), so guidance
amplifies only the asked change, not every attribute the target shares with the source.
"""

from __future__ import annotations

from typing import Callable

import torch

from facegen.conditioning.condition import Condition

Denoiser = Callable[..., torch.Tensor]  # (x, t, cond=None) -> prediction


def guided(net: Denoiser, cond: Condition | None, scale: float = 1.0, base: Condition | None = None) -> Denoiser:
    """A denoiser with ``cond`` bound in and guidance away from ``base`` (default: the dropped condition) applied;
    scale 1 (or no condition) costs one pass."""
    if cond is None or scale == 1.0:
        return lambda x, t, _=None: net(x, t, cond)
    both = Condition.concat([cond, cond.dropped() if base is None else base])

    def denoise(x: torch.Tensor, t: torch.Tensor, _=None) -> torch.Tensor:
        out_cond, out_uncond = net(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
        return out_uncond + scale * (out_cond - out_uncond)

    return denoise
