"""What CelebA and ImageFolder share: decoding files, skipping unreadable ones, the item dict."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from facegen.data.transforms import preprocess, random_hflip, to_model_range

# What a broken, truncated or non-image file raises from PIL's open/decode.
_UNREADABLE = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def limit(items: list, max_images: int | None) -> list:
    """The first ``max_images`` items (all when None): small, deterministic subsets for tests and smoke runs."""
    if max_images is None:
        return items
    if max_images < 1:
        raise ValueError(f"max_images must be positive or None, got {max_images}")
    return items[:max_images]


class ImageFileDataset(Dataset):
    """Images decoded from files. Subclasses choose the files and add their labels with ``labels()``.

    An unreadable file never ends an epoch: it is skipped (counted in ``num_skipped``, one warning per
    dataset) and the next readable image is returned; ``item["index"]`` is the index actually returned.
    With DataLoader workers, each worker counts in its own copy of the dataset.
    """

    kind: str
    split: str | None = None
    attributes: np.ndarray | None = None  # int8 [N, 40] aligned with filenames, when items carry attributes
    identities: np.ndarray | None = None  # int64 [N], when items carry identities

    def __init__(
        self,
        root: Path,
        image_dir: Path,
        filenames: list[str],
        image_size: int,
        crop: int | None,
        flip: bool,
        max_images: int | None,
    ) -> None:
        self.root = root
        self.image_dir = image_dir
        self.filenames = filenames  # relative to image_dir; strings keep the pickle sent to workers small
        self.image_size = image_size
        self.crop = crop
        self.flip = flip
        self.max_images = max_images
        self._unreadable: set[int] = set()

    @property
    def num_skipped(self) -> int:
        return len(self._unreadable)

    def __len__(self) -> int:
        return len(self.filenames)

    def describe(self) -> dict[str, Any]:
        """The settings that determine the pixels and labels: what a cache must match."""
        return {
            "kind": self.kind,
            "root": str(self.root.resolve()),
            "split": self.split,
            "image_size": self.image_size,
            "crop": self.crop,
            "max_images": self.max_images,
        }

    def load_uint8(self, index: int) -> torch.Tensor | None:
        """The preprocessed uint8 image [3, H, W], or None (and counted) when the file cannot be decoded."""
        path = self.image_dir / self.filenames[index]
        try:
            with Image.open(path) as img:
                return preprocess(img, self.image_size, self.crop)
        except _UNREADABLE as err:
            if not self._unreadable:
                warnings.warn(
                    f"skipping unreadable image {path} ({type(err).__name__}: {err}); "
                    f"later unreadable images are skipped silently and counted in num_skipped",
                    RuntimeWarning,
                    stacklevel=2,
                )
            self._unreadable.add(index)
            return None

    def labels(self, index: int) -> dict[str, torch.Tensor]:
        """Extra item fields for image ``index``: attributes and identity, when the dataset has them."""
        fields = {}
        if self.attributes is not None:
            fields["attributes"] = torch.from_numpy(self.attributes[index].astype(np.float32))
        if self.identities is not None:
            fields["identity"] = torch.tensor(self.identities[index], dtype=torch.int64)
        return fields

    def __getitem__(self, index: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for {n} images")
        for offset in range(n):
            i = (index + offset) % n
            image = self.load_uint8(i)
            if image is not None:
                break
        else:
            raise RuntimeError(f"none of the {n} images under {self.root} could be decoded")
        x = to_model_range(image)
        if self.flip:
            x = random_hflip(x[None])[0]
        return {"image": x, **self.labels(i), "index": i}
