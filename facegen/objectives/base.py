"""What every training objective provides, so the trainer, pipeline and scoring never ask which one they hold."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
import torch.nn as nn

from facegen.conditioning import Condition
from facegen.objective_names import OBJECTIVE_CHOICES, sampler_problem
from facegen.samplers.ode import OnStep


@runtime_checkable
class Objective(Protocol):
    name: str
    samplers: tuple[str, ...]  # from facegen.objective_names, the default first
    default_sampler: str

    def loss(self, net: nn.Module, images: torch.Tensor, cond: Condition | None = None) -> torch.Tensor: ...

    def sample(
        self,
        net: nn.Module,
        noise: torch.Tensor,
        sampler: str | None = None,
        steps: int = 50,
        cond: Condition | None = None,
        guidance: float = 1.0,
        return_trajectory: bool = False,
        on_step: OnStep = None,
        start: float = 0.0,
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """Images from ``noise`` (or, from ``start`` > 0, from a partly inverted image); ``sampler`` None: the
        default; with ``return_trajectory`` also the states along the way."""
        ...

    def invert(
        self,
        net: nn.Module,
        images: torch.Tensor,
        steps: int = 50,
        cond: Condition | None = None,
        guidance: float = 1.0,
        on_step: OnStep = None,
        strength: float = 1.0,
    ) -> torch.Tensor:
        """The latent that deterministic sampling from ``start = 1 - strength`` maps back to ``images``."""
        ...


class SamplerChoice:
    """Base of the objectives: ``class DDPM(SamplerChoice, name="ddpm")`` reads its samplers from the table."""

    name: str
    samplers: tuple[str, ...]
    default_sampler: str

    def __init_subclass__(cls, name: str, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.name, cls.samplers = name, OBJECTIVE_CHOICES[name]["sampler"]
        cls.default_sampler = cls.samplers[0]

    def _sampler(self, sampler: str | None) -> str:
        """The sampler to use (None: the default); one this objective cannot use is an error saying which can."""
        if sampler is None:
            return self.default_sampler
        problem = sampler_problem(self.name, sampler)
        if problem:
            raise ValueError(f"sampler {problem}")
        return sampler
