"""Safetensors files with a JSON header: the subject file and the resume state, written atomically.

Such files may come from anyone, so reading one is bounded: the header is read alone first (its size capped),
the file's size must be what the header describes (a sparse 3 GB file is refused before it is read), the caller
may check names, shapes and dtypes against what it expects before any tensor exists, and tensors holding NaN or
infinity are refused. Writing refuses non-finite tensors too: a diverged run never leaves a file behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from facegen.utils.io import atomic_write_bytes

HEADER_KEY = "facegen"  # safetensors metadata is str -> str: one key holding our JSON
MAX_HEADER_BYTES = 16 << 20  # names, shapes and our JSON; safetensors itself allows 100 MB
Layout = dict[str, tuple[str, tuple[int, ...]]]  # tensor name -> (safetensors dtype, shape), from the header


def _non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    return next((k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)


def write_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    bad = _non_finite(tensors)
    if bad is not None:
        raise FloatingPointError(f"{path} not written: {bad} holds NaN or infinite values (the training diverged)")
    atomic_write_bytes(path, save(tensors, metadata={HEADER_KEY: json.dumps(meta, sort_keys=True)}))


def _read_header(path: Path) -> tuple[Layout, dict[str, Any]]:
    """(layout, meta) from the header alone; a ValueError when the file's size is not what the header describes."""
    with open(path, "rb") as handle:
        size = path.stat().st_size
        length = int.from_bytes(handle.read(8), "little")
        if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
            raise ValueError("header size")
        header = json.loads(handle.read(length))
    meta = json.loads(header.pop("__metadata__")[HEADER_KEY])
    layout = {name: (entry["dtype"], tuple(entry["shape"])) for name, entry in header.items()}
    end = max((entry["data_offsets"][1] for entry in header.values()), default=0)
    if size != 8 + length + end:
        raise ValueError("file size")
    return layout, meta


def read_layout(path: str | Path, kind: str) -> tuple[Layout, dict[str, Any]]:
    """(layout, meta) of a file that ``write_tensors`` wrote with ``meta["format"] == kind``, from its header
    alone; else one line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        layout, meta = _read_header(path)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, UnicodeDecodeError):
        raise ValueError(f"{path} is not a {kind} file (damaged, or not written by facegen)") from None
    if not isinstance(meta, dict) or meta.get("format") != kind:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path} is a {found!r} file, not a {kind} file")
    return layout, meta


def read_tensors(
    path: str | Path, kind: str, check: Callable[[Layout, dict[str, Any]], None] | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, meta) of a ``kind`` file; ``check(layout, meta)`` runs on the header before the tensors are read
    and raises ValueError to refuse."""
    path = Path(path)
    layout, meta = read_layout(path, kind)
    if check is not None:
        check(layout, meta)
    try:
        tensors = load(path.read_bytes())
    except SafetensorError:
        raise ValueError(f"{path} is not a {kind} file (damaged, or not written by facegen)") from None
    bad = _non_finite(tensors)
    if bad is not None:
        raise ValueError(f"{path}: {bad} holds NaN or infinite values; the {kind} file is unusable")
    return tensors, meta
