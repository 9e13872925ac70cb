"""The rectified-flow objective's torch-free spec: its ``objective`` options, predictions and samplers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facegen.specs import ObjectiveSpec, register_objective
from facegen.utils.bounds import Bound


@dataclass
class RectifiedFlowOptions:
    time_sampling: Literal["uniform", "logit_normal"] = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = 1.0


RECTIFIED_FLOW = register_objective(
    ObjectiveSpec(
        name="rectified_flow",
        options=RectifiedFlowOptions,
        predictions=("velocity", "x"),
        samplers=("heun", "euler", "dopri5"),
        sampler_options=("rtol", "atol", "time_shift"),
        bounds={"logit_std": Bound(0, low_open=True)},
    )
)
