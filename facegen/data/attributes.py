"""Readers for the official CelebA annotation files (attributes, partition, identities).

The files are whitespace-separated text with CRLF line endings in the original release; text mode and
``str.split()`` take care of both the ``\\r`` and the runs of spaces that pad single-digit values.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip
_ALLOWED_VALUES = frozenset({"-1", "1"})


def _numbered_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(1-based line number, tokens) of every non-blank line."""
    with open(path, encoding="utf-8") as f:
        return [(n, line.split()) for n, line in enumerate(f, start=1) if line.strip()]


def read_attribute_file(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Parse ``list_attr_celeba.txt``: filenames and an int8 array [N, 40] with values in {-1, 1}."""
    path = Path(path)
    lines = _numbered_lines(path)
    if len(lines) < 2:
        raise ValueError(f"{path}: expected a count line and a header line, found {len(lines)} non-blank lines")
    (_, count_tokens), (_, names), rows = lines[0], lines[1], lines[2:]
    if len(count_tokens) != 1 or not count_tokens[0].isdigit():
        raise ValueError(f"{path}, line 1: expected the image count, found {' '.join(count_tokens)!r}")
    if tuple(names) != CELEBA_ATTRIBUTES:
        raise ValueError(
            f"{path}, line 2: the attribute names differ from the 40 official CelebA names "
            f"(found {len(names)} names; unexpected: {sorted(set(names) - set(CELEBA_ATTRIBUTES))[:5]}, "
            f"missing: {sorted(set(CELEBA_ATTRIBUTES) - set(names))[:5]}, or a different order)"
        )
    if int(count_tokens[0]) != len(rows):
        raise ValueError(f"{path}, line 1: says {count_tokens[0]} images but the file has {len(rows)} rows")

    filenames: list[str] = []
    values: list[list[str]] = []
    for number, tokens in rows:
        if len(tokens) != 1 + len(CELEBA_ATTRIBUTES):
            raise ValueError(f"{path}, line {number}: expected a filename and 40 values, found {len(tokens)} fields")
        if not _ALLOWED_VALUES.issuperset(tokens[1:]):
            raise ValueError(f"{path}, line {number}: attribute values must be -1 or 1, found {' '.join(tokens[1:])}")
        filenames.append(tokens[0])
        values.append(tokens[1:])
    array = np.array(values, dtype=np.int8).reshape(len(rows), len(CELEBA_ATTRIBUTES))
    return filenames, array


def _read_labels(path: Path, allowed: set[int] | None) -> dict[str, int]:
    labels: dict[str, int] = {}
    for number, tokens in _numbered_lines(path):
        if len(tokens) != 2 or not tokens[1].lstrip("-").isdigit():
            raise ValueError(f"{path}, line {number}: expected 'FILENAME INTEGER', found {' '.join(tokens)!r}")
        value = int(tokens[1])
        if allowed is not None and value not in allowed:
            raise ValueError(f"{path}, line {number}: value {value} is not one of {sorted(allowed)}")
        labels[tokens[0]] = value
    return labels


def read_partition_file(path: str | os.PathLike) -> dict[str, int]:
    """Parse ``list_eval_partition.txt``: filename -> 0 (train), 1 (valid) or 2 (test)."""
    return _read_labels(Path(path), allowed={0, 1, 2})


def read_identity_file(path: str | os.PathLike) -> dict[str, int]:
    """Parse ``identity_CelebA.txt``: filename -> identity number."""
    return _read_labels(Path(path), allowed=None)
