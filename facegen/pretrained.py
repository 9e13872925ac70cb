"""Pretrained models shipped inside the package, and the export that makes one from a training run.

A model folder is self-contained: ``config.yaml`` (the resolved training config), ``model-0000k-of-0000n.safetensors``
(EMA weights in fp16, each shard at most ``MAX_SHARD_BYTES`` so no file in the package is large), ``meta.json`` (what
was exported from where, parameter count, sha256 of each shard) and ``MODEL_CARD.md``.

    facegen models                                   # the registry: name, size, what each does
    FacePipeline.from_pretrained("faces128")         # offline: the weights and the TAEF2 decoder are in the package
    facegen export --checkpoint runs/faces128 --out my_model --card card.md   # a run -> a model folder
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from facegen.conditioning.kinds import kind_of
from facegen.config import Config, VideoConfig, config_from_dict, read_yaml_mapping, save_config
from facegen.utils.io import atomic_folder, atomic_write_json, path_lock, save_safetensors

ASSETS = Path(__file__).resolve().parent / "assets"
MAX_SHARD_BYTES = 15 * 2**20  # under the 16 MiB per file the package allows
CONFIG_FILE, META_FILE, CARD_FILE = "config.yaml", "meta.json", "MODEL_CARD.md"
DEFAULT_MODEL = "faces128"
PLAIN_FILE = re.compile(r"[\w+-][\w.+-]{0,127}")  # a file name without a folder part, not hidden
MAX_META_BYTES, MAX_CARD_BYTES = 1 << 20, 256 << 10


@dataclass(frozen=True)
class PretrainedModel:
    name: str

    @property
    def folder(self) -> Path:
        return ASSETS / self.name


REGISTRY: dict[str, PretrainedModel] = {
    "faces128": PretrainedModel("faces128"),
    "faces128_guide": PretrainedModel("faces128_guide"),  # faces128's autoguide (its sampler.guide): release 6
}


def resolve_model_folder(name_or_path: str | Path) -> Path:
    """A registry name (``faces128``) or the path of an exported model folder."""
    if str(name_or_path) in REGISTRY:
        folder = REGISTRY[str(name_or_path)].folder
    else:
        folder = Path(name_or_path)
    if not (folder / META_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
        raise FileNotFoundError(
            f"no pretrained model {str(name_or_path)!r}: not a registered name ({', '.join(REGISTRY)}) nor a folder "
            f"with {CONFIG_FILE} and {META_FILE} (make one with `facegen export`)"
        )
    return folder


def folder_file(folder: str | Path, name: Any) -> Path:
    """``folder/name`` for a plain file name, refused (ValueError) when it names a place outside the folder:
    a model folder may come from anyone, and a link in it to /etc/passwd must not be read or served."""
    folder = Path(folder)
    if not isinstance(name, str) or not PLAIN_FILE.fullmatch(name):
        raise ValueError(f"{folder}: {name!r} is not a plain file name inside the model folder")
    path = folder / name
    if path.is_symlink() and path.resolve().parent != folder.resolve():
        raise ValueError(f"{path}: a link to a file outside the model folder; copy the file into the folder")
    return path


def read_card(folder: str | Path) -> str:
    """A model folder's card (its beginning, at most MAX_CARD_BYTES), or "" when it has none of its own."""
    try:
        with open(folder_file(folder, CARD_FILE), "rb") as handle:
            return handle.read(MAX_CARD_BYTES).decode("utf-8", errors="replace")
    except (OSError, ValueError):
        return ""


def _read_meta(folder: Path) -> dict[str, Any]:
    """meta.json, with its list of shards checked: each a plain file name in the folder and a sha256."""
    path = folder_file(folder, META_FILE)
    if path.stat().st_size > MAX_META_BYTES:  # checked before reading
        raise ValueError(f"{path}: {path.stat().st_size:,} bytes; a model's {META_FILE} is at most {MAX_META_BYTES:,}")
    try:
        meta = json.loads(path.read_bytes())
        shards = meta["shards"]
        listed = isinstance(shards, list) and all(isinstance(s, dict) for s in shards)
        if not listed or not all(isinstance(s.get("sha256"), str) for s in shards):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{path}: not the {META_FILE} of an export; make the folder with `facegen export`") from None
    for shard in shards:
        folder_file(folder, shard.get("file"))
    return meta


def _folder_config(folder: Path) -> Config:
    return config_from_dict(read_yaml_mapping(folder_file(folder, CONFIG_FILE)))


def load_model_folder(folder: str | Path) -> tuple[Config, dict[str, torch.Tensor], dict[str, Any]]:
    """(config, float32 state dict, meta) of an exported model folder; shards are checked against their sha256.
    Every file is checked to lie inside the folder before anything is read."""
    folder = Path(folder)
    meta = _read_meta(folder)
    config = _folder_config(folder)
    state: dict[str, torch.Tensor] = {}
    for shard in meta["shards"]:
        path = folder_file(folder, shard["file"])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: a weight shard listed in {folder / META_FILE} is missing")
        if _sha256(path) != shard["sha256"]:
            raise ValueError(f"{path}: damaged (sha256 differs from {folder / META_FILE}); reinstall facegen")
        state.update({k: v.float() for k, v in load_file(str(path)).items()})
    return config, state, meta


def init_weights(cfg: Config) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(state dict, meta) of ``cfg.train.init_from``, refused when its config builds another model than ``cfg``."""
    from facegen.checkpoint import architecture_differences
    from facegen.config import ConfigError

    try:
        folder = resolve_model_folder(cfg.train.init_from)
    except FileNotFoundError as err:
        raise ConfigError(f"train.init_from: {err}") from None
    source_cfg, state, meta = load_model_folder(folder)
    if source_cfg.video.frames is None and cfg.video.frames is not None:  # an image model starts a video model
        cfg = replace(cfg, video=VideoConfig())  # compared as the image model it wraps
    differences = architecture_differences(source_cfg, cfg)
    if differences:
        raise ConfigError(
            f"train.init_from={cfg.train.init_from!r} is a different model ({'; '.join(differences)}); "
            "train with its model settings or start from scratch"
        )
    return state, meta


def export_model(checkpoint: str | Path, out: str | Path, card: str | Path | None = None, overwrite: bool = False):
    """Write the EMA weights of a checkpoint (or run folder) as an fp16, sharded model folder; returns its path.

    ``out`` appears whole or not at all: the new folder is written beside it and renamed into place (with
    ``overwrite`` the old one is moved aside first and removed last); one export at a time writes to an ``out``.
    """
    from facegen.checkpoint import load_checkpoint, resolve_checkpoint

    out = Path(out)
    source = resolve_checkpoint(checkpoint, prefer=("best", "latest"))
    _check_apart(out, {Path(checkpoint).resolve(), source.resolve()}, checkpoint)
    with path_lock(out, "another export"):
        if out.exists() and any(out.iterdir()) and not overwrite:
            raise FileExistsError(f"{out} exists and is not empty: choose another --out (or pass --overwrite)")
        ckpt = load_checkpoint(checkpoint, prefer=("best", "latest"))
        weights = {k: v.to(torch.float16).contiguous() for k, v in ckpt.weights(ema=True).items()}
        shards = _shard(weights)
        with atomic_folder(out) as tmp:
            listed = []
            for index, shard in enumerate(shards, 1):
                name = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
                save_safetensors(shard, tmp / name)  # 0644: a model folder is for sharing
                listed.append({"file": name, "sha256": _sha256(tmp / name), "tensors": len(shard)})
            cfg = ckpt.config
            cfg.autoencoder.path = None  # the bundled (or installed) copy of the autoencoder, not the trainer's folder
            save_config(cfg, tmp / CONFIG_FILE)
            meta = {
                "format": "facegen-model-1",
                "source_checkpoint": str(ckpt.path),
                "step": ckpt.meta.get("step"),
                "num_parameters": sum(v.numel() for v in weights.values()),
                "dtype": "float16",
                "weights": "ema",
                "shards": listed,
                "image_size": cfg.data.image_size,
                "conditioning": kind_of(cfg).type,
                "autoencoder": cfg.autoencoder.name,
            }
            atomic_write_json(tmp / META_FILE, meta)
            if card is not None:
                shutil.copyfile(card, tmp / CARD_FILE)
    return out


def _check_apart(out: Path, sources: set[Path], checkpoint: str | Path) -> None:
    """``out`` is neither the source, nor inside it, nor around it: replacing it must never touch the run."""
    target = out.resolve()
    for source in sources:
        if target == source or source in target.parents or target in source.parents:
            raise ValueError(
                f"--out {out} is, lies inside or holds the checkpoint it exports ({checkpoint}): choose a folder "
                "outside the run"
            )


def list_models() -> list[dict[str, Any]]:
    """What ``facegen models`` prints: name, size on disk, parameters, resolution, conditioning, and the
    description made from the model's own config (:func:`facegen.describe.describe_model`)."""

    from facegen.describe import describe_model

    rows = []
    for model in REGISTRY.values():
        folder = model.folder
        installed = (folder / META_FILE).is_file()
        meta = _read_meta(folder) if installed else {}
        size = sum(f.stat().st_size for f in folder.glob("*.safetensors")) if installed else 0
        rows.append(
            {
                "name": model.name,
                "installed": installed,
                "size_mb": round(size / 2**20, 1),
                "parameters_m": round(meta.get("num_parameters", 0) / 1e6, 2),
                "image_size": meta.get("image_size"),
                "conditioning": meta.get("conditioning"),
                "description": describe_model(_folder_config(folder), meta["num_parameters"]) if installed else "",
            }
        )
    return rows


def _shard(weights: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key in sorted(weights):
        nbytes = weights[key].numel() * weights[key].element_size()
        if nbytes > MAX_SHARD_BYTES:
            raise ValueError(f"tensor {key} alone is {nbytes / 2**20:.1f} MiB, over the {MAX_SHARD_BYTES} byte limit")
        if shards[-1] and size + nbytes > MAX_SHARD_BYTES:
            shards.append({})
            size = 0
        shards[-1][key] = weights[key]
        size += nbytes
    return shards


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
