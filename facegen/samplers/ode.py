"""ODE samplers for velocity fields, integrating from noise (t=0) to data (t=1).

They know only a field ``(t, x) -> dx/dt``; networks, conditioning and guidance live in the objective.
"""

from __future__ import annotations

from typing import Callable

import torch

Field = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ODE_SAMPLERS = ("euler", "heun", "dopri5")
OnStep = Callable[[int], None] | None  # told how many steps were just done (a progress bar's update)


def shifted(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Time ``t`` with its noise level 1 - t shifted (as SD3 shifts sigma): s(1-t) / (1 + (s-1)(1-t)).

    A monotone map of [0, 1] onto itself; shift > 1 spends a uniform grid's steps nearer the noise, where a face's
    layout is decided, and < 1 nearer the data, where its detail is."""
    sigma = 1 - t
    return 1 - shift * sigma / (1 + (shift - 1) * sigma)


def time_grid(steps: int, t_start: float = 0.0, t_end: float = 1.0, shift: float = 1.0) -> torch.Tensor:
    """``steps + 1`` times from ``t_start`` to ``t_end`` (both exact), evenly spaced after undoing ``shift``
    (1: evenly spaced), in float64 on the host."""
    if not shift > 0:
        raise ValueError(f"time shift must be positive, got {shift}")
    ends = torch.tensor([t_start, t_end], dtype=torch.float64)
    lo, hi = shifted(ends, 1 / shift)  # the inverse of a shift s is the shift 1/s
    grid = shifted(torch.linspace(float(lo), float(hi), steps + 1, dtype=torch.float64), shift)
    grid[0], grid[-1] = t_start, t_end  # exact ends, whatever rounding did
    return grid


def _fixed_step(field: Field, x: torch.Tensor, ts: torch.Tensor, heun: bool, on_step: OnStep) -> list[torch.Tensor]:
    steps = len(ts) - 1
    states = [x]
    for i in range(steps):
        t, t_next = ts[i], ts[i + 1]
        h = t_next - t
        d = field(t, x)
        x_next = x + h * d
        if heun:  # trapezoidal corrector: second order at two evaluations per step
            x_next = x + 0.5 * h * (d + field(t_next, x_next))
        x = x_next
        states.append(x)
        if on_step:
            on_step(1)
    return states


def _dopri5(
    field: Field, x: torch.Tensor, ts: torch.Tensor, rtol: float, atol: float, on_step: OnStep
) -> list[torch.Tensor]:
    from torchdiffeq import odeint

    # ``ts`` only sets where the trajectory is reported; the step size is adaptive.
    states = list(odeint(field, x, ts, method="dopri5", rtol=rtol, atol=atol))
    if on_step:  # adaptive: the solver's own steps are not known ahead, so the reported points count
        on_step(len(ts) - 1)
    return states


@torch.no_grad()
def sample_ode(
    field: Field,
    noise: torch.Tensor,
    method: str = "euler",
    steps: int = 50,
    rtol: float = 1e-4,
    atol: float = 1e-4,
    return_trajectory: bool = False,
    on_step: OnStep = None,
    t_start: float = 0.0,
    t_end: float = 1.0,
    shift: float = 1.0,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    """Integrate ``field`` from ``noise`` at ``t_start`` (default 0) to ``t_end`` (default 1) over
    ``time_grid(steps, t_start, t_end, shift)``.

    ``t_start > t_end`` integrates backwards: images to noise (ODE inversion).
    Returns the final state, or ``(final, states)`` where states are the ``steps + 1`` points on the path
    (for dopri5: the solution at ``steps + 1`` evenly spaced times).
    """
    if method not in ODE_SAMPLERS:
        raise ValueError(f"unknown ODE sampler {method!r}; choose one of {list(ODE_SAMPLERS)}")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    # Built in float64 on the host, copied to the device once: no host-to-device copy per step.
    ts = time_grid(steps, t_start, t_end, shift).to(noise.device, torch.float32)
    if method == "dopri5":
        states = _dopri5(field, noise, ts, rtol, atol, on_step)
    else:
        states = _fixed_step(field, noise, ts, heun=method == "heun", on_step=on_step)
    return (states[-1], states) if return_trajectory else states[-1]
