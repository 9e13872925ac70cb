"""One typed config for every run: loaded from YAML, overridden with dotted ``key=value``, validated, saved resolved.

cfg = load_config("configs/celeba32_tiny.yaml", ["train.lr=1e-4", "model.size=small"])
save_config(cfg, run_dir / "config.yaml")   # enough to rebuild the run without the original YAML
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key and what is allowed."""


@dataclass
class DataConfig:
    dataset: Literal["celeba", "celebahq", "folder"] = "celeba"
    root: str = "../shared/data/celeba"
    split: Literal["train", "valid", "test", "all"] = "train"
    image_size: int = 32
    crop: int | None = 178  # CelebA's official 178x178 centre crop; None = largest central square
    flip: bool = True
    max_images: int | None = None
    cache_dir: str | None = None  # default: $FACEGEN_CACHE_DIR or ~/.cache/facegen
    num_workers: int = 2
    download: bool = False


@dataclass
class ModelConfig:
    name: str = "dit"
    size: str = "small"
    patch_size: int = 2
    pos_embed: Literal["sincos", "learned", "none"] = "sincos"
    rope: bool = True
    qk_norm: bool = False
    grad_checkpointing: bool = False
    long_skip: bool = False  # DiT: U-ViT long skips between mirrored blocks
    # Explicit overrides of the size preset (null = the preset's value). DiT:
    hidden_size: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_dim: int | None = None
    # UNet:
    base_channels: int | None = None
    channel_mult: list[int] | None = None
    layers_per_block: int | None = None
    attention_resolutions: list[int] | None = None
    head_dim: int | None = None


@dataclass
class AutoencoderConfig:
    """Where the diffusion runs: pixels (identity) or the latents of a frozen pretrained autoencoder."""

    name: Literal["identity", "taef2", "kl"] = "identity"
    path: str | None = None  # weights folder (taef2: default ../shared/weights/taef2; kl: a diffusers folder)


@dataclass
class ConditioningConfig:
    type: Literal["none", "attributes", "text"] = "none"
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


@dataclass
class ObjectiveConfig:
    name: Literal["rectified_flow", "ddpm"] = "rectified_flow"
    prediction: Literal["velocity", "x", "eps", "v"] | None = None  # null: velocity (flow) or eps (ddpm)
    # rectified_flow
    time_sampling: Literal["uniform", "logit_normal"] = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    # ddpm
    schedule: Literal["linear", "cosine"] = "linear"
    num_train_timesteps: int = 1000


@dataclass
class SamplerConfig:
    name: Literal["euler", "heun", "dopri5", "ddpm", "ddim", "dpm++"] | None = None  # null: heun / ddim
    steps: int = 50
    cfg_scale: float = 1.0  # classifier-free guidance for conditional models (1 = off)
    eta: float = 0.0  # DDIM stochasticity
    rtol: float = 1e-4
    atol: float = 1e-4


@dataclass
class TrainConfig:
    batch_size: int = 64  # global: split across processes
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
class Config:
    exp_name: str = "facegen"
    output_dir: str = "runs"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    conditioning: ConditioningConfig = field(default_factory=ConditioningConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.exp_name

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"unknown key(s) {[prefix + k for k in unknown]}; valid keys here: {names}")
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


def parse_override(text: str) -> tuple[str, Any]:
    """``"train.lr=1e-4"`` -> ``("train.lr", 0.0001)``; values are read as YAML scalars."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like section.key=value")
    value = yaml.safe_load(raw) if raw.strip() else None
    return key.strip(), value


def validate(cfg: Config) -> Config:
    """Cross-field checks that types alone cannot express."""
    checks = [
        (cfg.data.image_size >= 8, "data.image_size must be at least 8"),
        (
            cfg.model.name != "dit"
            or (cfg.data.image_size // LATENT_FACTOR[cfg.autoencoder.name]) % cfg.model.patch_size == 0,
            "data.image_size (divided by the autoencoder's downsampling) must be divisible by model.patch_size",
        ),
        (cfg.train.batch_size >= 1, "train.batch_size must be positive"),
        (cfg.train.max_steps >= 1, "train.max_steps must be positive"),
        (cfg.train.lr > 0, "train.lr must be positive"),
        (cfg.train.num_threads is None or cfg.train.num_threads >= 1, "train.num_threads must be >= 1 (or null)"),
        (0 <= cfg.train.min_lr <= cfg.train.lr, "train.min_lr must lie in [0, train.lr]"),
        (0.0 <= cfg.train.ema_decay < 1.0, "train.ema_decay must lie in [0, 1)"),
        (cfg.train.warmup_steps >= 0, "train.warmup_steps must be >= 0"),
        (min(cfg.train.log_every, cfg.train.ckpt_every, cfg.train.keep_every) >= 1, "train.*_every must be >= 1"),
        (cfg.train.sample_every >= 0, "train.sample_every must be >= 0 (0 = never)"),
        (cfg.sampler.steps >= 1, "sampler.steps must be positive"),
        (cfg.objective.logit_std > 0, "objective.logit_std must be positive"),
        (0 <= cfg.conditioning.cfg_dropout < 1, "conditioning.cfg_dropout must lie in [0, 1)"),
        (0 <= cfg.conditioning.max_mask_rate <= 1, "conditioning.max_mask_rate must lie in [0, 1]"),
        (cfg.conditioning.semantic_dim >= 0, "conditioning.semantic_dim must be >= 0 (0 = no semantic encoder)"),
        (
            cfg.conditioning.semantic_dim == 0 or cfg.conditioning.type == "attributes",
            "conditioning.semantic_dim > 0 needs conditioning.type=attributes (its head learns the 40 attributes)",
        ),
        (0 <= cfg.conditioning.semantic_dropout < 1, "conditioning.semantic_dropout must lie in [0, 1)"),
        (
            min(cfg.conditioning.semantic_kl_weight, cfg.conditioning.semantic_attribute_weight) >= 0,
            "conditioning.semantic_*_weight must be >= 0",
        ),
        (cfg.exp_name and "/" not in cfg.exp_name, "exp_name must be a non-empty name without '/'"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    from facegen.metric_names import ALL_METRICS

    unknown = [m for m in cfg.eval.metrics if m not in ALL_METRICS]
    if unknown or cfg.eval.best_metric not in cfg.eval.metrics:
        raise ConfigError(
            f"eval.metrics must be a subset of {list(ALL_METRICS)} containing eval.best_metric; "
            f"got metrics={cfg.eval.metrics}, best_metric={cfg.eval.best_metric!r}"
        )
    if cfg.eval.every < 0 or cfg.eval.num_samples < 2:
        raise ConfigError("eval.every must be >= 0 and eval.num_samples >= 2")
    pairs = OBJECTIVE_CHOICES[cfg.objective.name]
    if cfg.objective.prediction not in (None, *pairs["prediction"]):
        raise ConfigError(
            f"objective.prediction={cfg.objective.prediction!r} does not go with objective.name="
            f"{cfg.objective.name!r}; choose one of {list(pairs['prediction'])}"
        )
    if cfg.sampler.name not in (None, *pairs["sampler"]):
        raise ConfigError(
            f"sampler.name={cfg.sampler.name!r} does not go with objective.name={cfg.objective.name!r}; "
            f"choose one of {list(pairs['sampler'])}"
        )
    return cfg


# Spatial downsampling of each autoencoder kind (both pretrained kinds compress 8x).
LATENT_FACTOR = {"identity": 1, "taef2": 8, "kl": 8}

# Which predictions and samplers each objective supports; the first of each is the default.
OBJECTIVE_CHOICES = {
    "rectified_flow": {"prediction": ("velocity", "x"), "sampler": ("heun", "euler", "dopri5")},
    "ddpm": {"prediction": ("eps", "v"), "sampler": ("ddim", "ddpm", "dpm++")},
}


def resolved_sampler(cfg: Config, name: str | None = None) -> str:
    """The sampler to use: the one asked for, else the config's, else the objective's default."""
    return name or cfg.sampler.name or OBJECTIVE_CHOICES[cfg.objective.name]["sampler"][0]


def config_from_dict(data: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> Config:
    tree = yaml.safe_load(yaml.safe_dump(data or {}))  # deep copy through plain types
    for text in overrides:
        _set_dotted(tree, *parse_override(text))
    return validate(_build(Config, tree))


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults <- YAML file (if any) <- ``key=value`` overrides, then validated."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        data = yaml.safe_load(path.read_text()) or {}
    try:
        return config_from_dict(data, overrides)
    except ConfigError as err:
        raise ConfigError(f"{path or 'config'}: {err}") from None


def save_config(cfg: Config, path: str | Path) -> None:
    from facegen.utils.io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
