"""Glue from a resolved :class:`Config` to the objects of each stage (model, embedder, objective, data)."""

from __future__ import annotations

import dataclasses
import warnings

import torch.nn as nn

from facegen.config import Config, ModelConfig
from facegen.models import build_model, model_options


def embedder_from_config(cfg: Config) -> nn.Module | None:
    if cfg.conditioning.type == "none":
        return None
    from facegen.conditioning.attributes import AttributeEmbedder

    dim = cfg.conditioning.dim
    if cfg.model.name == "dit":  # the DiT adds the pooled vector to its timestep embedding: same width
        from facegen.models.dit import DIT_PRESETS

        dim = cfg.model.hidden_size or DIT_PRESETS[cfg.model.size].hidden_size
    return AttributeEmbedder(dim or 256)


def model_from_config(cfg: Config) -> nn.Module:
    """The backbone named by ``model.name``, given only the options its builder takes."""
    accepted = set(model_options(cfg.model.name))
    defaults = ModelConfig()
    options = {}
    for key, value in dataclasses.asdict(cfg.model).items():
        if key == "name" or value is None:
            continue
        if key in accepted:
            options[key] = value
        elif value != getattr(defaults, key):  # e.g. a DiT patch size left in a config switched to model.name=unet
            warnings.warn(f"model.{key}={value!r} does not apply to model.name={cfg.model.name!r}: ignored", stacklevel=2)
    return build_model(
        cfg.model.name, image_size=cfg.data.image_size, in_channels=3, cond_embedder=embedder_from_config(cfg), **options
    )


def objective_from_config(cfg: Config):
    from facegen.objectives import build_objective

    oc = cfg.objective
    if oc.name == "rectified_flow":
        options = dict(time_sampling=oc.time_sampling, logit_mean=oc.logit_mean, logit_std=oc.logit_std)
    else:
        options = dict(schedule=oc.schedule, num_train_timesteps=oc.num_train_timesteps)
    if oc.prediction is not None:
        options["prediction"] = oc.prediction
    return build_objective(oc.name, **options)


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
