"""One typed config for every run: loaded from YAML, overridden with dotted ``key=value``, validated, saved resolved.

cfg = load_config("configs/celeba32_tiny.yaml", ["train.lr=1e-4", "model.size=small", "model.dit.patch_size=2"])
save_config(cfg, run_dir / "config.yaml")   # enough to rebuild the run without the original YAML
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from facegen.autoencoder_names import AUTOENCODER_DOWNSAMPLE
from facegen.conditioning_names import CONDITIONING_TYPES
from facegen.objective_names import default_sampler
from facegen.specs import BACKBONES, OBJECTIVES, all_samplers, on_change, sampler_problem
from facegen.specs.dit import DiTOptions  # noqa: F401  (the backbones' options live with their specs)
from facegen.specs.unet import UNetOptions  # noqa: F401
from facegen.utils import strict_yaml
from facegen.utils.bounds import NON_NEGATIVE, POSITIVE, PROBABILITY, Bound


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key and what is allowed."""


CELEBA_CROP = 178  # CelebA's official centre crop of its aligned 178x218 faces (rows 20..197)


@dataclass
class DataConfig:
    dataset: Literal["celeba", "celebahq", "folder"] = "celeba"
    root: str = "$FACEGEN_DATA_ROOT/celeba"  # facegen.data.roots: ../shared/data when unset
    split: Literal["train", "valid", "test", "all"] = "train"
    image_size: int = 32
    crop: int | None = CELEBA_CROP  # None = largest central square
    flip: bool = True
    max_images: int | None = None
    cache_dir: str | None = None  # default: $FACEGEN_CACHE_DIR or ~/.cache/facegen (facegen.utils.io.cache_root)
    num_workers: int = 2
    download: bool = False


class ModelConfig:
    """Keys every backbone shares, then one section per registered backbone (``facegen.specs``); only
    ``model.<name>``'s section is built. A dataclass made from the registry by :func:`_rebuild_sections`.

    Older configs kept the shipped backbones' options flat (``model.patch_size``); they still load (see
    :func:`_nest_model_keys`) and are saved in this nested form.
    """


# The keys every backbone shares (a builder takes those it accepts besides its own section).
_SHARED_MODEL_KEYS: list[tuple[str, type, Any]] = [
    ("name", str, "dit"),
    ("size", str, "small"),
    ("grad_checkpointing", bool, False),
]


@dataclass
class AutoencoderConfig:
    """Where the diffusion runs: pixels (identity) or the latents of a frozen pretrained autoencoder."""

    name: Literal["identity", "taef2", "kl"] = "identity"
    path: str | None = None  # weights folder (taef2: default ../shared/weights/taef2; kl: a diffusers folder)


@dataclass
class ConditioningConfig:
    type: str = "none"  # a registered conditioning kind: facegen.conditioning_names lists them
    cfg_dropout: float = 0.1  # probability of training the unconditional branch (condition dropped)
    max_mask_rate: float = 1.0  # each sample hides a U[0, max_mask_rate] fraction of its attributes
    dim: int | None = None  # embedder width; null = the DiT's hidden size, or 256 for the UNet
    text_encoder: Literal["minilm", "clip"] = "minilm"
    text_encoder_path: str | None = None  # clip: a local transformers folder
    max_text_length: int = 32
    text_dim: int | None = None  # filled in from the text encoder when training starts
    # Conditional autoencoder (attributes only): >0 trains a VAE encoder jointly whose code of the face is an
    # extra condition; edits then keep the face's code (see facegen/conditioning/semantic.py).
    semantic_dim: int = 0
    semantic_dropout: float = 0.5  # fraction of faces trained without their code (generation needs none)
    semantic_kl_weight: float = 1e-4
    semantic_attribute_weight: float = 0.1


class ObjectiveConfig:
    """``objective.name``, ``objective.prediction`` (null: the objective's first), then every registered objective's
    options, flat (``objective.schedule``, ``objective.time_sampling``); only the named objective's are used."""


@dataclass
class SamplerConfig:
    name: str | None = None  # null: the objective's default (heun / ddim); facegen.objective_names lists them
    steps: int = 50
    cfg_scale: float = 1.0  # classifier-free guidance for conditional models (1 = off)
    # [lo, hi]: guide only from lo to hi of the way from noise (0) to data (1); null: all the way
    guidance_interval: list[float] | None = None
    # autoguidance on top of cfg_scale: a bundled model's name (`facegen models`; never a path: a model folder may
    # come from anyone) whose weaker predictions are pushed away from with guide_weight (1 = off); null: none
    guide: str | None = None
    guide_weight: float = 2.0
    eta: float = 0.0  # DDIM stochasticity (ddpm objective, ddim sampler)
    rtol: float = 1e-4  # tolerances of the adaptive dopri5 sampler (rectified_flow)
    atol: float = 1e-4
    # where rectified flow's fixed steps from noise fall: noise levels 1 - t shifted as SD3's sigma shift (>1: more
    # steps near the noise; 1: evenly spaced); a photo's inversion and regeneration stay evenly spaced
    time_shift: float = 1.0


# sampler.<key>s only some objectives take: the value that means "not used", and what the key is
OBJECTIVE_SAMPLER_OPTIONS = {"eta": (0.0, "DDIM's noise"), "time_shift": (1.0, "where the fixed steps fall")}


@dataclass
class TrainConfig:
    batch_size: int = 64  # global, per optimizer step: split across processes, then into grad_accum micro-batches
    grad_accum: int = 1  # micro-batches per optimizer step: the same update with 1/grad_accum of the activations
    max_steps: int = 10_000
    max_minutes: float | None = None  # wall-clock budget; the run checkpoints and stops when it is spent
    lr: float = 3e-4
    min_lr: float = 0.0
    warmup_steps: int = 500
    lr_schedule: Literal["cosine", "constant"] = "cosine"
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    # auto: bf16 on CUDA when supported, on CPU only with native bf16 (AMX / AVX-512 BF16), else fp32
    mixed_precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    num_threads: int | None = None  # CPU threads; null: $OMP_NUM_THREADS, else every core this process may use
    compile: bool = False
    log_every: int = 50
    sample_every: int = 1000
    ckpt_every: int = 1000
    keep_every: int = 10_000  # checkpoints at multiples of this are kept forever; others are pruned
    num_sample_images: int = 16
    # a pretrained model name or exported model folder whose (EMA) weights start this run: model and EMA begin
    # there, optimizer and step begin anew; a resumed run ignores it (its checkpoint already holds the weights)
    init_from: str | None = None


@dataclass
class EvalConfig:
    """Evaluation during training: every ``every`` steps, score EMA samples and keep the best checkpoint."""

    every: int = 0  # steps between evaluations (0 = never)
    metrics: list[str] = field(default_factory=lambda: ["fd_attr"])
    best_metric: str = "fd_attr"
    num_samples: int = 500
    ref: str = "celeba:valid"
    max_reference_images: int | None = 2000
    steps: int | None = None  # sampler steps (null: sampler.steps)
    inception_weights: str | None = None  # for fid/kid offline (or $FACEGEN_INCEPTION_WEIGHTS)


@dataclass
class VideoConfig:
    """A video model (docs/VIDEO.md, "Temporal layers"): the image backbone with a temporal layer after each block
    its spec lists, trained on clips of ``frames`` frames. ``frames: null`` (the default) trains an image model."""

    frames: int | None = None  # frames per training clip; null: an image model
    # self-attention over the frames, a 1-D convolution along them, or a depthwise 3x3x3 one over frames and positions
    temporal: Literal["attention", "conv", "conv3d"] = "attention"
    head_dim: int = 32  # temporal attention: width of each head (divides every temporal layer's width)
    alpha_init: float = 0.5  # the learned spatial weight alpha at the start (the output still equals the image model)
    # Each frame's noise shares this much variance with one draw per clip (PYoCo's mixed prior), in training and
    # sampling alike; 0: independent frames. Near 1 the untrained model already makes one face per clip.
    noise_correlation: float = 0.0
    # [dx, dy] latent pixels per frame: that shared draw moves this way from frame to frame (warped noise, as in
    # Go-with-the-Flow), so the noise carries a camera motion; [0, 0]: it stays put (PYoCo)
    noise_shift: list[int] = field(default_factory=lambda: [0, 0])
    train_spatial: bool = False  # false: the image model's weights stay frozen; only temporal layers learn
    # The share of training clips whose frame 0 the net is given clean (at the data end of time), scored on the
    # others only: it learns to continue a given frame (image-to-video, as diffusion forcing's per-frame times);
    # `sample --first-frame` then gives the photo that way. 0: frame 0 is noised like the rest (rectified flow only)
    given_first_frame: float = 0.0
    clips: Literal["camera_motion", "videos"] = "camera_motion"  # clips rendered from data.* photos, or real videos
    videos: str | None = None  # clips: videos: a folder of face videos (MP4, WebM, ...)
    frame_stride: int = 1  # clips: videos: keep every n-th frame
    # camera_motion: each clip's motion is drawn once, uniformly up to these (per frame, at data.image_size)
    pan: float = 1.5  # pixels per frame
    # null: each clip pans in a uniform direction at a speed uniform up to video.pan; degrees (0: rightwards, 90:
    # downwards): every clip pans exactly video.pan this way (one motion to learn; data.flip: false keeps it one)
    pan_angle: float | None = None
    zoom: float = 0.02  # relative scale change per frame
    rotation: float = 1.0  # degrees per frame
    view: float = 140 / 178  # the camera's view, a share of CelebA's 178 crop (1: the framing of data.crop=178)


@dataclass
class Config:
    exp_name: str = "facegen"
    output_dir: str = "runs"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    model: ModelConfig = field(default_factory=lambda: ModelConfig())  # the current registry's class
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    objective: ObjectiveConfig = field(default_factory=lambda: ObjectiveConfig())
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    video: VideoConfig = field(default_factory=VideoConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.exp_name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Every numeric key with a limit (null stays allowed where the type allows it); list keys bound each item. The
# backbones' and objectives' own keys are added from their specs (model.dit.patch_size, objective.logit_std).
_FIXED_BOUNDS: dict[str, Bound] = {
    "seed": Bound(0, 2**32 - 1),
    "data.image_size": Bound(8, 4096),
    "data.crop": POSITIVE,
    "data.max_images": POSITIVE,
    "data.num_workers": NON_NEGATIVE,
    "conditioning.cfg_dropout": PROBABILITY,
    "conditioning.max_mask_rate": Bound(0, 1),
    "conditioning.dim": POSITIVE,
    "conditioning.max_text_length": POSITIVE,
    "conditioning.text_dim": POSITIVE,
    "conditioning.semantic_dim": NON_NEGATIVE,
    "conditioning.semantic_dropout": PROBABILITY,
    "conditioning.semantic_kl_weight": NON_NEGATIVE,
    "conditioning.semantic_attribute_weight": NON_NEGATIVE,
    "sampler.steps": POSITIVE,
    "sampler.cfg_scale": NON_NEGATIVE,
    "sampler.guide_weight": NON_NEGATIVE,
    "sampler.eta": Bound(0, 1),
    "sampler.rtol": Bound(0, low_open=True),
    "sampler.atol": Bound(0, low_open=True),
    "sampler.time_shift": Bound(0, low_open=True),
    "train.batch_size": POSITIVE,
    "train.grad_accum": POSITIVE,
    "train.max_steps": POSITIVE,
    "train.max_minutes": Bound(0, low_open=True),
    "train.lr": Bound(0, low_open=True),
    "train.min_lr": NON_NEGATIVE,
    "train.warmup_steps": NON_NEGATIVE,
    "train.weight_decay": NON_NEGATIVE,
    "train.beta1": PROBABILITY,
    "train.beta2": PROBABILITY,
    "train.grad_clip": NON_NEGATIVE,
    "train.ema_decay": PROBABILITY,
    "train.num_threads": POSITIVE,
    "train.log_every": POSITIVE,
    "train.sample_every": NON_NEGATIVE,
    "train.ckpt_every": POSITIVE,
    "train.keep_every": POSITIVE,
    "train.num_sample_images": POSITIVE,
    "eval.every": NON_NEGATIVE,
    "eval.num_samples": Bound(2),
    "eval.max_reference_images": POSITIVE,
    "eval.steps": POSITIVE,
    "video.frames": Bound(2, 64),
    "video.head_dim": POSITIVE,
    "video.alpha_init": Bound(0, 1, low_open=True, high_open=True),
    "video.noise_correlation": PROBABILITY,
    "video.noise_shift": Bound(-8, 8),
    "video.given_first_frame": Bound(0, 1),
    "video.frame_stride": POSITIVE,
    "video.pan": NON_NEGATIVE,
    "video.pan_angle": Bound(-360, 360),
    "video.zoom": Bound(0, 0.2),
    "video.rotation": Bound(0, 15),
    "video.view": Bound(0.25, 1),
}
BOUNDS: dict[str, Bound] = {}  # filled (in place) by _rebuild_sections
# A run name is a folder name: no separators, no leading dot (".." or ".x" would write beside or above the run).
PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=,@-]*")


def _nullable_keys(cls: type = None, prefix: str = "") -> set[str]:
    found = set()
    for name, hint in typing.get_type_hints(cls or Config).items():
        if dataclasses.is_dataclass(hint):
            found |= _nullable_keys(hint, f"{prefix}{name}.")
        elif type(None) in typing.get_args(hint):
            found.add(prefix + name)
    return found


def _check_numbers(tree: dict[str, Any], prefix: str = "") -> None:
    """Finite numbers everywhere, and each bounded key inside its range."""
    for name, value in tree.items():
        key = prefix + name
        if isinstance(value, dict):
            _check_numbers(value, f"{key}.")
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, float) and not math.isfinite(item):
                raise ConfigError(f"{key}={value}: must be a finite number")
            bound = BOUNDS.get(key)
            if bound and isinstance(item, (int, float)) and not isinstance(item, bool) and not bound.admits(item):
                what = "each item " if isinstance(value, list) else ""
                raise ConfigError(f"{key}={value}: {what}must be {bound}{' (or null)' if key in _NULLABLE else ''}")


_NULLABLE: set[str] = set()  # filled (in place) by _rebuild_sections
MODEL_SECTIONS: dict[str, type] = {}  # backbone name -> its options dataclass (the model.<name> section)
_OPTION_SECTION: dict[str, str] = {}  # an older flat key -> its backbone's section (model.patch_size -> dit)


def _resolved_fields(options: type) -> list[tuple[str, Any, Any]]:
    """(name, resolved type, dataclass field) of an options dataclass, for make_dataclass."""
    hints = typing.get_type_hints(options)
    fields = dataclasses.fields(options)
    return [(f.name, hints[f.name], field(default=f.default, default_factory=f.default_factory)) for f in fields]


def _rebuild_sections() -> None:
    """Remake ``ModelConfig`` and ``ObjectiveConfig`` (and the bounds, nullable keys and flat keys) from the
    registered backbone and objective specs: a newly registered name is a valid config at once."""
    global ModelConfig, ObjectiveConfig
    shared = [(name, kind, field(default=default)) for name, kind, default in _SHARED_MODEL_KEYS]
    sections = [(name, spec.options, field(default_factory=spec.options)) for name, spec in BACKBONES.items()]
    ModelConfig = _made("ModelConfig", shared + sections, ModelConfig.__doc__)
    objective: dict[str, tuple[str, Any, Any]] = {}
    for spec in OBJECTIVES.values():  # keys two objectives share (same type and default) appear once
        objective |= {f[0]: f for f in _resolved_fields(spec.options) if f[0] not in objective}
    named = [("name", str, field(default=next(iter(OBJECTIVES)))), ("prediction", str | None, field(default=None))]
    ObjectiveConfig = _made("ObjectiveConfig", named + list(objective.values()), ObjectiveConfig.__doc__)
    BOUNDS.clear()
    BOUNDS.update(_FIXED_BOUNDS)
    BOUNDS.update({f"model.{s.name}.{k}": b for s in BACKBONES.values() for k, b in s.bounds.items()})
    BOUNDS.update({f"objective.{k}": b for s in OBJECTIVES.values() for k, b in s.bounds.items()})
    _NULLABLE.clear()
    _NULLABLE.update(_nullable_keys())
    MODEL_SECTIONS.clear()
    MODEL_SECTIONS.update({name: spec.options for name, spec in BACKBONES.items()})
    _OPTION_SECTION.clear()
    for spec in (s for s in BACKBONES.values() if s.flat_keys):
        _OPTION_SECTION.update({f.name: spec.name for f in dataclasses.fields(spec.options)})


def _made(name: str, fields: list[tuple[str, Any, Any]], doc: str | None) -> type:
    cls = dataclasses.make_dataclass(name, fields)
    cls.__module__, cls.__doc__ = __name__, doc
    return cls


_rebuild_sections()
on_change(_rebuild_sections)


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check ``value`` against a field annotation, converting the few safe cases (int -> float)."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        if value not in typing.get_args(annotation):
            raise ConfigError(f"{key}: {value!r} is not one of {list(typing.get_args(annotation))}")
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"{key}: may not be null")
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0])
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(annotation)
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str):
        try:  # YAML 1.1 reads "3e-4" as a string
            return float(value)
        except ValueError:
            pass
    if annotation in (int, float, str, bool) and not (
        isinstance(value, annotation) and not (annotation is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{key}: expected {annotation.__name__}, got {value!r} ({type(value).__name__})")
    return value


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    extra = sorted(map(str, set(data) - set(names)))
    if extra:
        # An option in the other backbone's section (model.unet.patch_size) says where it belongs.
        in_section = cls in MODEL_SECTIONS.values()
        hint = "".join(
            f"; {k} belongs in model.{_OPTION_SECTION[k]}" for k in extra if in_section and k in _OPTION_SECTION
        )
        raise ConfigError(f"unknown key(s) {[prefix + k for k in extra]}; valid keys here: {names}{hint}")
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, data[name], f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(data[name], hint, prefix + name)
    return cls(**kwargs)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{dotted}: {part} is not a section")
    node[leaf] = value


def _nested_key(dotted: str) -> str:
    """An older flat backbone key moves into its section (``model.patch_size`` -> ``model.dit.patch_size``)."""
    parts = dotted.split(".")
    if len(parts) > 1 and parts[0] == "model" and parts[1] in _OPTION_SECTION:
        parts.insert(1, _OPTION_SECTION[parts[1]])
    return ".".join(parts)


def _nest_model_keys(tree: dict[str, Any]) -> None:
    """Move the flat backbone options of an older config (``model: {patch_size: 2}``) into their sections."""
    model = tree.get("model") if isinstance(tree, dict) else None
    if not isinstance(model, dict):
        return  # not a mapping: _build names it
    for key in [k for k in model if k in _OPTION_SECTION]:
        section = _OPTION_SECTION[key]
        options = model.setdefault(section, {})
        if not isinstance(options, dict):
            raise ConfigError(f"model.{section}: expected a mapping, got {options!r}")
        value = model.pop(key)
        if options.setdefault(key, value) != value:
            raise ConfigError(
                f"model.{key}={value!r} and model.{section}.{key}={options[key]!r} disagree; "
                f"keep only model.{section}.{key}"
            )


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=1e-4"`` -> ``("train.lr", 0.0001)``; values are read as YAML scalars."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like section.key=value")
    try:
        value = strict_yaml.load(raw) if raw.strip() else None
    except (yaml.YAMLError, ValueError) as err:
        raise ConfigError(f"override {text!r}: the value is not valid YAML ({_yaml_problem(err)})") from None
    return key.strip(), value


def _yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error as one phrase, with its line and column when it has them."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]  # a ValueError: strict_yaml's size limit
    mark = getattr(err, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (or nothing); every failure is a ConfigError naming the file."""
    size, limit = path.stat().st_size, strict_yaml.MAX_YAML_BYTES
    if size > limit:  # checked before reading: the file may come from anyone
        raise ConfigError(f"{path}: {size:,} bytes; a YAML config is at most {limit:,}")
    try:
        data = strict_yaml.load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}, {_yaml_problem(err)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file (a YAML config was expected)") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data:, model:, ...), got a {type(data).__name__}")
    return data or {}


def is_guidance_interval(interval) -> bool:
    """None, or [lo, hi] with 0 <= lo < hi <= 1 (how far from noise, 0, to data, 1)."""
    if interval is None:
        return True
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        return False
    return 0 <= lo < hi <= 1


def validate(cfg: Config) -> Config:
    """Cross-field checks that types alone cannot express."""
    if cfg.conditioning.type not in CONDITIONING_TYPES:  # the registered kinds' names (facegen.conditioning.kinds)
        raise ConfigError(f"conditioning.type: {cfg.conditioning.type!r} is not one of {CONDITIONING_TYPES}")
    _check_numbers(cfg.to_dict())
    backbone = BACKBONES.get(cfg.model.name)
    if backbone is None:
        raise ConfigError(f"model.name={cfg.model.name!r}: choose one of {list(BACKBONES)}")
    if cfg.objective.name not in OBJECTIVES:
        raise ConfigError(f"objective.name: {cfg.objective.name!r} is not one of {list(OBJECTIVES)}")
    objective = OBJECTIVES[cfg.objective.name]
    options = getattr(cfg.model, backbone.name)
    problem = backbone.check and backbone.check(
        options, cfg.data.image_size // AUTOENCODER_DOWNSAMPLE[cfg.autoencoder.name]
    )
    checks = [
        (not problem, problem),
        (
            cfg.model.size in backbone.sizes,
            f"model.size={cfg.model.size!r}: {cfg.model.name} sizes are {list(backbone.sizes)}",
        ),
        (
            not objective.two_time or backbone.two_time,
            f"objective.name={objective.name!r} trains net(x, t, cond, r) with a second time r, which the "
            f"{backbone.name} backbone does not take",
        ),
        (cfg.train.min_lr <= cfg.train.lr, "train.min_lr must lie in [0, train.lr]"),
        (
            is_guidance_interval(cfg.sampler.guidance_interval),
            f"sampler.guidance_interval={cfg.sampler.guidance_interval}: null or [lo, hi] with 0 <= lo < hi <= 1 "
            "(how far from noise, 0, to data, 1)",
        ),
        (
            cfg.sampler.guide is None or PLAIN_NAME.fullmatch(cfg.sampler.guide) is not None,
            f"sampler.guide={cfg.sampler.guide!r}: null or the name of a bundled model (`facegen models`), not a path",
        ),
        (
            cfg.train.batch_size % cfg.train.grad_accum == 0,
            f"train.grad_accum={cfg.train.grad_accum} must divide train.batch_size={cfg.train.batch_size}",
        ),
        (
            cfg.conditioning.semantic_dim == 0 or cfg.conditioning.type == "attributes",
            "conditioning.semantic_dim > 0 needs conditioning.type=attributes (its head learns the 40 attributes)",
        ),
        (
            PLAIN_NAME.fullmatch(cfg.exp_name) is not None,
            f"exp_name={cfg.exp_name!r}: must be a plain folder name (letters, digits, _ . + = , @ -; "
            "no path separator, no leading dot); the run goes to output_dir/exp_name",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    _check_video(cfg)
    from facegen.metric_names import ALL_METRICS, IDENTITY

    if IDENTITY in cfg.eval.metrics:  # it needs photos of one person, which a training run does not have
        raise ConfigError(f"eval.metrics: {IDENTITY} is for `facegen eval --identity-ref DIR`, not training runs")
    unknown = [m for m in cfg.eval.metrics if m not in ALL_METRICS]
    if unknown or cfg.eval.best_metric not in cfg.eval.metrics:
        raise ConfigError(
            f"eval.metrics must be a subset of {list(ALL_METRICS)} containing eval.best_metric; "
            f"got metrics={cfg.eval.metrics}, best_metric={cfg.eval.best_metric!r}"
        )
    if cfg.objective.prediction not in (None, *objective.predictions):
        raise ConfigError(
            f"objective.prediction={cfg.objective.prediction!r} does not go with objective.name="
            f"{cfg.objective.name!r}; choose one of {list(objective.predictions)}"
        )
    if cfg.sampler.name is not None and cfg.sampler.name not in all_samplers():
        raise ConfigError(f"sampler.name: {cfg.sampler.name!r} is not one of {list(all_samplers())} (or null)")
    if cfg.sampler.name is not None and sampler_problem(cfg.objective.name, cfg.sampler.name):
        raise ConfigError(
            f"sampler.name={cfg.sampler.name!r} does not go with objective.name={cfg.objective.name!r}; "
            f"choose one of {list(objective.samplers)}"
        )
    for key, (neutral, meaning) in OBJECTIVE_SAMPLER_OPTIONS.items():
        value = getattr(cfg.sampler, key)
        if value != neutral and key not in objective.sampler_options:
            owners = " or ".join(repr(s.name) for s in OBJECTIVES.values() if key in s.sampler_options)
            raise ConfigError(f"sampler.{key}={value:g}: {meaning}, only for objective.name={owners} (or {neutral:g})")
    return cfg


def _check_video(cfg: Config) -> None:
    """A video model: a backbone with temporal sites, conditions per clip, no image evaluation."""
    vc = cfg.video
    if vc.frames is None:
        return
    if BACKBONES[cfg.model.name].temporal is None:
        video_backbones = [name for name, spec in BACKBONES.items() if spec.temporal]
        raise ConfigError(f"video.frames: model.name={cfg.model.name!r} has no temporal layers; use {video_backbones}")
    if cfg.conditioning.type == "text" or cfg.conditioning.semantic_dim:
        raise ConfigError("video.frames: video models take conditioning.type none or attributes (no text, no semantic)")
    if cfg.eval.every:
        raise ConfigError("eval.every: evaluation scores images; set it to 0 for a video model (video.frames)")
    if len(vc.noise_shift) != 2:
        raise ConfigError(f"video.noise_shift={vc.noise_shift}: [dx, dy], latent pixels per frame")
    if any(vc.noise_shift) and not vc.noise_correlation:
        raise ConfigError(
            f"video.noise_shift={vc.noise_shift} moves the noise the frames share: set video.noise_correlation > 0"
        )
    if vc.given_first_frame and cfg.objective.name != "rectified_flow":
        raise ConfigError(
            f"video.given_first_frame={vc.given_first_frame}: a clean frame 0 needs objective.name=rectified_flow "
            f"(got {cfg.objective.name!r}); set it to 0"
        )
    if vc.clips == "videos" and not vc.videos:
        raise ConfigError("video.videos: clips: videos needs the folder of face videos")
    if not vc.train_spatial and not cfg.train.init_from:
        raise ConfigError(
            "video.train_spatial=false keeps the image model's weights frozen: start from a trained image model with "
            "train.init_from (or set video.train_spatial=true to train everything)"
        )


def resolved_sampler(cfg: Config, name: str | None = None) -> str:
    """The sampler to use: the one asked for, else the config's, else the objective's default."""
    return name or cfg.sampler.name or default_sampler(cfg.objective.name)


def config_from_dict(data: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> Config:
    tree = yaml.safe_load(yaml.safe_dump(data or {}))  # deep copy through plain types
    _nest_model_keys(tree)
    for text in overrides:
        key, value = parse_override(text)
        _set_dotted(tree, _nested_key(key), value)
        _nest_model_keys(tree)  # a whole section set at once (model={patch_size: 4}) may hold flat keys
    return validate(_build(Config, tree))


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults <- YAML file (if any) <- ``key=value`` overrides, then validated."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        data = read_yaml_mapping(path)
    try:
        return config_from_dict(data, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path or 'config'}: {err}") from None


def save_config(cfg: Config, path: str | Path) -> None:
    from facegen.utils.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
