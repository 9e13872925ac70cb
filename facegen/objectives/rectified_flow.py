"""Rectified flow (flow matching with straight paths), as an EDM-style loss object.

Convention (as the seeds): t = 0 is pure noise, t = 1 is data, and

    x_t = (1 - t) * noise + t * data,        velocity  v = dx_t/dt = data - noise.

The network sees (x_t, t) and predicts either v ("velocity") or the clean image ("x"); an x-prediction is turned
into a velocity through v = (x_hat - x_t) / (1 - t), with 1 - t clamped at ``t_eps`` so the division stays tame
near the data end. The loss is always the velocity MSE, so both parameterisations train the same field.
"""

from __future__ import annotations

import copy
from typing import Callable, Literal

import torch
import torch.nn as nn

from facegen.conditioning import Condition
from facegen.objectives.base import LossResult, Objective, training_loss
from facegen.samplers.ode import sample_ode

VelocityField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (t, x) -> v, t a scalar tensor


class RectifiedFlow(Objective, name="rectified_flow"):
    """``rtol``/``atol``: the tolerances of the adaptive dopri5 sampler (``sampler.rtol/atol``); ``time_shift``:
    where the fixed steps of sampling from noise fall (``sampler.time_shift``, ``ode.time_grid``). A photo's
    inversion and its regeneration from part way keep evenly spaced steps: measured, a shift there loses detail
    and identity in edits (docs/BENCHMARKS.md, "Where the steps fall")."""

    given_first_frame: float = 0.0  # clips: the share whose frame 0 the net sees clean (``video.given_first_frame``)

    def __init__(
        self,
        prediction: Literal["velocity", "x"] = "velocity",
        time_sampling: Literal["uniform", "logit_normal"] = "logit_normal",
        logit_mean: float = 0.0,
        logit_std: float = 1.0,
        t_eps: float = 0.05,
        rtol: float = 1e-4,
        atol: float = 1e-4,
        time_shift: float = 1.0,
    ) -> None:
        self.prediction = self._choice("prediction", prediction, self.predictions)
        self.time_sampling = self._choice("time_sampling", time_sampling, ("uniform", "logit_normal"))
        self.logit_mean = logit_mean
        self.logit_std = logit_std
        self.t_eps = t_eps
        self.rtol, self.atol = rtol, atol
        self.time_shift = time_shift

    def sample_time(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        if self.time_sampling == "uniform":
            return torch.rand(n, device=device)
        # Logit-normal (SD3): more training signal at intermediate t, where the velocity is hardest to predict.
        return torch.sigmoid(self.logit_mean + self.logit_std * torch.randn(n, device=device))

    def with_given_first_frame(self, share: float) -> "RectifiedFlow":
        """This objective training a clip model to continue a given frame: in ``share`` of the clips frame 0 sits
        at t = 1 (clean) while the others are noised at the clip's t, and only those others are scored."""
        if not 0 <= share <= 1:
            raise ValueError(f"given first frame share {share}: must lie in [0, 1]")
        objective = copy.copy(self)
        objective.given_first_frame = float(share)
        return objective

    def frame_times(self, t: torch.Tensor, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Times for ``images`` from one t per sample: per frame [B, T] with frame 0 at 1 in the clips given their
        first frame, and the [B, T] mask of frames the loss scores; images, or nothing given: (t, None)."""
        if not self.given_first_frame or images.dim() != 5:
            return t, None
        given = torch.rand(len(t), device=t.device) < self.given_first_frame
        times = t[:, None].repeat(1, images.shape[1])
        times[:, 0] = torch.where(given, torch.ones_like(t), t)
        scored = torch.ones_like(times)
        scored[:, 0] = (~given).to(times.dtype)
        return times, scored

    @staticmethod
    def broadcast(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """t per sample [B] (or per frame [B, T]) shaped to multiply ``like``."""
        return t.view(*t.shape, *([1] * (like.dim() - t.dim())))

    @classmethod
    def interpolate(cls, noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = cls.broadcast(t, data)
        return (1 - t) * noise + t * data

    def velocity(self, net: nn.Module, x: torch.Tensor, t: torch.Tensor, cond: Condition | None = None) -> torch.Tensor:
        """The network's velocity estimate at (x, t), whatever it was trained to predict."""
        return self.to_velocity(net(x, t, cond), x, t)

    def to_velocity(self, out: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The velocity a network output at (x, t) stands for."""
        if self.prediction == "velocity":
            return out
        t = self.broadcast(t, x)
        return (out - x) / (1 - t).clamp_min(self.t_eps)

    def loss(
        self, net: nn.Module, images: torch.Tensor, cond: Condition | None = None, return_parts: bool = False
    ) -> LossResult:
        noise = self.noise_like(images)
        t, scored = self.frame_times(self.sample_time(images.shape[0], images.device), images)
        x_t = self.interpolate(noise, images, t)
        target = images - noise
        out, auxiliary, parts = net(x_t, t, cond, return_aux=True)
        error = (self.to_velocity(out, x_t, t).float() - target.float()).pow(2)
        if scored is None:
            mse = error.mean()
        else:  # frames given clean are inputs, not predictions
            mse = (error.mean(dim=(2, 3, 4)) * scored).sum() / scored.sum().clamp_min(1)
        return training_loss(mse, auxiliary, parts, return_parts)

    def field(self, denoiser: nn.Module) -> VelocityField:
        """The ODE right-hand side dx/dt of a (guided) denoiser, for the samplers, which know nothing about
        networks."""

        def velocity_field(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return self.velocity(denoiser, x, t.expand(x.shape[0]).to(x.dtype))

        return velocity_field

    def _sample(self, denoiser, noise, method, steps, start, return_trajectory, on_step):
        """Noise (or a partly inverted image at time ``start``) -> images at t = 1."""
        field = self.field(denoiser)
        shift = self.time_shift if start == 0 else 1.0  # from part way: the inversion's even grid, walked back
        return sample_ode(
            field, noise, method, steps, self.rtol, self.atol, return_trajectory, on_step, start, shift=shift
        )

    def _invert(self, denoiser, images, steps, strength, on_step):
        """ODE inversion with Heun (deterministic, second order): from the images (t = 1) back to t = 1 - strength
        (1: pure noise)."""
        field = self.field(denoiser)
        return sample_ode(field, images, "heun", steps, on_step=on_step, t_start=1.0, t_end=1.0 - strength)
