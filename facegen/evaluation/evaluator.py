"""``evaluate``: every metric for a set of generated faces in one pass, with the protocol that produced it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from facegen.evaluation.classifier import ClassifierFeatures
from facegen.evaluation.clip_score import ClipScorer, clip_score_from_embeddings
from facegen.evaluation.consistency import attribute_agreement, weighted_rate
from facegen.evaluation.distances import KID_SUBSET_SIZE, KID_SUBSETS, frechet_distance, gaussian_statistics, kernel_distance, kid_subset_size
from facegen.evaluation.features import FeatureExtractor, extract_features
from facegen.evaluation.inception import InceptionFeatures
from facegen.evaluation.metric_names import (
    ALL_METRICS,
    ATTR_CONSISTENCY,
    CLIP_SCORE,
    FD_ATTR,
    FID,
    KID,
    KID_ATTR,
    LOWER_IS_BETTER,
)
from facegen.evaluation.references import parse_reference, reference_statistics

Images = torch.Tensor | Iterable[torch.Tensor]

NEEDS_REFERENCE = frozenset({FID, KID, FD_ATTR, KID_ATTR, ATTR_CONSISTENCY})
NOT_COMPARABLE = (
    "fd_attr/kid_attr are Frechet distance/KID in facegen's own CelebA attribute classifier features, "
    "not Inception: not comparable with published FID/KID"
)


def _batches(generated: Images, batch_size: int) -> Iterator[torch.Tensor]:
    """A tensor [N, 3, H, W] is cut into batches; an iterable is taken as batches (single images allowed)."""
    if isinstance(generated, torch.Tensor):
        yield from generated.split(batch_size)
        return
    for batch in generated:
        yield batch[None] if batch.ndim == 3 else batch


def _check_metrics(metrics: Sequence[str]) -> list[str]:
    unknown = [name for name in metrics if name not in ALL_METRICS]
    if unknown or not metrics:
        raise ValueError(f"unknown or no metrics {unknown or list(metrics)}; choose from {list(ALL_METRICS)}")
    return list(dict.fromkeys(metrics))


def _as_targets(requested: torch.Tensor | np.ndarray | None, count: int) -> torch.Tensor:
    if requested is None:
        raise ValueError("attr_consistency needs requested_attributes: [N, 40] in {-1, 0, +1}, one row per image")
    targets = torch.as_tensor(np.asarray(requested), dtype=torch.float32)
    if targets.shape != (count, 40):
        raise ValueError(f"requested_attributes must be [{count}, 40] (one row per image), got {tuple(targets.shape)}")
    return targets


def evaluate(
    generated: Images,
    metrics: Sequence[str] = (FID, KID),
    ref: str = "celeba:test",
    image_size: int | None = None,
    celeba_root: str | os.PathLike | None = None,
    requested_attributes: torch.Tensor | np.ndarray | None = None,
    inception_weights: str | os.PathLike | None = None,
    classifier_weights: str | os.PathLike | None = None,
    clip_model: str | os.PathLike | None = None,
    prompts: Sequence[str] | None = None,
    max_reference_images: int | None = None,
    batch_size: int = 64,
    kid_subsets: int = KID_SUBSETS,
    kid_subset_size_max: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> dict[str, Any]:
    """Score generated faces (float [-1, 1] or uint8, [N, 3, H, W], or an iterable of such batches).

    Returns ``{"metrics": {name: float}, "per_attribute": {...}, "protocol": {...}}``. ``metrics`` holds the
    requested names plus ``kid_std``/``kid_attr_std`` and ``attr_consistency_real`` (the classifier's agreement
    with real reference faces' own labels, weighted like the request: the ceiling a perfect generator reaches).
    The reference is rendered at the generated images' size with the training preprocessing.
    Weights are checked before any image is processed, so a missing file fails fast.
    """
    metrics = _check_metrics(metrics)
    wanted = set(metrics)
    extractors: dict[str, FeatureExtractor] = {}
    if wanted & {FID, KID}:
        extractors["inception"] = InceptionFeatures(inception_weights)
    if wanted & {FD_ATTR, KID_ATTR, ATTR_CONSISTENCY}:
        extractors["classifier"] = ClassifierFeatures(classifier_weights)
    if CLIP_SCORE in wanted:
        if prompts is None:
            raise ValueError("clip_score needs prompts: one text per generated image")
        extractors["clip"] = ClipScorer(clip_model)
    if ATTR_CONSISTENCY in wanted and requested_attributes is None:
        _as_targets(None, 0)

    batches = _batches(generated, batch_size)
    first = next(batches, None)
    if first is None:
        raise ValueError("no generated images to evaluate")
    size = first.shape[-1]
    if first.shape[-2] != size or (image_size is not None and image_size != size):
        raise ValueError(f"generated images are {tuple(first.shape[-2:])}; expected square {image_size or size}px images")
    gen = extract_features(extractors, itertools.chain([first], batches), desc="generated")
    count = len(next(iter(next(iter(gen.values())).values())))

    values: dict[str, float | None] = {}
    per_attribute: dict[str, Any] = {}
    protocol: dict[str, Any] = {"metrics": metrics, "num_generated": count, "image_size": size}
    if wanted & NEEDS_REFERENCE:
        spec = parse_reference(ref, size, celeba_root, max_reference_images)
        ref_stats = reference_statistics(spec, {k: v for k, v in extractors.items() if k != "clip"}, batch_size)
        num_ref = int(next(iter(ref_stats.values()))["num_images"])
        protocol["reference"] = spec.describe() | {"num_images": num_ref}
        subset = kid_subset_size(count, min(num_ref, len(next(iter(ref_stats.values()))["features"])), kid_subset_size_max)
        if wanted & {KID, KID_ATTR}:
            protocol["kid"] = {
                "estimator": "unbiased MMD^2, kernel (x.y / dim + 1)^3",
                "subsets": kid_subsets,
                "subset_size": subset,
                "seed": seed,
            }
        for name, fd, kid in (("inception", FID, KID), ("classifier", FD_ATTR, KID_ATTR)):
            if name not in ref_stats:
                continue
            features = gen[name]["features"]
            protocol[name] = extractors[name].protocol
            if fd in wanted:
                values[fd] = frechet_distance(gaussian_statistics(features), ref_stats[name])
            if kid in wanted:
                values[kid], values[f"{kid}_std"] = kernel_distance(
                    features, ref_stats[name]["features"], kid_subsets, kid_subset_size_max, seed
                )
        if wanted & {FD_ATTR, KID_ATTR}:
            protocol["classifier"]["note"] = NOT_COMPARABLE
        if ATTR_CONSISTENCY in wanted:
            agreement = attribute_agreement(gen["classifier"]["logits"], _as_targets(requested_attributes, count))
            values[ATTR_CONSISTENCY] = agreement["mean"]
            per_attribute[ATTR_CONSISTENCY] = agreement["per_attribute"]
            per_attribute["requested_counts"] = agreement["counts"]
            real_stats = ref_stats["classifier"]
            if "labels" in real_stats:
                real = attribute_agreement(
                    torch.from_numpy(real_stats["logits"]), torch.from_numpy(real_stats["labels"].astype(np.float32))
                )
                values["attr_consistency_real"] = weighted_rate(real["per_attribute"], agreement["counts"])
                per_attribute["attr_consistency_real"] = real["per_attribute"]
    if CLIP_SCORE in wanted:
        if len(prompts) != count:
            raise ValueError(f"clip_score needs one prompt per image: {count} images, {len(prompts)} prompts")
        scorer = extractors["clip"]
        values[CLIP_SCORE] = clip_score_from_embeddings(gen["clip"]["features"], scorer.text_embeddings(list(prompts)))
        protocol["clip"] = scorer.protocol
    return {"metrics": values, "per_attribute": per_attribute, "protocol": protocol}


def format_report_table(report: dict[str, Any]) -> str:
    """A plain-text table of the metrics (with their direction) and the protocol lines that qualify them."""
    values, protocol = report["metrics"], report["protocol"]
    rows = [("metric", "value", "better")]
    for name in protocol["metrics"]:
        value = values.get(name)
        text = "n/a" if value is None else f"{value:.4f}"
        if f"{name}_std" in values:
            text += f" ± {values[f'{name}_std']:.4f}"
        rows.append((name, text, "lower" if name in LOWER_IS_BETTER else "higher"))
        if name == ATTR_CONSISTENCY and values.get("attr_consistency_real") is not None:
            rows.append(("  real faces", f"{values['attr_consistency_real']:.4f}", "(ceiling)"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.append(f"generated: {protocol['num_generated']} images at {protocol['image_size']}px")
    if "reference" in protocol:
        ref = protocol["reference"]
        lines.append(f"reference: {ref['ref']}, {ref['num_images']} images, crop {ref['crop']}, {ref['image_size']}px")
    if "inception" in protocol:
        inception = protocol["inception"]
        lines.append(f"fid/kid: {inception['network']}, weights sha256 {inception['weights_sha256']}")
    if "kid" in protocol:
        lines.append(f"kid: {protocol['kid']['subsets']} subsets of {protocol['kid']['subset_size']}")
    if "classifier" in protocol:
        lines.append(f"classifier: weights sha256 {protocol['classifier']['weights_sha256']}")
        if "note" in protocol["classifier"]:
            lines.append(f"note: {protocol['classifier']['note']}")
    return "\n".join(lines)
