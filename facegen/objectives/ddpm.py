"""DDPM (Ho et al. 2020): discrete-time Gaussian diffusion, as an EDM-style loss object with its samplers.

With integer timesteps k in [0, T) and abar_k the cumulative product of (1 - beta):

    x_k = sqrt(abar_k) * x_0 + sqrt(1 - abar_k) * eps,        v = sqrt(abar_k) * eps - sqrt(1 - abar_k) * x_0.

The network sees (x_k, t = k / T), so t near 1 is noisy (the opposite of rectified flow's direction, which the
backbone does not care about), and predicts eps or v. The noise schedule and all samplers are diffusers'
schedulers, built from one training DDPMScheduler so they share its betas and prediction type.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn
from diffusers import DDPMScheduler

from facegen.conditioning import Condition
from facegen.objectives.base import LossResult, Objective, training_loss
from facegen.samplers.schedulers import ModelFn, invert_ddim, sample_scheduler

_PREDICTION_TYPES = {"eps": "epsilon", "v": "v_prediction"}
_BETA_SCHEDULES = {"linear": "linear", "cosine": "squaredcos_cap_v2"}  # cosine: Nichol & Dhariwal 2021


class DDPM(Objective, name="ddpm"):
    """``eta``: the DDIM sampler's stochasticity (``sampler.eta``; 0 = the deterministic DDIM ODE)."""

    def __init__(
        self,
        prediction: Literal["eps", "v"] = "eps",
        schedule: Literal["linear", "cosine"] = "linear",
        num_train_timesteps: int = 1000,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        eta: float = 0.0,
    ) -> None:
        self.prediction = self._choice("prediction", prediction, self.predictions)
        self.schedule = self._choice("schedule", schedule, tuple(_BETA_SCHEDULES))
        self.eta = eta
        self.noise_scheduler = DDPMScheduler(
            num_train_timesteps=num_train_timesteps,
            beta_start=beta_start,
            beta_end=beta_end,
            beta_schedule=_BETA_SCHEDULES[schedule],
            prediction_type=_PREDICTION_TYPES[prediction],
            clip_sample=False,  # clamping x0 estimates to [-1, 1] would bend the ODE that inversion relies on
        )

    @property
    def num_train_timesteps(self) -> int:
        return self.noise_scheduler.config.num_train_timesteps

    def time(self, timesteps: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The network's time input t = k / T in [0, 1) for integer timesteps k."""
        return timesteps.to(dtype) / self.num_train_timesteps

    def net_times(self, lo: float, hi: float) -> tuple[float, float]:
        """t = k / T is near 1 at pure noise: ``lo``..``hi`` of the way to data is t in [1 - hi, 1 - lo]."""
        return 1.0 - hi, 1.0 - lo

    def loss(
        self, net: nn.Module, images: torch.Tensor, cond: Condition | None = None, return_parts: bool = False
    ) -> LossResult:
        noise = self.noise_like(images)
        timesteps = torch.randint(0, self.num_train_timesteps, (images.shape[0],), device=images.device)
        x_t = self.noise_scheduler.add_noise(images, noise, timesteps)
        if self.prediction == "eps":
            target = noise
        else:
            target = self.noise_scheduler.get_velocity(images, noise, timesteps)
        prediction, auxiliary, parts = net(x_t, self.time(timesteps), cond, return_aux=True)
        return training_loss((prediction.float() - target.float()).pow(2).mean(), auxiliary, parts, return_parts)

    def model_fn(self, denoiser: nn.Module) -> ModelFn:
        """What the scheduler loop calls: (x, integer timesteps) -> the (guided) denoiser's output."""

        def model_output(x: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
            return denoiser(x, self.time(timesteps, x.dtype))

        return model_output

    def _sample(self, denoiser, noise, method, steps, start, return_trajectory, on_step):
        """Images from ``noise`` (standard normal); with ``return_trajectory`` also the steps + 1 states."""
        return sample_scheduler(
            self.model_fn(denoiser),
            noise,
            method,
            steps,
            train_config=self.noise_scheduler.config,
            eta=self.eta if method == "ddim" else 0.0,  # eta belongs to DDIM; the other samplers have their own noise
            return_trajectory=return_trajectory,
            on_step=on_step,
            start=start,
        )

    def _invert(self, denoiser, images, steps, strength, on_step):
        """The noise that deterministic DDIM sampling (same steps, cond, guidance) maps back to ``images``; with
        ``strength`` < 1 the partly noised latent that sampling with ``start = 1 - strength`` maps back."""
        return invert_ddim(self.model_fn(denoiser), images, steps, self.noise_scheduler.config, on_step, strength)
