"""Discrete-time diffusion samplers: diffusers' schedulers driven by a plain model function.

They know only ``model_fn(x, timestep) -> output`` (integer timesteps [B], output in the training prediction type);
networks, conditioning and guidance live in the objective. Every scheduler is built from the training
DDPMScheduler's config, so it shares its betas and prediction type.
"""

from __future__ import annotations

from typing import Callable, Mapping

import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from facegen.samplers.ode import OnStep

ModelFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x, integer timesteps [B]) -> model output

# "trailing" spacing starts sampling at the last training timestep, where x_T really is (almost) pure noise;
# diffusers' default "leading" starts below it (Lin et al. 2023, "Common Diffusion Noise Schedules ... Flawed").
_INFERENCE_OPTIONS = {"timestep_spacing": "trailing"}
_SCHEDULERS: dict[str, tuple[type[SchedulerMixin], dict]] = {
    "ddpm": (DDPMScheduler, {}),
    "ddim": (DDIMScheduler, {}),
    "dpm++": (DPMSolverMultistepScheduler, {"algorithm_type": "dpmsolver++"}),
}
SCHEDULER_SAMPLERS = tuple(_SCHEDULERS)


def make_scheduler(name: str, train_config: Mapping) -> SchedulerMixin:
    """A fresh inference scheduler (they keep per-run state, e.g. DPM-Solver's past outputs) for sampler ``name``."""
    if name not in _SCHEDULERS:
        raise ValueError(f"unknown scheduler sampler {name!r}; choose one of {list(SCHEDULER_SAMPLERS)}")
    cls, options = _SCHEDULERS[name]
    return cls.from_config(train_config, **_INFERENCE_OPTIONS, **options)


def _check_steps(steps: int) -> None:
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")


@torch.no_grad()
def sample_scheduler(
    model_fn: ModelFn,
    noise: torch.Tensor,
    name: str = "ddim",
    steps: int = 50,
    *,
    train_config: Mapping,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    return_trajectory: bool = False,
    on_step: OnStep = None,
    start: float = 0.0,
) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
    """Denoise ``noise`` from the last training timestep down to an image.

    ``start`` in [0, 1) skips that fraction of the steps: the input is then a partly noised (or partly inverted)
    image, as an edit of strength ``1 - start`` produces.

    ``train_config`` is keyword-only and required: a scheduler that does not match training samples garbage.
    ``eta`` (DDIM only) blends in fresh noise: 0 is the deterministic DDIM ODE, 1 is DDPM-like. ``generator`` drives
    the noise of ddpm and ddim with eta > 0. Returns the image, or ``(image, states)`` with the ``steps + 1`` states
    from noise to image.
    """
    _check_steps(steps)
    if eta != 0.0 and name != "ddim":
        raise ValueError(f"eta applies only to the ddim sampler, not {name!r}")
    scheduler = make_scheduler(name, train_config)
    scheduler.set_timesteps(steps, device=noise.device)
    step_options = {"generator": generator} | ({"eta": eta} if name == "ddim" else {})
    x = noise
    states = [x]
    skip = steps - round(steps * (1.0 - start))
    for t in scheduler.timesteps[skip:]:
        output = model_fn(scheduler.scale_model_input(x, t), t.expand(x.shape[0]))
        x = scheduler.step(output, t, x, **step_options).prev_sample
        states.append(x)
        if on_step:
            on_step(1)
    return (x, states) if return_trajectory else x


@torch.no_grad()
def invert_ddim(
    model_fn: ModelFn,
    images: torch.Tensor,
    steps: int,
    train_config: Mapping,
    on_step: OnStep = None,
    strength: float = 1.0,
) -> torch.Tensor:
    """Run the deterministic DDIM ODE backwards, images -> latents at the last timestep, where sampling starts
    (or, with ``strength`` < 1, only that fraction of the way: where a sample with ``start = 1 - strength`` begins).

    As in diffusers' inversion pipelines, each step evaluates the model at the timestep it moves to: the first
    step starts from the clean image, which has no timestep of its own.
    """
    _check_steps(steps)
    scheduler = DDIMInverseScheduler.from_config(train_config, **_INFERENCE_OPTIONS)
    scheduler.set_timesteps(steps, device=images.device)
    x = images
    for t in scheduler.timesteps[: round(steps * strength)]:
        x = scheduler.step(model_fn(x, t.expand(x.shape[0])), t, x).prev_sample
        if on_step:
            on_step(1)
    return x
