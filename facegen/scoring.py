"""Generate with a pipeline, then score: the one path behind ``facegen eval`` and evaluation during training.

Conditional models are asked for the attribute combinations of real reference faces (and, for text models, the
captions made from them), so attribute consistency and CLIP score compare like with like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from facegen.evaluation import ATTR_CONSISTENCY, CLIP_SCORE, FID, KID, evaluate, parse_reference
from facegen.metric_names import IDENTITY
from facegen.pipeline import FacePipeline


def check(
    pipe: FacePipeline,
    metrics: Sequence[str],
    ref: str = "celeba:test",
    celeba_root: str | None = None,
    clip_model: str | Path | None = None,
    inception_weights: str | Path | None = None,
) -> None:
    """Everything ``score`` would otherwise find wrong only after generating every sample: the metrics the model
    allows, the reference (CelebA where it is read, labelled faces for a conditional model), the Inception weights.
    Named as ``facegen eval``'s options name them."""
    from facegen.evaluation.inception import resolve_inception_weights

    kind = pipe.kind
    if ATTR_CONSISTENCY in metrics and not kind.accepts_attributes:
        raise ValueError(
            f"--metrics {ATTR_CONSISTENCY} needs an attribute-conditioned model; this one is {kind.type!r}"
        )
    if CLIP_SCORE in metrics and (not kind.accepts_prompts or not clip_model):
        raise ValueError(f"--metrics {CLIP_SCORE} needs a text-conditioned model and --clip-model (a CLIP folder)")
    spec = parse_reference(ref, pipe.config.data.image_size, celeba_root)
    if spec.dataset == "celeba" and not (Path(spec.root) / "list_attr_celeba.txt").is_file():
        from facegen.data.roots import where_to_put

        raise FileNotFoundError(
            f"--ref {ref}: no CelebA at {spec.root}; put it there, pass --celeba-root DIR, or {where_to_put('celeba')}"
        )
    if kind.conditional and spec.dataset != "celeba":
        raise ValueError(f"--ref {ref}: a conditional model is scored against labelled faces (celeba:SPLIT)")
    if {FID, KID} & set(metrics):
        resolve_inception_weights(inception_weights)


def reference_attributes(ref: str, celeba_root: str | None, count: int, seed: int) -> torch.Tensor:
    """``count`` attribute rows drawn (seeded, with replacement when needed) from the labels of the reference
    faces (celeba:SPLIT, as ``check`` requires)."""
    from facegen.data import build_dataset

    spec = parse_reference(ref, image_size=8, celeba_root=celeba_root)
    labels = build_dataset("celeba", spec.root, spec.split, image_size=8).attributes
    rows = np.random.default_rng(seed).choice(len(labels), size=count, replace=count > len(labels))
    return torch.from_numpy(labels[rows].astype(np.float32))


def score(
    pipe: FacePipeline,
    metrics: Sequence[str],
    num_samples: int = 1000,
    ref: str = "celeba:test",
    celeba_root: str | None = None,
    seed: int = 0,
    steps: int | None = None,
    cfg_scale: float | None = None,
    batch_size: int = 64,
    progress: bool = True,
    identity_ref: str | Path | None = None,
    **evaluate_options: Any,
) -> dict[str, Any]:
    """Generate ``num_samples`` faces from ``pipe`` and evaluate them against ``ref`` (and, for ``identity``, against
    the person in the ``identity_ref`` folder of photos); returns the report. ``check`` runs first."""
    check(
        pipe,
        metrics,
        ref,
        celeba_root,
        evaluate_options.get("clip_model"),
        evaluate_options.get("inception_weights"),
    )
    steps, guidance = pipe.sampling_settings(steps, cfg_scale)  # resolved once: what runs is what is reported
    person = None
    if IDENTITY in metrics:  # the person's photos are read first: one without a face fails before generating
        from facegen.evaluation.identity import IdentityFeatures

        person = IdentityFeatures().reference(identity_ref)
    attributes, request = None, {}
    if pipe.kind.conditional:  # real faces' attribute combinations, asked for in the kind's terms
        attributes = reference_attributes(ref, celeba_root, num_samples, seed)
        request = pipe.kind.reference_request(attributes, seed)
    images = pipe.generate(
        num_samples,
        steps=steps,
        seed=seed,
        cfg_scale=guidance,
        batch_size=batch_size,
        progress=progress,
        **request,
    )
    wanted = list(metrics)
    report = evaluate(
        images,
        wanted,
        ref=ref,
        image_size=pipe.config.data.image_size,
        celeba_root=celeba_root,
        requested_attributes=attributes if ATTR_CONSISTENCY in wanted else None,
        prompts=request.get("prompt") if CLIP_SCORE in wanted else None,
        identity_ref=person,
        batch_size=batch_size,
        seed=seed,
        **evaluate_options,
    )
    report["protocol"].update(
        checkpoint=str(pipe.checkpoint) if pipe.checkpoint else None,
        sampler_steps=steps,
        cfg_scale=guidance,
        guidance_interval=pipe.config.sampler.guidance_interval,
        time_shift=pipe.config.sampler.time_shift,
        guide=None if pipe.guide is None else {"model": pipe.guide.name, "weight": pipe.guide.weight},
        generation_seed=seed,
    )
    if person is not None:
        report["protocol"]["identity"]["reference"]["source"] = str(identity_ref)
    return report
