"""Reference sets of real faces ("celeba:test", "folder:/path") and their feature statistics, cached on disk.

Statistics live in ``${FACEGEN_CACHE_DIR:-~/.cache/facegen}/refstats/`` as safetensors (no pickle), one file per
(dataset, split, size, crop, image count, root, feature extractor and its weights). Each holds ``mu``, ``sigma``
(float64, from all images), ``features`` (float32, at most MAX_STORED_FEATURES, for KID), ``num_images``, and
for the attribute classifier ``logits`` and the CelebA ``labels`` (consistency of real faces).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from hashlib import sha1
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load_file, save

from facegen.config import CELEBA_CROP
from facegen.data import PREPROCESSING, SPLITS, ImageCache, load_or_build_cache
from facegen.data.roots import data_path
from facegen.evaluation.distances import gaussian_statistics
from facegen.evaluation.features import FeatureExtractor, extract_features
from facegen.utils.io import atomic_write_bytes, cache_root

REFERENCE_KINDS = ("celeba", "folder")
MAX_STORED_FEATURES = 10_000  # KID uses subsets of at most 1,000, so a seeded 10k sample loses nothing


@dataclass(frozen=True)
class ReferenceSpec:
    dataset: str  # "celeba" or "folder"
    root: str
    split: str | None  # CelebA split; None for a folder
    image_size: int
    crop: int | None  # 178 for CelebA (official box), None = largest centred square for a folder
    max_images: int | None = None

    @property
    def name(self) -> str:
        return f"celeba:{self.split}" if self.dataset == "celeba" else f"folder:{self.root}"

    def describe(self) -> dict[str, Any]:
        return {"ref": self.name, **asdict(self), "preprocessing": PREPROCESSING}

    def cache_key(self) -> str:
        crop = "square" if self.crop is None else self.crop
        # the preprocessing too: statistics of images decoded another way are not these images' statistics
        root_hash = sha1(f"{self.root}|{PREPROCESSING}".encode()).hexdigest()[:8]
        count = "all" if self.max_images is None else self.max_images
        return f"{self.dataset}-{self.split or 'all'}-{self.image_size}px-crop{crop}-n{count}-{root_hash}"


def parse_reference(
    ref: str, image_size: int, celeba_root: str | os.PathLike | None = None, max_images: int | None = None
) -> ReferenceSpec:
    """``"celeba:test"`` / ``"celeba:valid"`` (needs ``celeba_root``) or ``"folder:/path/to/faces"``."""
    kind, sep, value = ref.partition(":")
    if not sep or kind not in REFERENCE_KINDS or not value:
        raise ValueError(f"reference {ref!r} must look like 'celeba:SPLIT' or 'folder:PATH'")
    if kind == "celeba":
        if value not in SPLITS:
            raise ValueError(f"unknown CelebA split {value!r} in {ref!r}; choose one of {list(SPLITS)}")
        if celeba_root is None:
            raise ValueError(f"reference {ref!r} needs celeba_root (the folder holding list_attr_celeba.txt)")
        root = data_path(celeba_root).resolve()
        return ReferenceSpec("celeba", str(root), value, image_size, CELEBA_CROP, max_images)
    root = data_path(value).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"reference folder not found: {root}")
    return ReferenceSpec("folder", str(root), None, image_size, None, max_images)


def refstats_dir() -> Path:
    return cache_root() / "refstats"


def reference_images(spec: ReferenceSpec) -> ImageCache:
    """The reference faces, decoded once into facegen's image cache (the same pixels training sees)."""
    return load_or_build_cache(
        spec.dataset, spec.root, spec.split or "all", spec.image_size, spec.crop, max_images=spec.max_images
    )


def _summarize(outputs: dict[str, torch.Tensor], labels: np.ndarray | None) -> dict[str, np.ndarray]:
    features = outputs["features"].numpy()
    full = gaussian_statistics(features)
    stats = {"mu": full["mu"], "sigma": full["sigma"]}  # the low-rank factor is cheap to rebuild, large to store
    if len(features) > MAX_STORED_FEATURES:
        keep = np.sort(np.random.default_rng(0).choice(len(features), MAX_STORED_FEATURES, replace=False))
        features = features[keep]
    stats["features"] = np.ascontiguousarray(features, dtype=np.float32)
    stats["num_images"] = np.array(len(outputs["features"]))
    if "detected" in outputs:
        stats["detection_rate"] = np.array(outputs["detected"].mean().item())
    if "logits" in outputs:
        stats["logits"] = outputs["logits"].numpy().astype(np.float32)
        if labels is not None:
            stats["labels"] = np.asarray(labels, dtype=np.int8)
    return stats


def reference_gaussian(stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``mu``/``sigma`` for the Fréchet distance; rebuilt from the features when all are stored, which gives
    the same numbers plus the low-rank factor that makes FD fast for sets smaller than the feature size."""
    if len(stats["features"]) == int(stats["num_images"]):
        return gaussian_statistics(stats["features"])
    return {"mu": stats["mu"], "sigma": stats["sigma"]}


def reference_statistics(
    spec: ReferenceSpec, extractors: dict[str, FeatureExtractor], batch_size: int = 64
) -> dict[str, dict[str, np.ndarray]]:
    """``{extractor name: statistics}``, read from the cache or computed in one pass over the images and saved."""
    folder = refstats_dir()
    paths = {name: folder / f"{spec.cache_key()}-{extractor.id}.safetensors" for name, extractor in extractors.items()}
    stats = {name: load_file(path) for name, path in paths.items() if path.is_file()}
    missing = {name: extractor for name, extractor in extractors.items() if name not in stats}
    if not missing:
        return stats
    cache = reference_images(spec)
    batches = (torch.from_numpy(np.array(cache.images[i : i + batch_size])) for i in range(0, len(cache), batch_size))
    outputs = extract_features(missing, batches, total=len(cache), desc=f"reference {spec.name}")
    for name, extractor in missing.items():
        stats[name] = _summarize(outputs[name], cache.attributes)
        metadata = {"reference": json.dumps(spec.describe()), "extractor": json.dumps(extractor.protocol)}
        atomic_write_bytes(paths[name], save(stats[name], metadata=metadata))
    return stats
