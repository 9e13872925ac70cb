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
deliberately weaker net of the same faces, whose conditional prediction the output is pushed away from with its
own ``weight``, on top of classifier-free guidance:

    out = cond + (scale - 1) * (cond - uncond) + (weight - 1) * (cond - weak)

Scale 1 is the paper's autoguidance alone (``weak + weight * (cond - weak)``): it pushes away from the weak net's
typical errors (malformed parts) but drops CFG's push towards the condition, so attributes are followed less;
both together keep that push and add the correction (measured in docs/BENCHMARKS.md). Each push costs a pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from facegen.conditioning.condition import Condition

Denoiser = Callable[..., torch.Tensor]  # (x, t, cond=None) -> prediction


@dataclass(frozen=True)
class Guide:
    """Autoguidance: a weaker ``net`` of the same faces (same inputs, same condition) and the ``weight`` of the
    push away from it (1: none)."""

    net: Denoiser
    weight: float = 2.0
    name: str | None = None  # where the weak net came from, for reports


def guided(
    net: Denoiser,
    cond: Condition | None,
    scale: float = 1.0,
    base: Condition | None = None,
    window: tuple[float, float] | None = None,
    guide: Guide | None = None,
) -> Denoiser:
    """A denoiser with ``cond`` bound in, guided away from ``base`` (default: the dropped condition) with
    ``scale`` and away from the ``guide`` net with its weight, while t is in ``window`` (None: always). A push of
    weight 1 costs nothing: scale 1 and no guide is one pass."""
    cfg = scale != 1.0 and cond is not None
    auto = guide is not None and guide.weight != 1.0
    if not cfg and not auto:
        return lambda x, t, _=None: net(x, t, cond)
    reference = None if not cfg else cond.dropped() if base is None else base
    both = Condition.concat([cond, reference]) if cfg else None

    def denoise(x: torch.Tensor, t: torch.Tensor, _=None) -> torch.Tensor:
        if window is not None and not window[0] <= float(t[0]) <= window[1]:  # one time per sampler step
            return net(x, t, cond)
        if cfg:  # the conditional and the reference prediction in one batched pass
            out, away = net(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
            pushed = out + (scale - 1.0) * (out - away)
        else:
            out = pushed = net(x, t, cond)
        if auto:
            pushed = pushed + (guide.weight - 1.0) * (out - guide.net(x, t, cond))
        return pushed

    return denoise
