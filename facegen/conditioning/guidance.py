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

``guide`` is autoguidance (Karras et al. 2024, "Guiding a diffusion model with a bad version of itself"): a
deliberately weaker net's conditional prediction takes the unconditional branch's place,
``out = weak + scale * (cond - weak)``, which pushes away from the weak net's typical errors (malformed parts)
rather than towards "more of the condition".
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
    guide: Denoiser | None = None,
) -> Denoiser:
    """A denoiser with ``cond`` bound in and guidance away from ``base`` (default: the dropped condition), or from
    the weaker ``guide`` net, applied while t is in ``window`` (None: always); scale 1 costs one pass."""
    if scale == 1.0 or (cond is None and guide is None):
        return lambda x, t, _=None: net(x, t, cond)

    def outside(t: torch.Tensor) -> bool:
        return window is not None and not window[0] <= float(t[0]) <= window[1]  # one time per sampler step

    if guide is not None:

        def autoguided(x: torch.Tensor, t: torch.Tensor, _=None) -> torch.Tensor:
            out = net(x, t, cond)
            if outside(t):
                return out
            weak = guide(x, t, cond)
            return weak + scale * (out - weak)

        return autoguided
    both = Condition.concat([cond, cond.dropped() if base is None else base])

    def denoise(x: torch.Tensor, t: torch.Tensor, _=None) -> torch.Tensor:
        if outside(t):
            return net(x, t, cond)
        out_cond, out_uncond = net(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
        return out_uncond + scale * (out_cond - out_uncond)

    return denoise
