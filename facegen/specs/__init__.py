"""What config validation, the builders and personalization need to know about each backbone and each objective,
registered once per name and torch-free (loading a config or parsing arguments never imports torch).

A backbone is a :class:`BackboneSpec` (its ``model.<name>`` options dataclass with their bounds, size presets, how
conditioning enters it, its LoRA targets) plus a builder in ``facegen.models.MODEL_REGISTRY`` under the same name;
an objective is an :class:`ObjectiveSpec` (its flat ``objective.<key>`` options with bounds, predictions, samplers,
the ``sampler.<key>`` options it takes) plus a class in ``facegen.objectives.OBJECTIVES``. ``facegen.config`` builds
its ``model`` and ``objective`` sections from these tables, so a registered name is a valid config at once.

Importing this package registers the shipped ones (``dit``, ``unet``; ``rectified_flow``, ``ddpm``).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from facegen.utils.bounds import Bound


@dataclass(frozen=True)
class TemporalSites:
    """The blocks of a backbone that a video model follows with a temporal layer (``facegen.models.temporal``):
    the one documented list of a backbone's insides that the video wrapper may touch."""

    blocks: tuple[str, ...]  # module names; a "*" stands for one index (no dots)
    layout: str  # what those blocks return: "tokens" [N, L, D] or "maps" [N, C, H, W]
    width: str  # the block's attribute holding that output's width (D or C)

    def __post_init__(self) -> None:
        if self.layout not in ("tokens", "maps") or not self.blocks:
            raise ValueError(f"temporal sites: layout must be 'tokens' or 'maps' and blocks non-empty, got {self}")


@dataclass(frozen=True)
class BackboneSpec:
    name: str  # model.name
    options: type  # dataclass of the model.<name> section; its builder accepts every field
    sizes: tuple[str, ...]  # model.size presets
    label: str = ""  # how `facegen models` names it (default: name)
    bounds: dict[str, Bound] = field(default_factory=dict)  # option -> range (a list option bounds each item)
    # Conditioning enters as one pooled vector only: the embedders build no token layers (they would get no grads).
    vector_only: bool = False
    # The condition embedder's width the backbone needs, from (options, size); None: conditioning.dim (or 256).
    conditioning_width: Callable[[Any, str], int | None] | None = None
    two_time: bool = False  # its builder takes two_time=True: net(x, t, cond, r) with a second time r
    lora_targets: tuple[str, ...] = ()  # module-name patterns personalization's LoRA adapts by default
    # Checks that need the denoised (latent) side: (options, latent size) -> message, or None when it fits.
    check: Callable[[Any, int], str | None] | None = None
    describe: Callable[[Any], str] | None = None  # a suffix of `facegen models`' name (the DiT's "/2")
    flat_keys: bool = False  # older configs kept this section's options flat (model.patch_size): still read
    temporal: TemporalSites | None = None  # where a video model adds temporal layers (None: no video models)

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.options):
            raise TypeError(f"backbone {self.name!r}: options must be a dataclass, got {self.options!r}")
        unknown = set(self.bounds) - {f.name for f in dataclasses.fields(self.options)}
        if unknown or not self.sizes:
            raise ValueError(f"backbone {self.name!r}: bounds of unknown options {sorted(unknown)} or no sizes")


@dataclass(frozen=True)
class ObjectiveSpec:
    name: str  # objective.name
    options: type  # dataclass of its objective.<key> options (flat beside name and prediction; shared keys agree)
    predictions: tuple[str, ...]  # the first is the default (objective.prediction: null)
    samplers: tuple[str, ...]  # the first is the default (sampler.name: null)
    sampler_options: tuple[str, ...] = ()  # sampler.<key>s its constructor takes (dopri5's rtol/atol, DDIM's eta)
    bounds: dict[str, Bound] = field(default_factory=dict)
    # Trains net(x, t, cond, r): the backbone is built with two_time=True (its spec must allow it).
    two_time: bool = False

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.options):
            raise TypeError(f"objective {self.name!r}: options must be a dataclass, got {self.options!r}")
        if not self.predictions or not self.samplers:
            raise ValueError(f"objective {self.name!r}: needs at least one prediction and one sampler")


BACKBONES: dict[str, BackboneSpec] = {}
OBJECTIVES: dict[str, ObjectiveSpec] = {}
_listeners: list[Callable[[], None]] = []  # facegen.config rebuilds its model/objective sections


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener()`` after every registration or removal (config's sections follow the tables)."""
    _listeners.append(listener)


def _changed() -> None:
    for listener in _listeners:
        listener()


def register_backbone(spec: BackboneSpec) -> BackboneSpec:
    _add(BACKBONES, spec, "backbone")
    return spec


def register_objective(spec: ObjectiveSpec) -> ObjectiveSpec:
    for other in OBJECTIVES.values():  # the objective section is flat: a key two objectives share must agree
        mine, theirs = _fields(spec.options), _fields(other.options)
        clash = [k for k in mine.keys() & theirs.keys() if mine[k] != theirs[k]]
        if clash:
            raise ValueError(f"objective {spec.name!r}: options {clash} differ from {other.name!r}'s of that name")
    _add(OBJECTIVES, spec, "objective")
    return spec


def unregister(name: str) -> None:
    """Remove a backbone or objective registered under ``name`` (tests that register a toy clean up with it)."""
    BACKBONES.pop(name, None)
    OBJECTIVES.pop(name, None)
    _changed()


def _add(table: dict, spec: Any, kind: str) -> None:
    if spec.name in table:
        raise ValueError(f"{kind} {spec.name!r} is already registered")
    table[spec.name] = spec
    _changed()


def _fields(options: type) -> dict[str, tuple[Any, Any]]:
    return {f.name: (str(f.type), f.default) for f in dataclasses.fields(options)}


def preset_with(presets: dict[str, Any], size: str, label: str, **overrides: Any) -> dict[str, Any]:
    """A size preset's fields as keywords, each override that is not None replacing the preset's value."""
    if size not in presets:
        raise ValueError(f"unknown {label} size {size!r}; presets: {list(presets)}")
    chosen = dataclasses.asdict(presets[size])
    return chosen | {k: v for k, v in overrides.items() if v is not None}


def backbone_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ValueError(f"unknown model {name!r}; registered models: {sorted(BACKBONES)}")
    return BACKBONES[name]


def objective_spec(name: str) -> ObjectiveSpec:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[name]


def all_samplers() -> tuple[str, ...]:
    """Every registered objective's samplers, each once, in registration order."""
    return tuple(dict.fromkeys(s for spec in OBJECTIVES.values() for s in spec.samplers))


def sampler_problem(objective: str, sampler: str) -> str | None:
    """Why ``sampler`` cannot sample an ``objective`` model (None when it can)."""
    allowed = OBJECTIVES[objective].samplers
    if sampler in allowed:
        return None
    owner = next((spec.name for spec in OBJECTIVES.values() if sampler in spec.samplers), None)
    why = f"a {owner} sampler" if owner else "an unknown sampler"
    return f"{sampler!r} is {why}; {objective} samples with one of {list(allowed)}"


# The shipped backbones and objectives register themselves, in this order (the order of config keys and choices).
for _module in ("dit", "unet", "rectified_flow", "ddpm"):
    importlib.import_module(f"facegen.specs.{_module}")
