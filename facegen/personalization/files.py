"""Safetensors files with a JSON header: the subject file and the resume state, written atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save

from facegen.utils.io import atomic_write_bytes

HEADER_KEY = "facegen"  # safetensors metadata is str -> str: one key holding our JSON


def write_tensors(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    atomic_write_bytes(path, save(tensors, metadata={HEADER_KEY: json.dumps(meta, sort_keys=True)}))


def read_tensors(path: str | Path, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, meta) of a file that ``write_tensors`` wrote with ``meta["format"] == kind``; else one line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        tensors = load(data)
        header_size = int.from_bytes(data[:8], "little")
        meta = json.loads(json.loads(data[8 : 8 + header_size])["__metadata__"][HEADER_KEY])
    except (SafetensorError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ValueError(f"{path} is not a {kind} file (damaged, or not written by facegen)") from None
    if meta.get("format") != kind:
        raise ValueError(f"{path} is a {meta.get('format')!r} file, not a {kind} file")
    return tensors, meta
