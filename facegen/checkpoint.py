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
import pickle
import platform
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

import facegen
from facegen.config import Config, ConfigError, config_from_dict, read_yaml_mapping, save_config
from facegen.objective_names import OBJECTIVE_CHOICES
from facegen.utils.io import (
    atomic_folder,
    atomic_write_json,
    pid_alive,
    save_safetensors,
    save_torch,
)

# What atomic_folder (.tmp-NAME-PID, .trash-NAME-PID) and _swap_symlink leave behind when their process dies.
TEMPORARY = re.compile(r"^\.(?:tmp|trash)-step_\d+-(\d+)$|^\.(?:latest|best)\.(\d+)\.tmp$")
# What a run writes into its folder: cleared when a run starts over in the same folder (--overwrite).
RUN_OUTPUTS = ("checkpoints", "logs", "samples", "gifs", "eval", "metrics.jsonl", "train_summary.json", "config.yaml")
# Config keys that decide the weights' names and shapes: a checkpoint only loads into a model built the same way.
# What the weights are, and what their output means: the objective's name, prediction and DDPM time scale decide
# whether the net predicts a velocity, noise or the image (a flow model resumed as DDPM trains on nonsense).
ARCHITECTURE_KEYS = (
    "data.image_size",
    "autoencoder.name",
    "model",
    "conditioning",
    "objective.name",
    "objective.prediction",
    "objective.schedule",
    "objective.num_train_timesteps",
    "video.frames",  # an image model or a video one (a video model's weights fit any frame count; its runs do not)
    "video.temporal",
    "video.head_dim",
    "video.train_spatial",  # which weights the optimizer holds
)

STEP_DIR = re.compile(r"^step_(\d+)$")
MODEL_FILE, EMA_FILE, STATE_FILE, META_FILE, CONFIG_FILE = (
    "model.safetensors",
    "ema.safetensors",
    "training_state.pt",
    "meta.json",
    "config.yaml",
)


class CheckpointError(ValueError):
    """A checkpoint file that is damaged, incomplete or refused; the message names the file."""


class RunExistsError(FileExistsError):
    """Starting a run would overwrite an earlier run's checkpoints."""


def _save_state_dict(state: dict[str, torch.Tensor], path: Path) -> None:
    save_safetensors({k: v.detach().cpu().contiguous() for k, v in state.items()}, path)


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
    final = Path(ckpt_root) / f"step_{step:08d}"
    with atomic_folder(final) as tmp:  # the same step saved again (e.g. after a resume) replaces it
        _write_checkpoint(tmp, step, cfg, model_state, ema_state, training_state, extra_meta)
    _swap_symlink(final.parent / "latest", final.name)
    return final


def _write_checkpoint(
    tmp: Path,
    step: int,
    cfg: Config,
    model_state: dict[str, torch.Tensor],
    ema_state: dict[str, torch.Tensor],
    training_state: dict[str, Any],
    extra_meta: dict[str, Any] | None,
) -> None:
    _save_state_dict(model_state, tmp / MODEL_FILE)
    _save_state_dict(ema_state, tmp / EMA_FILE)
    save_torch(training_state, tmp / STATE_FILE)
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


CHECKPOINT_FILES = {MODEL_FILE, EMA_FILE, STATE_FILE, META_FILE, CONFIG_FILE}


def prune_checkpoints(ckpt_root: str | Path, keep_every: int) -> None:
    """Delete step folders that are neither latest, best, nor a multiple of ``keep_every``; a folder holding
    anything a checkpoint does not write (a user's notes, samples) is kept whole."""
    root = Path(ckpt_root)
    protected = {(root / name).resolve() for name in ("latest", "best") if (root / name).exists()}
    for path in step_dirs(root):
        step = int(STEP_DIR.match(path.name).group(1))
        ours_only = all(item.name in CHECKPOINT_FILES and item.is_file() for item in path.iterdir())
        if path.resolve() not in protected and step % keep_every != 0 and ours_only:
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
            if not complete:
                raise CheckpointError(f"no complete checkpoint in {root}: {steps[-1].name} and older lack {META_FILE}")
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
        path = self.path / (EMA_FILE if ema else MODEL_FILE)
        try:
            return load_file(str(path))
        except SafetensorError as err:
            raise CheckpointError(f"{path}: damaged ({_first_line(err)}); {_earlier_hint(self.path)}") from None

    def training_state(self) -> dict[str, Any]:
        path = self.path / STATE_FILE
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise CheckpointError(
                f"{path}: refused to load: it holds Python objects other than tensors and plain values, which could "
                "run code (facegen loads training states with weights_only=True; nothing in it was executed)"
            ) from None
        except (RuntimeError, EOFError, ValueError) as err:
            raise CheckpointError(f"{path}: damaged ({_first_line(err)}); {_earlier_hint(self.path)}") from None


def load_checkpoint(path: str | Path, prefer: tuple[str, ...] = ("best", "latest")) -> LoadedCheckpoint:
    folder = resolve_checkpoint(path, prefer)
    for name in (CONFIG_FILE, META_FILE, MODEL_FILE, EMA_FILE):
        if not (folder / name).is_file():
            raise CheckpointError(f"{folder} is incomplete: {name} is missing; {_earlier_hint(folder)}")
    try:
        cfg = config_from_dict(read_yaml_mapping(folder / CONFIG_FILE))
        meta = json.loads((folder / META_FILE).read_text())
    except ConfigError as err:
        raise CheckpointError(f"{folder / CONFIG_FILE} cannot be used: {err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{folder / META_FILE}: damaged ({err}); {_earlier_hint(folder)}") from None
    return LoadedCheckpoint(folder, cfg, meta)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0][:200]


def _earlier_hint(folder: Path) -> str:
    """Where to go instead of a damaged checkpoint: the newest other complete step folder of the same run."""
    folder = folder.resolve()
    others = [p for p in step_dirs(folder.parent) if p.resolve() != folder and (p / META_FILE).is_file()]
    return f"use an earlier checkpoint, e.g. {others[-1]}" if others else "no earlier checkpoint of this run exists"


def architecture_differences(checkpoint_cfg: Config, cfg: Config) -> list[str]:
    """``key: checkpoint value -> config value`` for every key that changes the model's weights."""
    from facegen.builders import model_config_options

    old, new = _flatten(checkpoint_cfg.to_dict()), _flatten(cfg.to_dict())
    for flat in (old, new):  # null is the objective's first prediction: the same weights as naming it
        choices = OBJECTIVE_CHOICES[flat["objective.name"]]["prediction"]
        flat["objective.prediction"] = flat["objective.prediction"] or choices[0]
    keys = [k for k in new if any(k == a or k.startswith(a + ".") for a in ARCHITECTURE_KEYS)]
    # model.* keys of the other backbone (model.dit.* in a UNet config) build nothing: they may differ
    # gradient checkpointing trades memory for time with the same weights: switching it on to resume is allowed
    applies = {"model.name", *model_config_options(cfg)} - {"model.grad_checkpointing"}
    keys = [k for k in keys if not k.startswith("model.") or k in applies]
    # text_dim is filled in from the text encoder when training starts: unknown (null) matches anything
    return [
        f"{k}: checkpoint {old.get(k)!r}, config {new[k]!r}"
        for k in keys
        if old.get(k) != new[k] and not (k == "conditioning.text_dim" and None in (old.get(k), new[k]))
    ]


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def check_resume(cfg: Config, resume: str) -> LoadedCheckpoint:
    """The checkpoint ``resume`` names ('auto' = this run's latest), refused when the config builds another model."""
    ckpt = load_checkpoint(cfg.run_dir / "checkpoints" if resume == "auto" else resume, prefer=("latest",))
    differences = architecture_differences(ckpt.config, cfg)
    if differences:
        raise ConfigError(
            f"cannot resume from {ckpt.path}: the config builds or trains a different model "
            f"({'; '.join(differences)}); "
            "resume with the checkpoint's values or start a new exp_name"
        )
    return ckpt


def clean_stale_temporaries(ckpt_root: str | Path) -> list[Path]:
    """Remove half-written checkpoint folders and links left by processes that died mid-save (kill -9)."""
    root, removed = Path(ckpt_root), []
    for path in root.iterdir() if root.is_dir() else []:
        match = TEMPORARY.match(path.name)
        if match and not pid_alive(int(match.group(1) or match.group(2))):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def claim_run_dir(run_dir: str | Path, resume: str | None, overwrite: bool, writer: bool = True) -> None:
    """Make ``run_dir`` ready for a run, never silently reusing one that holds checkpoints.

    Resuming keeps everything; a new run in a folder that holds checkpoints, or any of the files a run writes
    (``RUN_OUTPUTS``: they may be a user's, or an earlier run's that never saved a checkpoint), needs ``overwrite``,
    which clears those and nothing else. Only the ``writer`` process (rank 0) deletes; every process checks, so
    all of them refuse together.
    """
    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ValueError("give --resume (continue the run) or --overwrite (start it over), not both")
    ckpt_root = run_dir / "checkpoints"
    if writer:
        clean_stale_temporaries(ckpt_root)
    if resume:
        return
    steps = step_dirs(ckpt_root)
    if steps and not overwrite:
        raise RunExistsError(
            f"{run_dir} already holds a run with checkpoints (up to {steps[-1].name}): continue it with "
            f"--resume auto, choose a new exp_name=..., or start it over with --overwrite (deletes them)"
        )
    earlier = [name for name in RUN_OUTPUTS if (run_dir / name).exists() or (run_dir / name).is_symlink()]
    if earlier and not overwrite:
        raise RunExistsError(
            f"{run_dir} already holds {', '.join(earlier)} (no checkpoint): choose a new exp_name=..., or pass "
            "--overwrite to delete them and start there"
        )
    if writer:
        for name in RUN_OUTPUTS:
            path = run_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
