"""The DDPM objective's torch-free spec: its ``objective`` options, predictions and samplers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from facegen.specs import ObjectiveSpec, register_objective
from facegen.utils.bounds import Bound


@dataclass
class DDPMOptions:
    schedule: Literal["linear", "cosine"] = "linear"
    num_train_timesteps: int = 1000


DDPM = register_objective(
    ObjectiveSpec(
        name="ddpm",
        options=DDPMOptions,
        predictions=("eps", "v"),
        samplers=("ddim", "ddpm", "dpm++"),
        sampler_options=("eta",),
        bounds={"num_train_timesteps": Bound(2)},
    )
)
