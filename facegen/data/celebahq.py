"""CelebA-HQ: a folder of high-resolution faces, with the 40 attributes when the official CSV is beside them.

Layout: ``root/`` holds the images, named by their HQ index (``0.jpg`` ... ``29999.jpg``, or zero-padded), and
optionally ``list_attr_celebahq.txt`` (the official CSV: a header of the 40 names, then ``NNNNN.jpg,v1,...,v40``
with NNNNN = HQ index + 1) and the HQ -> CelebA mapping ``image_list.txt`` (``idx orig_idx orig_file ...``) with
CelebA's ``identity_CelebA.txt``, which give each face its identity. Images with other names (e.g. CelebAMask-HQ's
hashes) load unlabelled.
"""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np

from facegen.data.attributes import CELEBA_ATTRIBUTES, read_identity_file
from facegen.data.download import IDENTITY_FILE
from facegen.data.folder import ImageFolder

ATTRIBUTE_FILE = "list_attr_celebahq.txt"
MAPPING_FILE = "image_list.txt"


def read_celebahq_mapping(path: str | os.PathLike) -> dict[int, str]:
    """``image_list.txt`` -> {HQ index: original CelebA file name}."""
    lines = Path(path).read_text().splitlines()[1:]
    return {int(parts[0]): parts[2] for parts in (line.split() for line in lines) if len(parts) >= 3}


def read_celebahq_attributes(path: str | os.PathLike) -> np.ndarray:
    """The official CSV -> int8 [30000, 40] indexed by HQ index."""
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    names = [name.strip() for name in rows[0][1:]]
    if tuple(names) != CELEBA_ATTRIBUTES:
        raise ValueError(f"{path}: the header does not list the 40 CelebA attributes in the official order")
    table = np.zeros((len(rows) - 1, len(names)), dtype=np.int8)
    for line, row in enumerate(rows[1:], start=2):
        index = int(Path(row[0]).stem) - 1
        if not 0 <= index < len(table) or len(row) != len(names) + 1:
            raise ValueError(f"{path}, line {line}: expected NNNNN.jpg and 40 values, got {row[:3]}...")
        table[index] = [int(v) for v in row[1:]]
    return table


class CelebAHQ(ImageFolder):
    kind = "celebahq"

    def __init__(
        self,
        root: str | os.PathLike,
        image_size: int = 256,
        crop: int | None = None,
        flip: bool = False,
        max_images: int | None = None,
    ) -> None:
        super().__init__(root, image_size, crop, flip, max_images=max_images)
        attribute_file, mapping_file = self.root / ATTRIBUTE_FILE, self.root / MAPPING_FILE
        if not attribute_file.exists() and not mapping_file.exists():
            return
        stems = [Path(name).stem for name in self.filenames]
        unnamed = [s for s in stems if not s.isdigit() or int(s) >= 30_000]
        if unnamed:
            raise ValueError(
                f"{attribute_file.name}/{mapping_file.name} label images by HQ index, but {len(unnamed)} image(s) in "
                f"{self.root} are not named by one (e.g. {unnamed[:3]}); rename them 0.jpg ... 29999.jpg"
            )
        indices = [int(s) for s in stems]
        if attribute_file.exists():
            self.attributes = read_celebahq_attributes(attribute_file)[indices]
        identity_file = self.root / IDENTITY_FILE
        if mapping_file.exists() and identity_file.exists():
            mapping, identities = read_celebahq_mapping(mapping_file), read_identity_file(identity_file)
            # -1 where the identity file does not cover a face's original (e.g. a CelebA subset).
            self.identities = np.array([identities.get(mapping.get(i), -1) for i in indices], dtype=np.int64)
            if (unknown := int((self.identities < 0).sum())) > 0:
                warnings.warn(f"{unknown} of {len(indices)} CelebA-HQ faces have no identity in {identity_file}")
