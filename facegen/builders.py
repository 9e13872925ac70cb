"""Glue from a resolved :class:`Config` to the objects of each stage (model, objective, data)."""

from __future__ import annotations

import dataclasses

import torch.nn as nn

from facegen.config import Config
from facegen.models import build_model
from facegen.objectives import RectifiedFlow, build_objective


def model_from_config(cfg: Config) -> nn.Module:
    options = {k: v for k, v in dataclasses.asdict(cfg.model).items() if k != "name"}
    return build_model(cfg.model.name, image_size=cfg.data.image_size, in_channels=3, **options)


def objective_from_config(cfg: Config) -> RectifiedFlow:
    options = {k: v for k, v in dataclasses.asdict(cfg.objective).items() if k != "name"}
    return build_objective(cfg.objective.name, **options)


def cache_from_config(cfg: Config):
    """The decoded uint8 cache training reads from (built on first use)."""
    from facegen.data import download_celeba, load_or_build_cache

    if cfg.data.download and cfg.data.dataset == "celeba":
        download_celeba(cfg.data.root)
    return load_or_build_cache(
        cfg.data.dataset,
        cfg.data.root,
        cfg.data.split,
        cfg.data.image_size,
        cfg.data.crop,
        max_images=cfg.data.max_images,
        cache_dir=cfg.data.cache_dir,
        num_workers=cfg.data.num_workers,
    )
