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
from facegen.evaluation.distances import (
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    effective_subset_size,
    frechet_distance,
    gaussian_statistics,
    kernel_distance,
)
from facegen.evaluation.features import FeatureExtractor, extract_features
from facegen.evaluation.inception import InceptionFeatures
from facegen.evaluation.references import parse_reference, reference_gaussian, reference_statistics
from facegen.metric_names import (
    ALL_METRICS,
    ATTR_CONSISTENCY,
    CLIP_SCORE,
    FD_ATTR,
    FD_FACE,
    FID,
    IDENTITY,
    KID,
    KID_ATTR,
    LOWER_IS_BETTER,
)

Images = torch.Tensor | Iterable[torch.Tensor]

NEEDS_REFERENCE = frozenset({FID, KID, FD_ATTR, KID_ATTR, FD_FACE, ATTR_CONSISTENCY})
# (extractor, Frechet-distance metric, KID metric or None)
DISTANCE_METRICS = (("inception", FID, KID), ("classifier", FD_ATTR, KID_ATTR), ("face", FD_FACE, None))
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


def _as_targets(requested: torch.Tensor | np.ndarray, count: int) -> torch.Tensor:
    targets = torch.as_tensor(np.asarray(requested), dtype=torch.float32)
    if targets.shape != (count, 40):
        raise ValueError(f"requested_attributes must be [{count}, 40] (one row per image), got {tuple(targets.shape)}")
    return targets


def _build_extractors(
    wanted: set[str],
    inception_weights: str | os.PathLike | None,
    classifier_weights: str | os.PathLike | None,
    clip_model: str | os.PathLike | None,
) -> dict[str, FeatureExtractor]:
    extractors: dict[str, FeatureExtractor] = {}
    if wanted & {FID, KID}:
        extractors["inception"] = InceptionFeatures(inception_weights)
    if wanted & {FD_ATTR, KID_ATTR, ATTR_CONSISTENCY}:
        extractors["classifier"] = ClassifierFeatures(classifier_weights)
    if CLIP_SCORE in wanted:
        extractors["clip"] = ClipScorer(clip_model)
    if FD_FACE in wanted:
        from facegen.evaluation.identity import FaceStructureFeatures

        extractors["face"] = FaceStructureFeatures()
    if IDENTITY in wanted:
        from facegen.evaluation.identity import IdentityFeatures

        extractors["identity"] = IdentityFeatures()
    return extractors


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
    identity_ref: str | os.PathLike | torch.Tensor | None = None,
    max_reference_images: int | None = None,
    batch_size: int = 64,
    kid_subsets: int = KID_SUBSETS,
    kid_subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
) -> dict[str, Any]:
    """Score generated faces (float [-1, 1] or uint8, [N, 3, H, W], or an iterable of such batches).

    Returns ``{"metrics": {name: float}, "per_attribute": {...}, "protocol": {...}}``. Besides the requested
    names, ``metrics`` holds ``kid_std``/``kid_attr_std`` and ``attr_consistency_real``: the classifier's
    agreement with the reference faces' own labels, weighted like the request (the ceiling for a perfect
    generator). The reference is rendered at the generated size with the training preprocessing.
    ``identity`` (and ``identity_kept``) compare the faces with one person: ``identity_ref`` is a folder of their
    photos (or its descriptors [R, 128]).
    Arguments and weights are checked before any image is processed, so mistakes fail fast.
    """
    metrics = _check_metrics(metrics)
    wanted = set(metrics)
    if ATTR_CONSISTENCY in wanted and requested_attributes is None:
        raise ValueError("attr_consistency needs requested_attributes: [N, 40] in {-1, 0, +1}, one row per image")
    if CLIP_SCORE in wanted and prompts is None:
        raise ValueError("clip_score needs prompts: one text per generated image")
    extractors = _build_extractors(wanted, inception_weights, classifier_weights, clip_model)
    person = extractors["identity"].reference(identity_ref) if IDENTITY in wanted else None

    batches = _batches(generated, batch_size)
    first = next(batches, None)
    if first is None:
        raise ValueError("no generated images to evaluate")
    size = first.shape[-1]
    if first.shape[-2] != size or (image_size is not None and image_size != size):
        raise ValueError(f"generated images are {tuple(first.shape[-2:])}; expected square {image_size or size}px")
    gen = extract_features(extractors, itertools.chain([first], batches), desc="generated")
    count = len(next(iter(gen.values()))["features"])

    report: dict[str, Any] = {
        "metrics": {},
        "per_attribute": {},
        "protocol": {"metrics": metrics, "num_generated": count, "image_size": size}
        | {name: dict(extractor.protocol) for name, extractor in extractors.items()},
    }
    if wanted & NEEDS_REFERENCE:
        spec = parse_reference(ref, size, celeba_root, max_reference_images)
        image_extractors = {k: v for k, v in extractors.items() if k not in ("clip", "identity")}
        ref_stats = reference_statistics(spec, image_extractors, batch_size)
        num_ref = int(next(iter(ref_stats.values()))["num_images"])
        report["protocol"]["reference"] = spec.describe() | {"num_images": num_ref}
        _distances(report, wanted, gen, ref_stats, kid_subsets, kid_subset_size, seed)
        if ATTR_CONSISTENCY in wanted:
            targets = _as_targets(requested_attributes, count)
            _consistency(report, gen["classifier"]["logits"], targets, ref_stats["classifier"])
    if CLIP_SCORE in wanted:
        if len(prompts) != count:
            raise ValueError(f"clip_score needs one prompt per image: {count} images, {len(prompts)} prompts")
        scorer = extractors["clip"]
        text = scorer.text_embeddings(list(prompts))
        report["metrics"][CLIP_SCORE] = clip_score_from_embeddings(gen["clip"]["features"], text)
    if IDENTITY in wanted:
        from facegen.faces.identity import reference_scores

        report["metrics"].update(reference_scores(gen["identity"]["features"], person))
        source = "descriptors given" if isinstance(identity_ref, torch.Tensor) else str(identity_ref)
        report["protocol"]["identity"]["reference"] = {"source": source, "num_photos": len(person)}
    return report


def _distances(
    report: dict[str, Any],
    wanted: set[str],
    gen: dict[str, dict[str, torch.Tensor]],
    ref_stats: dict[str, dict[str, np.ndarray]],
    kid_subsets: int,
    kid_subset_size: int,
    seed: int,
) -> None:
    """FID/KID and FD_attr/KID_attr into ``report``, with the networks and KID settings in its protocol."""
    values, protocol = report["metrics"], report["protocol"]
    for name, fd, kid in DISTANCE_METRICS:
        if not wanted & {fd, kid}:
            continue
        features, reference = gen[name]["features"], ref_stats[name]
        if fd in wanted:
            values[fd] = frechet_distance(gaussian_statistics(features), reference_gaussian(reference))
        if kid in wanted:
            values[kid], values[f"{kid}_std"] = kernel_distance(
                features, reference["features"], kid_subsets, kid_subset_size, seed
            )
            protocol["kid"] = {
                "estimator": "unbiased MMD^2, polynomial kernel (x.y / dim + 1)^3",
                "subsets": kid_subsets,
                "subset_size": effective_subset_size(len(features), len(reference["features"]), kid_subset_size),
                "seed": seed,
            }
    if wanted & {FD_ATTR, KID_ATTR}:
        protocol["classifier"]["note"] = NOT_COMPARABLE
    if FD_FACE in wanted:  # how often dlib finds a face at all: malformed faces are often missed
        values["face_detected"] = round(gen["face"]["detected"].mean().item(), 4)
        values["face_detected_real"] = round(float(ref_stats["face"]["detection_rate"]), 4)


def _consistency(
    report: dict[str, Any], logits: torch.Tensor, targets: torch.Tensor, reference: dict[str, np.ndarray]
) -> None:
    """Attribute consistency of the generated faces, and of real reference faces (labels permitting)."""
    agreement = attribute_agreement(logits, targets)
    report["metrics"][ATTR_CONSISTENCY] = agreement["mean"]
    report["per_attribute"][ATTR_CONSISTENCY] = agreement["per_attribute"]
    report["per_attribute"]["requested_counts"] = agreement["counts"]
    if "labels" not in reference:  # a folder of faces has no labels: no real-face rate
        report["metrics"]["attr_consistency_real"] = None
        return
    labels = torch.from_numpy(reference["labels"].astype(np.float32))
    real = attribute_agreement(torch.from_numpy(reference["logits"]), labels)
    report["metrics"]["attr_consistency_real"] = weighted_rate(real["per_attribute"], agreement["counts"])
    report["per_attribute"]["attr_consistency_real"] = real["per_attribute"]


def format_report_table(report: dict[str, Any]) -> str:
    """A plain-text table of the metrics (with their direction) and the protocol lines that qualify them."""
    values, protocol = report["metrics"], report["protocol"]
    rows = [("metric", "value", "better")]
    for name in protocol["metrics"]:
        value = values.get(name)
        text = "n/a" if value is None else f"{value:.4f}"
        if values.get(f"{name}_std") is not None:
            text += f" ± {values[f'{name}_std']:.4f}"
        rows.append((name, text, "lower" if name in LOWER_IS_BETTER else "higher"))
        if name == ATTR_CONSISTENCY and values.get("attr_consistency_real") is not None:
            rows.append(("  real faces", f"{values['attr_consistency_real']:.4f}", "(ceiling)"))
        if name == FD_FACE:
            rows.append(("  face detected", f"{values['face_detected']:.4f}", "higher"))
            rows.append(("  real faces", f"{values['face_detected_real']:.4f}", "(ceiling)"))
        if name == IDENTITY:
            rows.append(("  same person (< 0.6)", f"{values['identity_kept']:.4f}", "higher"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.append(f"generated: {protocol['num_generated']} images at {protocol['image_size']}px")
    if "reference" in protocol:
        ref = protocol["reference"]
        lines.append(f"reference: {ref['ref']}, {ref['num_images']} images, crop {ref['crop']}, {ref['image_size']}px")
    if "inception" in protocol:
        inception = protocol["inception"]
        lines.append(f"fid/kid network: {inception['network']}, sha256 {inception['weights_sha256']}")
    if "kid" in protocol:
        lines.append(f"kid: {protocol['kid']['subsets']} subsets of {protocol['kid']['subset_size']}")
    if "classifier" in protocol:
        lines.append(f"attribute classifier: sha256 {protocol['classifier']['weights_sha256']}")
        if "note" in protocol["classifier"]:
            lines.append(f"note: {protocol['classifier']['note']}")
    return "\n".join(lines)
