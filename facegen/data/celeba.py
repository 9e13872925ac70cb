"""CelebA in its official layout: aligned JPEGs, 40 binary attributes, train/valid/test split, identities."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facegen.config import CELEBA_CROP
from facegen.data.attributes import (
    CELEBA_ATTRIBUTES,
    read_attribute_file,
    read_identity_file,
    read_partition_file,
)
from facegen.data.base import ImageFileDataset, limit
from facegen.data.download import (
    ATTRIBUTE_FILE,
    IDENTITY_FILE,
    IMAGE_DIR,
    PARTITION_FILE,
    how_to_get_celeba,
)
from facegen.data.roots import data_path

SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}


def _check_same_images(listed: list[str], on_disk: set[str], attribute_path: Path, image_dir: Path) -> None:
    """The attribute file and the image folder must describe the same images, or labels would be wrong."""
    listed_set = set(listed)
    missing = sorted(listed_set - on_disk)
    unlabelled = sorted(on_disk - listed_set)
    problems = []
    if missing:
        problems.append(f"{len(missing)} images listed in {attribute_path} are not in {image_dir} (e.g. {missing[:3]})")
    if unlabelled:
        problems.append(
            f"{len(unlabelled)} images in {image_dir} have no row in {attribute_path} (e.g. {unlabelled[:3]})"
        )
    if problems:
        raise ValueError(
            "; ".join(problems) + ". The attribute file and the image folder must list the same images "
            "(a subset of CelebA needs an attribute file with the rows of that subset only)."
        )


def _lookup(table: dict[str, int], names: list[str], path: Path) -> np.ndarray:
    absent = [name for name in names if name not in table]
    if absent:
        raise ValueError(f"{len(absent)} images have no row in {path} (e.g. {absent[:3]})")
    return np.array([table[name] for name in names], dtype=np.int64)


class CelebA(ImageFileDataset):
    """CelebA faces as dicts ``{"image", "attributes"?, "identity"?, "index"}``; see ``ImageFileDataset``.

    Images keep the order of the attribute file (sorted ids). The partition and identity files may list
    more images than are present (the official files cover all 202,599); the attribute file may not.
    """

    kind = "celeba"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        image_size: int = 64,
        crop: int | None = CELEBA_CROP,
        flip: bool = False,
        return_attributes: bool = True,
        return_identity: bool = False,
        max_images: int | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        root = data_path(root)
        image_dir, attribute_path = root / IMAGE_DIR, root / ATTRIBUTE_FILE
        partition_path, identity_path = root / PARTITION_FILE, root / IDENTITY_FILE
        required = [image_dir, attribute_path, partition_path] + ([identity_path] if return_identity else [])
        missing = [str(root)] if not root.is_dir() else [str(path) for path in required if not path.exists()]
        if missing:
            raise FileNotFoundError(f"CelebA not found (missing: {', '.join(missing)}). " + how_to_get_celeba(root))

        names, values = read_attribute_file(attribute_path)
        on_disk = {entry.name for entry in os.scandir(image_dir) if entry.name.endswith(".jpg") and entry.is_file()}
        _check_same_images(names, on_disk, attribute_path, image_dir)
        partition = _lookup(read_partition_file(partition_path), names, partition_path)

        wanted = SPLITS[split]
        keep = limit([i for i in range(len(names)) if wanted is None or partition[i] == wanted], max_images)
        if not keep:
            raise ValueError(f"split {split!r} of {root} has no images")
        filenames = [names[i] for i in keep]
        super().__init__(root, image_dir, filenames, image_size, crop, flip, max_images)
        self.split = split
        self.attribute_names = CELEBA_ATTRIBUTES
        self.attributes = values[keep] if return_attributes else None
        if return_identity:
            self.identities = _lookup(read_identity_file(identity_path), filenames, identity_path)
