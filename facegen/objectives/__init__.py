"""Training objectives: loss objects ``(net, images, cond) -> loss`` plus the samplers they allow (one
:class:`Objective` interface; each name's torch-free spec lives in ``facegen.specs``; a subclass of
``base.Objective`` registers itself in ``OBJECTIVES``)."""

from facegen.objectives.base import OBJECTIVES, Objective
from facegen.objectives.ddpm import DDPM
from facegen.objectives.rectified_flow import RectifiedFlow, VelocityField


def build_objective(name: str = "rectified_flow", **options) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name](**options)


__all__ = ["DDPM", "OBJECTIVES", "Objective", "RectifiedFlow", "VelocityField", "build_objective"]
