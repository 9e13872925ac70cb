"""Rectified flow (flow matching with straight paths), as an EDM-style loss object.

Convention (as the seeds): t = 0 is pure noise, t = 1 is data, and

    x_t = (1 - t) * noise + t * data,        velocity  v = dx_t/dt = data - noise.

The network sees (x_t, t) and predicts either v ("velocity") or the clean image ("x"); an x-prediction is turned
into a velocity through v = (x_hat - x_t) / (1 - t), with 1 - t clamped at ``t_eps`` so the division stays tame
near the data end. The loss is always the velocity MSE, so both parameterisations train the same field.
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn as nn

from facegen.conditioning import Condition
from facegen.objectives.base import LossResult, Objective, training_loss
from facegen.samplers.ode import sample_ode

VelocityField = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (t, x) -> v, t a scalar tensor


class RectifiedFlow(Objective, name="rectified_flow"):
    """``rtol``/``atol``: the tolerances of the adaptive dopri5 sampler (``sampler.rtol/atol``)."""

    def __init__(
        self,
        prediction: Literal["velocity", "x"] = "velocity",
        time_sampling: Literal["uniform", "logit_normal"] = "logit_normal",
        logit_mean: float = 0.0,
        logit_std: float = 1.0,
        t_eps: float = 0.05,
        rtol: float = 1e-4,
        atol: float = 1e-4,
    ) -> None:
        self.prediction = self._choice("prediction", prediction, self.predictions)
        self.time_sampling = self._choice("time_sampling", time_sampling, ("uniform", "logit_normal"))
        self.logit_mean = logit_mean
        self.logit_std = logit_std
        self.t_eps = t_eps
        self.rtol, self.atol = rtol, atol

    def sample_time(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        if self.time_sampling == "uniform":
            return torch.rand(n, device=device)
        # Logit-normal (SD3): more training signal at intermediate t, where the velocity is hardest to predict.
        return torch.sigmoid(self.logit_mean + self.logit_std * torch.randn(n, device=device))

    @staticmethod
    def interpolate(noise: torch.Tensor, data: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = t.view(-1, *([1] * (data.dim() - 1)))
        return (1 - t) * noise + t * data

    def velocity(self, net: nn.Module, x: torch.Tensor, t: torch.Tensor, cond: Condition | None = None) -> torch.Tensor:
        """The network's velocity estimate at (x, t), whatever it was trained to predict."""
        return self.to_velocity(net(x, t, cond), x, t)

    def to_velocity(self, out: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The velocity a network output at (x, t) stands for."""
        if self.prediction == "velocity":
            return out
        t = t.view(-1, *([1] * (x.dim() - 1)))
        return (out - x) / (1 - t).clamp_min(self.t_eps)

    def loss(
        self, net: nn.Module, images: torch.Tensor, cond: Condition | None = None, return_parts: bool = False
    ) -> LossResult:
        noise = self.noise_like(images)
        t = self.sample_time(images.shape[0], images.device)
        x_t = self.interpolate(noise, images, t)
        target = images - noise
        out, auxiliary, parts = net(x_t, t, cond, return_aux=True)
        mse = (self.to_velocity(out, x_t, t).float() - target.float()).pow(2).mean()
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
        return sample_ode(field, noise, method, steps, self.rtol, self.atol, return_trajectory, on_step, t_start=start)

    def _invert(self, denoiser, images, steps, strength, on_step):
        """ODE inversion with Heun (deterministic, second order): from the images (t = 1) back to t = 1 - strength
        (1: pure noise)."""
        field = self.field(denoiser)
        return sample_ode(field, images, "heun", steps, on_step=on_step, t_start=1.0, t_end=1.0 - strength)
