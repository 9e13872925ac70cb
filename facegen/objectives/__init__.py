"""Training objectives: loss objects ``(net, images, cond) -> loss`` plus the sampling field they imply."""

from facegen.objectives.ddpm import DDPM
from facegen.objectives.rectified_flow import RectifiedFlow, VelocityField

OBJECTIVES = {"rectified_flow": RectifiedFlow, "ddpm": DDPM}


def build_objective(name: str = "rectified_flow", **options) -> RectifiedFlow | DDPM:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name](**options)


__all__ = ["DDPM", "OBJECTIVES", "RectifiedFlow", "VelocityField", "build_objective"]
