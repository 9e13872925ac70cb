"""What every training objective provides, so the trainer, pipeline and scoring never ask which one they hold."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
import torch.nn as nn

from facegen.conditioning import Condition
from facegen.samplers.ode import OnStep
from facegen.specs import objective_spec, sampler_problem

LossResult = torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]


@runtime_checkable
class Objective(Protocol):
    name: str
    samplers: tuple[str, ...]  # from its spec (facegen.specs), the default first
    default_sampler: str

    def loss(
        self, net: nn.Module, images: torch.Tensor, cond: Condition | None = None, return_parts: bool = False
    ) -> LossResult:
        """The training loss of one batch: the objective's own plus the auxiliary terms the net's forward returned
        (``net(..., return_aux=True)``); with ``return_parts`` also those terms' parts, for the logs."""
        ...

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


OBJECTIVES: dict[str, type] = {}  # objective name -> class, filled by SamplerChoice's subclasses


class SamplerChoice:
    """Base of the objectives: ``class DDPM(SamplerChoice, name="ddpm")`` reads its samplers from its registered
    spec (``facegen.specs``) and registers the class in ``OBJECTIVES`` under that name."""

    name: str
    samplers: tuple[str, ...]
    default_sampler: str

    def __init_subclass__(cls, name: str, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if name in OBJECTIVES:
            raise ValueError(f"objective {name!r} is already registered (by {OBJECTIVES[name].__qualname__})")
        cls.name, cls.samplers = name, objective_spec(name).samplers
        cls.default_sampler = cls.samplers[0]
        OBJECTIVES[name] = cls

    def _sampler(self, sampler: str | None) -> str:
        """The sampler to use (None: the default); one this objective cannot use is an error saying which can."""
        if sampler is None:
            return self.default_sampler
        problem = sampler_problem(self.name, sampler)
        if problem:
            raise ValueError(f"sampler {problem}")
        return sampler


def training_loss(
    loss: torch.Tensor, auxiliary: torch.Tensor | float, parts: dict[str, torch.Tensor], return_parts: bool
) -> LossResult:
    """The objective's loss plus the net's auxiliary terms, and their parts with ``return_parts``."""
    total = loss + auxiliary
    return (total, parts) if return_parts else total
