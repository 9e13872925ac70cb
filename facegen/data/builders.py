"""Build a dataset by kind (training reads the decoded cache, facegen.data.cache, instead of a DataLoader)."""

from __future__ import annotations

import os

from facegen.config import CELEBA_CROP
from facegen.data.base import ImageFileDataset
from facegen.data.celeba import CelebA
from facegen.data.celebahq import CelebAHQ
from facegen.data.folder import ImageFolder

DATASET_KINDS = ("celeba", "celebahq", "folder")
DEFAULT_CROP = {"celeba": CELEBA_CROP, "celebahq": None, "folder": None}


def resolve_crop(kind: str, crop: int | str | None) -> int | None:
    """``"auto"`` -> the usual crop of each kind: 178 for aligned CelebA, the largest square for a folder."""
    if kind not in DATASET_KINDS:
        raise ValueError(f"dataset kind must be one of {DATASET_KINDS}, got {kind!r}")
    if crop == "auto":
        return DEFAULT_CROP[kind]
    if crop is not None and not isinstance(crop, int):
        raise ValueError(f"crop must be an int, None or 'auto', got {crop!r}")
    return crop


def build_dataset(
    kind: str = "celeba",
    root: str | os.PathLike | None = None,
    split: str = "train",
    image_size: int = 64,
    crop: int | str | None = "auto",
    flip: bool = False,
    return_attributes: bool = True,
    return_identity: bool = False,
    max_images: int | None = None,
) -> ImageFileDataset:
    """A ``CelebA`` (kind "celeba") or an ``ImageFolder`` (kind "folder": split and labels do not apply)."""
    crop = resolve_crop(kind, crop)
    if root is None:
        raise ValueError(f"build_dataset needs the root folder of the {kind} data")
    if kind == "celeba":
        return CelebA(root, split, image_size, crop, flip, return_attributes, return_identity, max_images)
    if kind == "celebahq":
        return CelebAHQ(root, image_size, crop, flip, max_images=max_images)
    return ImageFolder(root, image_size, crop, flip, max_images=max_images)
