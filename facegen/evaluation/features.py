"""Feature extractors share one small interface, so FID, FD_attr and the reference cache treat them alike."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from facegen.utils.pixels import to_uint8


class FeatureExtractor(Protocol):
    """uint8 images [B, 3, H, W] -> named float tensors [B, ...] (always "features"; maybe "logits")."""

    id: str  # names the network and its weights: part of every reference-statistics cache key
    protocol: dict[str, Any]  # what a report records about it

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]: ...


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def to_uint8_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 passes through; float is read as model range [-1, 1] and rounded the way the data pipeline is."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected images [B, 3, H, W], got shape {tuple(images.shape)}")
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [-1, 1], got dtype {images.dtype}")
    return to_uint8(images.detach().cpu())


@torch.inference_mode()
def extract_features(
    extractors: dict[str, FeatureExtractor],
    batches: Iterable[torch.Tensor],
    total: int | None = None,
    desc: str = "features",
) -> dict[str, dict[str, torch.Tensor]]:
    """Run every extractor over the same uint8 batches in one pass: ``{extractor: {output: [N, ...]}}``."""
    outputs: dict[str, dict[str, list[torch.Tensor]]] = {name: {} for name in extractors}
    with tqdm(total=total, unit="img", desc=desc, leave=False) as bar:
        for batch in batches:
            batch = to_uint8_images(batch)
            for name, extractor in extractors.items():
                for key, value in extractor(batch).items():
                    outputs[name].setdefault(key, []).append(value.float().cpu())
            bar.update(len(batch))
    return {name: {key: torch.cat(parts) for key, parts in named.items()} for name, named in outputs.items()}
