"""Attribute consistency: how often the classifier agrees with the attributes a face was asked to have."""

from __future__ import annotations

from typing import Any

import torch

from facegen.data import CELEBA_ATTRIBUTES


def attribute_agreement(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, Any]:
    """Agreement of ``logits > 0`` with ``targets`` in {-1, 0, +1} [N, 40]; 0 = unspecified, ignored.

    ``mean`` is the fraction of all specified (image, attribute) pairs that agree; ``per_attribute`` the
    same per attribute (None for an attribute never specified); ``counts`` how often each was specified.
    Against full ±1 labels this is the classifier's accuracy.
    """
    if logits.shape != targets.shape or logits.shape[-1] != len(CELEBA_ATTRIBUTES):
        raise ValueError(f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} must both be [N, 40]")
    if not torch.isin(targets, torch.tensor([-1.0, 0.0, 1.0], dtype=targets.dtype)).all():
        raise ValueError("targets must hold only -1, 0 (unspecified) or +1")
    specified = targets != 0
    agree = ((logits > 0) == (targets > 0)) & specified
    counts = specified.sum(dim=0)
    hits = agree.sum(dim=0)
    total = int(counts.sum())
    return {
        "mean": float(hits.sum() / total) if total else None,
        "per_attribute": {
            name: (float(hit / count) if count else None)
            for name, hit, count in zip(CELEBA_ATTRIBUTES, hits.tolist(), counts.tolist())
        },
        "counts": dict(zip(CELEBA_ATTRIBUTES, counts.tolist())),
    }


def weighted_rate(per_attribute: dict[str, float | None], counts: dict[str, int]) -> float | None:
    """Average of per-attribute rates weighted by ``counts``: real faces' rate on the same attribute mix."""
    total = sum(counts[name] for name, rate in per_attribute.items() if rate is not None)
    if not total:
        return None
    return sum(rate * counts[name] for name, rate in per_attribute.items() if rate is not None) / total
