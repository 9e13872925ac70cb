"""Training objectives: loss objects ``(net, images, cond) -> loss`` plus the sampling field they imply."""

from facegen.objectives.rectified_flow import RectifiedFlow, VelocityField

OBJECTIVES = {"rectified_flow": RectifiedFlow}


def build_objective(name: str = "rectified_flow", **options) -> RectifiedFlow:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name](**options)


__all__ = ["OBJECTIVES", "RectifiedFlow", "VelocityField", "build_objective"]
