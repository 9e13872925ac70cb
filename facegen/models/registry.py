"""Name -> builder table for denoising backbones, so configs pick a model by name.

A builder is called as ``builder(*, image_size, in_channels, cond_embedder=None, **options)`` and returns a
:class:`~facegen.models.backbone.Backbone`: ``net(x, t, cond=None, r=None, return_aux=False) -> prediction`` shaped
like x. A backbone that configs name also has its torch-free :class:`facegen.specs.BackboneSpec`: its options are
the ``model.<name>`` section, which the builder accepts with the shared keys it takes (size, grad_checkpointing),
and ``two_time`` where the spec allows it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

ModelBuilder = Callable[..., nn.Module]

MODEL_REGISTRY: dict[str, ModelBuilder] = {}

_BUILD_ARGUMENTS = ("image_size", "in_channels", "cond_embedder")


def register_model(name: str) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: ``@register_model("dit")`` above a builder function."""

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in MODEL_REGISTRY:
            raise ValueError(f"model {name!r} is already registered (by {MODEL_REGISTRY[name].__qualname__})")
        MODEL_REGISTRY[name] = builder
        return builder

    return decorator


def model_options(name: str) -> list[str]:
    """The options a registered builder accepts besides image_size, in_channels and cond_embedder."""
    parameters = inspect.signature(_lookup(name)).parameters.values()
    return [p.name for p in parameters if p.kind is p.KEYWORD_ONLY and p.name not in _BUILD_ARGUMENTS]


def build_model(
    name: str, *, image_size: int, in_channels: int = 3, cond_embedder: nn.Module | None = None, **options: Any
) -> nn.Module:
    builder = _lookup(name)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in inspect.signature(builder).parameters.values())
    unknown = sorted(set(options) - set(model_options(name)))
    if unknown and not accepts_any:
        # A typo in a config key should name itself rather than surface as a TypeError from deep inside.
        raise ValueError(f"model {name!r} got unknown option(s) {unknown}; it accepts {model_options(name)}")
    return builder(image_size=image_size, in_channels=in_channels, cond_embedder=cond_embedder, **options)


def count_parameters(model: nn.Module) -> int:
    """Number of parameter elements; buffers (fixed sin-cos tables, RoPE angles) are not counted."""
    return sum(p.numel() for p in model.parameters())


def _lookup(name: str) -> ModelBuilder:
    if name not in MODEL_REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered models: {sorted(MODEL_REGISTRY)}")
    return MODEL_REGISTRY[name]
