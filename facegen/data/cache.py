"""Decode a dataset once into memory-mapped .npy files, so training reads batches and never decodes JPEGs.

A cache folder holds ``images.npy`` (uint8 [N, 3, H, W], channel-first so a batch is one fancy index),
``attributes.npy`` (int8 [N, 40]) and ``identities.npy`` (int64 [N]) when the dataset has them,
``filenames.txt`` and ``meta.json``. It is built in a temporary sibling folder and renamed into place,
so a folder with that name is always complete.
"""

from __future__ import annotations

import json
import os
import warnings
from datetime import datetime, timezone
from hashlib import sha1
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from facegen import __version__
from facegen.data.attributes import CELEBA_ATTRIBUTES
from facegen.data.base import ImageFileDataset
from facegen.data.builders import build_dataset, resolve_crop
from facegen.data.download import IDENTITY_FILE
from facegen.data.roots import data_path
from facegen.data.rows import CachedArrays
from facegen.data.transforms import PREPROCESSING, to_model_range
from facegen.utils.io import atomic_folder, cache_root, preallocated_npy

CACHE_FORMAT = 1  # bump when the file layout changes, so old caches are rebuilt rather than misread
_COPY_ROWS = 4096


def _settings(
    kind: str,
    root: str | os.PathLike,
    split: str,
    image_size: int,
    crop: int | str | None,
    max_images: int | None,
) -> dict[str, Any]:
    """What a cache's meta must hold to be reused; the same keys as ``ImageFileDataset.describe()`` and more."""
    return {
        "kind": kind,
        "root": str(Path(root).expanduser().resolve()),
        "split": split if kind == "celeba" else None,  # a folder has no split: every split shares one cache
        "image_size": image_size,
        "crop": resolve_crop(kind, crop),
        "max_images": max_images,
        "format": CACHE_FORMAT,
        "preprocessing": PREPROCESSING,
    }


def cache_path_for(
    kind: str,
    root: str | os.PathLike,
    split: str = "train",
    image_size: int = 64,
    crop: int | str | None = "auto",
    max_images: int | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """``<cache_root(cache_dir)>/<kind>-<split>-<size>px-crop<crop>-<hash>``.

    The hash covers the resolved root and ``max_images``; ``crop`` None is written ``cropsquare``.
    """
    settings = _settings(kind, root, split, image_size, crop, max_images)
    digest = sha1(f"{settings['root']}|{max_images}".encode()).hexdigest()[:10]
    crop_tag = "square" if settings["crop"] is None else settings["crop"]
    name = f"{kind}-{settings['split'] or 'all'}-{image_size}px-crop{crop_tag}-{digest}"
    return cache_root(cache_dir) / name


class _Decoded(Dataset):
    """(index, uint8 image or None) pairs, so the builder can leave unreadable images out."""

    def __init__(self, dataset: ImageFileDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[int, torch.Tensor | None]:
        return index, self.dataset.load_uint8(index)


def _as_list(batch: list) -> list:
    return batch


def _keep_first_rows(path: Path, count: int) -> None:
    """Rewrite an .npy file with only its first ``count`` rows (after skipped images left the tail unused)."""
    full = np.load(path, mmap_mode="r")
    trimmed_path = path.with_name(f"trimmed-{path.name}")
    trimmed = preallocated_npy(trimmed_path, full.dtype, (count, *full.shape[1:]))
    for start in range(0, count, _COPY_ROWS):
        stop = min(start + _COPY_ROWS, count)
        trimmed[start:stop] = full[start:stop]
    trimmed.flush()
    del trimmed, full
    os.replace(trimmed_path, path)


def _decode_images(dataset: ImageFileDataset, out: Path, num_workers: int, batch_size: int) -> np.ndarray:
    """Write the readable images in order into ``out/images.npy``; return their dataset indices."""
    n, size = len(dataset), dataset.image_size
    images = preallocated_npy(out / "images.npy", np.uint8, (n, 3, size, size))
    kept: list[int] = []
    loader = DataLoader(_Decoded(dataset), batch_size=batch_size, num_workers=num_workers, collate_fn=_as_list)
    with tqdm(total=n, unit="img", desc=f"caching {dataset.kind} at {size}px") as bar:
        for batch in loader:
            for index, image in batch:
                if image is not None:
                    images[len(kept)] = image.numpy()
                    kept.append(index)
            bar.update(len(batch))
    images.flush()
    del images
    if not kept:
        raise ValueError(f"none of the {n} images under {dataset.root} could be decoded")
    if len(kept) < n:
        _keep_first_rows(out / "images.npy", len(kept))
    return np.array(kept, dtype=np.int64)


def build_cache(
    dataset: ImageFileDataset,
    out_dir: str | os.PathLike,
    num_workers: int = 2,
    batch_size: int = 256,
) -> Path:
    """Decode ``dataset`` (built with flip=False) into a cache folder at ``out_dir``; return its path.

    Unreadable images are left out and counted in ``meta["num_skipped"]``.
    """
    if dataset.flip:
        raise ValueError("build the cache from a dataset with flip=False: the trainer flips batches itself")
    out_dir = Path(out_dir).expanduser()
    with atomic_folder(out_dir) as building:
        kept = _decode_images(dataset, building, num_workers, batch_size)
        if dataset.attributes is not None:
            np.save(building / "attributes.npy", dataset.attributes[kept])
        if dataset.identities is not None:
            np.save(building / "identities.npy", dataset.identities[kept].astype(np.int64))
        (building / "filenames.txt").write_text("".join(f"{dataset.filenames[i]}\n" for i in kept))
        num_skipped = len(dataset) - len(kept)
        meta = {
            **dataset.describe(),
            "format": CACHE_FORMAT,
            "preprocessing": PREPROCESSING,
            "count": len(kept),
            "num_skipped": num_skipped,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "facegen_version": __version__,
        }
        (building / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    if num_skipped:
        warnings.warn(f"{num_skipped} unreadable images were left out of the cache at {out_dir}", RuntimeWarning)
    return out_dir


def _load_if_present(path: Path) -> np.ndarray | None:
    return np.load(path, mmap_mode="r") if path.exists() else None


class ImageCache(CachedArrays, Dataset):
    """A built cache, memory-mapped (or on an accelerator after ``to(device)``). Items and batches are dicts like
    the datasets'."""

    array_names = ("images", "attributes", "identities")

    def __init__(
        self,
        path: Path,
        images: np.ndarray,
        attributes: np.ndarray | None,
        identities: np.ndarray | None,
        filenames: list[str],
        meta: dict[str, Any],
    ) -> None:
        self.path = path
        self.images = images
        self.attributes = attributes
        self.identities = identities
        self.filenames = filenames
        self.meta = meta
        self.attribute_names = CELEBA_ATTRIBUTES if attributes is not None else None

    @classmethod
    def open(cls, path: str | os.PathLike) -> ImageCache:
        path = Path(path).expanduser()
        if not (path / "meta.json").exists():
            raise FileNotFoundError(f"no complete image cache at {path} (meta.json is missing)")
        return cls(
            path,
            images=np.load(path / "images.npy", mmap_mode="r"),
            attributes=_load_if_present(path / "attributes.npy"),
            identities=_load_if_present(path / "identities.npy"),
            filenames=(path / "filenames.txt").read_text().splitlines(),
            meta=json.loads((path / "meta.json").read_text()),
        )

    def __reduce__(self):
        # Reopen in the receiving process: pickling a memmap would copy every image.
        return ImageCache.open, (self.path,)

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, indices: np.ndarray | torch.Tensor, flip: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Images [B, 3, H, W] float in [-1, 1] (mirrored where ``flip``), and attributes [B, 40] float /
        identity [B] when present, on the cache's device."""
        image = to_model_range(self.rows(self.images, indices))
        if flip is not None:
            image = torch.where(flip.to(image.device)[:, None, None, None], image.flip(-1), image)
        fields = {"image": image}
        if self.attributes is not None:
            fields["attributes"] = self.rows(self.attributes, indices).float()
        if self.identities is not None:
            fields["identity"] = self.rows(self.identities, indices).long()
        return fields

    def __getitem__(self, index: int) -> dict[str, Any]:
        index = range(len(self))[index]  # IndexError when out of range; negative indices count from the end
        return {name: value[0] for name, value in self.batch(np.array([index])).items()} | {"index": index}


def load_or_build_cache(
    kind: str,
    root: str | os.PathLike,
    split: str,
    image_size: int,
    crop: int | str | None,
    max_images: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    num_workers: int = 2,
) -> ImageCache:
    """Open the cache for these settings, building it first when it is missing or was built differently.

    CelebA caches carry identities whenever ``identity_CelebA.txt`` is present.
    """
    root = data_path(root)
    path = cache_path_for(kind, root, split, image_size, crop, max_images, cache_dir)
    wanted = _settings(kind, root, split, image_size, crop, max_images)
    try:
        cache = ImageCache.open(path)
        if {key: cache.meta.get(key) for key in wanted} == wanted:
            return cache
    except (OSError, ValueError):  # missing or unreadable: rebuild
        pass
    has_identities = kind == "celeba" and (root / IDENTITY_FILE).exists()
    dataset = build_dataset(
        kind, root, split, image_size, crop, flip=False, return_identity=has_identities, max_images=max_images
    )
    print(f"facegen: caching {len(dataset)} {kind} images at {image_size}px into {path}", flush=True)
    build_cache(dataset, path, num_workers=num_workers)
    return ImageCache.open(path)
