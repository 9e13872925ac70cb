"""Train the CelebA attribute classifier on the train split within a wall-clock budget, and measure it on test.

report = train_attribute_classifier("../shared/data/celeba")   # ~15 min on 2 CPU cores
"""

from __future__ import annotations

import math
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from facegen.config import CELEBA_CROP
from facegen.data import CELEBA_ATTRIBUTES, ImageCache, load_or_build_cache
from facegen.evaluation.classifier import SHIPPED_WEIGHTS, AttributeClassifier, save_attribute_classifier
from facegen.evaluation.consistency import attribute_agreement
from facegen.utils.io import atomic_write_json

MAX_SHIFT = 4  # random translation in pixels: with flips, the only augmentation (10k images overfit fast)
EVAL_RESERVE_S = 30.0  # kept free at the end of the budget for the test pass and saving
WARMUP_STEPS = 200


def reproduce_command(
    celeba_root: str | os.PathLike,
    out_path: str | os.PathLike,
    image_size: int,
    steps: int | None,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    time_budget_minutes: float,
    num_threads: int,
) -> str:
    """The benchmarks/ command line that reruns this training (recorded in the sidecar JSON)."""
    parts = [
        f"nice -n 10 python benchmarks/train_classifier.py --celeba-root {celeba_root} --image-size {image_size}",
        f"--batch-size {batch_size} --lr {lr} --weight-decay {weight_decay} --seed {seed}",
        f"--time-budget-minutes {time_budget_minutes} --num-threads {num_threads}",
    ]
    if Path(out_path).resolve() != SHIPPED_WEIGHTS:
        parts.append(f"--out {out_path}")
    if steps is not None:
        parts.append(f"--steps {steps}")
    return " ".join(parts)


@torch.inference_mode()
def predict_logits(model: AttributeClassifier, cache: ImageCache, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    starts = range(0, len(cache), batch_size)
    return torch.cat([model(cache.batch(np.arange(i, min(i + batch_size, len(cache))))["image"]) for i in starts])


def accuracy_report(model: AttributeClassifier, cache: ImageCache, train_positive_rate: torch.Tensor) -> dict[str, Any]:
    """Per-attribute and mean accuracy on ``cache``, beside the majority-class baseline (majority taken on train)."""
    labels = torch.from_numpy(cache.attributes.astype(np.float32))
    measured = attribute_agreement(predict_logits(model, cache), labels)
    majority = torch.where(train_positive_rate > 0.5, 1.0, -1.0).expand_as(labels)
    baseline = attribute_agreement(majority, labels)
    return {
        "num_images": len(cache),
        "mean_accuracy": measured["mean"],
        "majority_baseline": baseline["mean"],
        "per_attribute": {
            name: {"accuracy": measured["per_attribute"][name], "majority_baseline": baseline["per_attribute"][name]}
            for name in CELEBA_ATTRIBUTES
        },
    }


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per image a random left-right flip and a random shift of up to MAX_SHIFT px (edges repeated), one resample."""
    count, size = len(images), images.shape[-1]
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = torch.where(torch.rand(count, generator=generator) < 0.5, -1.0, 1.0)
    theta[:, 1, 1] = 1.0
    theta[:, :, 2] = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (count, 2), generator=generator) * (2.0 / size)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def train_attribute_classifier(
    celeba_root: str | os.PathLike,
    out_path: str | os.PathLike = SHIPPED_WEIGHTS,
    image_size: int = 64,
    steps: int | None = None,
    batch_size: int = 128,
    lr: float = 2e-3,
    weight_decay: float = 0.05,
    seed: int = 0,
    time_budget_minutes: float = 15.0,
    num_threads: int = 2,
    bf16: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Train on CelebA train (flips + shifts, BCE-with-logits, AdamW, warmup + cosine LR), save, report.

    The whole call, data caching and the final test pass included, fits in ``time_budget_minutes``. Training
    stops at ``steps`` or when the time runs out, whichever comes first, and the cosine LR follows whichever
    of the two is nearer, so a run cut short by time still anneals to zero. bf16 autocast (measured 1.9-3.3x
    faster than fp32 on AVX-512 CPUs) keeps the loss and the optimizer in fp32. On a machine shared with other
    jobs use ``num_threads=1``: two threads measured 16x slower per step there (waiting on each other).
    Writes ``out_path`` (safetensors) and ``out_path`` with suffix ``.json`` (the returned report).
    """
    start = time.monotonic()
    deadline = start + time_budget_minutes * 60.0 - EVAL_RESERVE_S
    torch.set_num_threads(num_threads)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)

    caches = {
        split: load_or_build_cache(
            "celeba", celeba_root, split, image_size, CELEBA_CROP, cache_dir=cache_dir, num_workers=num_threads
        )
        for split in ("train", "valid", "test")
    }
    train = caches["train"]
    targets = torch.from_numpy((train.attributes > 0).astype(np.float32))
    train_seconds = deadline - time.monotonic()
    if train_seconds <= 0:
        raise ValueError(f"time_budget_minutes={time_budget_minutes} leaves no time to train after caching the data")

    model = AttributeClassifier().to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    step, train_start = 0, time.monotonic()
    while (steps is None or step < steps) and time.monotonic() < deadline:
        progress = max(step / steps if steps else 0.0, (time.monotonic() - train_start) / train_seconds)
        warmup = min(1.0, (step + 1) / WARMUP_STEPS)
        for group in optimizer.param_groups:
            group["lr"] = lr * warmup * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        indices = torch.randint(0, len(train), (batch_size,), generator=generator)
        images = _augment(train.batch(indices)["image"], generator).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(images)
        loss = F.binary_cross_entropy_with_logits(logits.float(), targets[indices])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step % 250 == 0:
            print(f"step {step}  loss {loss.item():.4f}  {time.monotonic() - start:.0f}s", file=sys.stderr, flush=True)
    train_minutes = (time.monotonic() - train_start) / 60.0

    model = model.to(memory_format=torch.contiguous_format).eval()
    positive_rate = torch.from_numpy((train.attributes > 0).mean(axis=0).astype(np.float32))
    report = {
        "test": accuracy_report(model, caches["test"], positive_rate),
        "valid": accuracy_report(model, caches["valid"], positive_rate),
        "data": {"root": str(Path(celeba_root).resolve()), "image_size": image_size, "crop": CELEBA_CROP}
        | {f"num_{split}": len(cache) for split, cache in caches.items()},
        "training": {
            "steps": step,
            "images_seen": step * batch_size,
            "train_minutes": round(train_minutes, 2),
            "total_minutes": None,
            "batch_size": batch_size,
            "lr": lr,
            "weight_decay": weight_decay,
            "seed": seed,
            "bf16": bf16,
            "num_threads": num_threads,
            "time_budget_minutes": time_budget_minutes,
            "command": reproduce_command(
                celeba_root,
                out_path,
                image_size,
                steps,
                batch_size,
                lr,
                weight_decay,
                seed,
                time_budget_minutes,
                num_threads,
            ),
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    save_attribute_classifier(model, out_path)
    report["training"]["total_minutes"] = round((time.monotonic() - start) / 60.0, 2)
    atomic_write_json(Path(out_path).with_suffix(".json"), report)
    return report
