"""Checkpoints: self-contained folders, written atomically, loaded without unpickling code.

    RUN/checkpoints/step_00001000/   model.safetensors, ema.safetensors, training_state.pt,
                                     config.yaml (resolved), meta.json
    RUN/checkpoints/latest -> step_...   (a symlink, swapped atomically after each save)
    RUN/checkpoints/best   -> step_...   (set by evaluation; protected from pruning; best.json says why)

A folder is first written under a temporary name and then renamed, so a run killed at any moment leaves the
previous checkpoint and ``latest`` intact. Optimizer, LR-scheduler and RNG states hold only tensors and plain
Python values, so they load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

import facegen
from facegen.config import Config, config_from_dict, save_config
from facegen.utils.io import atomic_write_json

STEP_DIR = re.compile(r"^step_(\d+)$")
MODEL_FILE, EMA_FILE, STATE_FILE, META_FILE, CONFIG_FILE = (
    "model.safetensors",
    "ema.safetensors",
    "training_state.pt",
    "meta.json",
    "config.yaml",
)


def _save_state_dict(state: dict[str, torch.Tensor], path: Path) -> None:
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path))


def _swap_symlink(link: Path, target: str) -> None:
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def save_checkpoint(
    ckpt_root: str | Path,
    step: int,
    cfg: Config,
    model_state: dict[str, torch.Tensor],
    ema_state: dict[str, torch.Tensor],
    training_state: dict[str, Any],
    extra_meta: dict[str, Any] | None = None,
) -> Path:
    """Write ``ckpt_root/step_{step}`` atomically and point ``latest`` at it."""
    ckpt_root = Path(ckpt_root)
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"step_{step:08d}"
    tmp = ckpt_root / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    _save_state_dict(model_state, tmp / MODEL_FILE)
    _save_state_dict(ema_state, tmp / EMA_FILE)
    torch.save(training_state, tmp / STATE_FILE)
    save_config(cfg, tmp / CONFIG_FILE)
    meta = {
        "step": step,
        "facegen_version": facegen.__version__,
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "data_protocol": {
            "dataset": cfg.data.dataset,
            "split": cfg.data.split,
            "image_size": cfg.data.image_size,
            "crop": cfg.data.crop,
        },
        **(extra_meta or {}),
    }
    atomic_write_json(tmp / META_FILE, meta)
    if final.exists():  # the same step saved again (e.g. after a resume): replace it
        trash = ckpt_root / f".trash-{final.name}-{os.getpid()}"
        os.rename(final, trash)
        os.rename(tmp, final)
        shutil.rmtree(trash)
    else:
        os.rename(tmp, final)
    _swap_symlink(ckpt_root / "latest", final.name)
    return final


def mark_best(ckpt_root: str | Path, checkpoint: str | Path, metric: str, value: float) -> None:
    ckpt_root = Path(ckpt_root)
    atomic_write_json(ckpt_root / "best.json", {"checkpoint": Path(checkpoint).name, "metric": metric, "value": value})
    _swap_symlink(ckpt_root / "best", Path(checkpoint).name)


def load_best(ckpt_root: str | Path) -> dict[str, Any] | None:
    """``{"checkpoint", "metric", "value"}`` of the best checkpoint so far, or None."""
    path = Path(ckpt_root) / "best.json"
    return json.loads(path.read_text()) if path.exists() and (Path(ckpt_root) / "best").exists() else None


def step_dirs(ckpt_root: str | Path) -> list[Path]:
    root = Path(ckpt_root)
    found = [p for p in root.iterdir() if STEP_DIR.match(p.name) and p.is_dir()] if root.is_dir() else []
    return sorted(found, key=lambda p: int(STEP_DIR.match(p.name).group(1)))


def prune_checkpoints(ckpt_root: str | Path, keep_every: int) -> None:
    """Delete step folders that are neither latest, best, nor a multiple of ``keep_every``."""
    root = Path(ckpt_root)
    protected = {(root / name).resolve() for name in ("latest", "best") if (root / name).exists()}
    for path in step_dirs(root):
        step = int(STEP_DIR.match(path.name).group(1))
        if path.resolve() not in protected and step % keep_every != 0:
            shutil.rmtree(path, ignore_errors=True)


def resolve_checkpoint(path: str | Path, prefer: tuple[str, ...] = ("best", "latest")) -> Path:
    """A checkpoint folder from a checkpoint, a ``checkpoints/`` folder, or a run folder."""
    path = Path(path)
    if (path / MODEL_FILE).is_file():
        return path
    roots = [path / "checkpoints", path]
    for root in roots:
        for name in prefer:
            if (root / name / MODEL_FILE).is_file():
                return (root / name).resolve()
        if steps := step_dirs(root):  # a missing or dangling 'latest' link: take the newest complete folder
            complete = [s for s in steps if (s / META_FILE).is_file()]
            if complete:
                return complete[-1]
    raise FileNotFoundError(
        f"no checkpoint found at {path}: expected a folder with {MODEL_FILE}, or a run folder with "
        f"checkpoints/latest (train one with `facegen train`)"
    )


@dataclass
class LoadedCheckpoint:
    path: Path
    config: Config
    meta: dict[str, Any]

    def weights(self, ema: bool = True) -> dict[str, torch.Tensor]:
        return load_file(str(self.path / (EMA_FILE if ema else MODEL_FILE)))

    def training_state(self) -> dict[str, Any]:
        return torch.load(self.path / STATE_FILE, map_location="cpu", weights_only=True)


def load_checkpoint(path: str | Path, prefer: tuple[str, ...] = ("best", "latest")) -> LoadedCheckpoint:
    import yaml

    folder = resolve_checkpoint(path, prefer)
    cfg = config_from_dict(yaml.safe_load((folder / CONFIG_FILE).read_text()))
    meta = json.loads((folder / META_FILE).read_text())
    return LoadedCheckpoint(folder, cfg, meta)
