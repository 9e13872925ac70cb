"""Classifier-free guidance: one batched forward for the conditional and unconditional predictions.

The unconditional branch is the condition dropped (``Condition.dropped``): attributes all "unspecified", empty
text, the same face code if there is one. Guidance acts on the whole prediction (eps, v, velocity or x alike,
all linear in it):

    out = uncond + scale * (cond - uncond)

An edit may guide away from another condition instead (``base``: the face's own attributes), so guidance
amplifies only the asked change, not every attribute the target shares with the source.

``window`` (lo, hi) applies guidance only while the net's time t lies in it, and the conditional prediction
alone elsewhere (Kynkaanniemi et al. 2024, "Applying guidance in a limited interval"): guidance at the noisiest
steps mostly narrows the variety of faces, and outside the window each step costs one pass instead of two.
"""

from __future__ import annotations

from typing import Callable

import torch

from facegen.conditioning.condition import Condition

Denoiser = Callable[..., torch.Tensor]  # (x, t, cond=None) -> prediction


def guided(
    net: Denoiser,
    cond: Condition | None,
    scale: float = 1.0,
    base: Condition | None = None,
    window: tuple[float, float] | None = None,
) -> Denoiser:
    """A denoiser with ``cond`` bound in and guidance away from ``base`` (default: the dropped condition) applied
    while t is in ``window`` (None: always); scale 1 (or no condition) costs one pass."""
    if cond is None or scale == 1.0:
        return lambda x, t, _=None: net(x, t, cond)
    both = Condition.concat([cond, cond.dropped() if base is None else base])

    def denoise(x: torch.Tensor, t: torch.Tensor, _=None) -> torch.Tensor:
        if window is not None and not window[0] <= float(t[0]) <= window[1]:  # one time per sampler step
            return net(x, t, cond)
        out_cond, out_uncond = net(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
        return out_uncond + scale * (out_cond - out_uncond)

    return denoise
