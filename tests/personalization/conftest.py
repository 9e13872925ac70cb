"""A tiny attribute-conditioned UNet base on TAEF2 latents (saved untrained: instant), and real CelebA people."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from facegen.config import load_config
from facegen.pipeline import FacePipeline

# faces128's shape (128 px, TAEF2 16x16x32 latents, attributes, rectified flow) with the tiny UNet.
TINY_BASE = [
    "data.image_size=128",
    "autoencoder.name=taef2",
    "model.name=unet",
    "model.size=tiny",
    "conditioning.type=attributes",
    "sampler.steps=1",
    "train.mixed_precision=fp32",
]


def save_tiny_base(out: Path, seed: int = 0) -> Path:
    from facegen.builders import model_from_config
    from facegen.checkpoint import save_checkpoint

    cfg = load_config(None, [*TINY_BASE, f"output_dir={out}", "exp_name=base", f"seed={seed}"])
    torch.manual_seed(seed)
    state = model_from_config(cfg).state_dict()
    save_checkpoint(cfg.run_dir / "checkpoints", 1, cfg, state, state, {"step": 1})
    return cfg.run_dir


def people(celeba: Path, minimum: int = 8) -> dict[int, list[str]]:
    """Identities with >= ``minimum`` photos, all in valid/test (never seen by the base model), sorted."""
    from facegen.data import read_identity_file, read_partition_file

    split = read_partition_file(celeba / "list_eval_partition.txt")
    photos: dict[int, list[str]] = defaultdict(list)
    for name, person in read_identity_file(celeba / "identity_CelebA.txt").items():
        if split.get(name, 0) > 0 and (celeba / "img_align_celeba" / name).is_file():
            photos[person].append(name)
    return {p: sorted(names) for p, names in sorted(photos.items()) if len(names) >= minimum}


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory) -> Path:
    return save_tiny_base(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def tiny_pipe(tiny_base) -> FacePipeline:
    return FacePipeline.from_checkpoint(tiny_base, device="cpu")


@pytest.fixture(scope="session")
def person_photos(celeba_root, tmp_path_factory) -> Path:
    """A folder with 5 real photos of one CelebA person from valid/test."""
    names = next(iter(people(celeba_root).values()))[:5]
    folder = tmp_path_factory.mktemp("person")
    for name in names:
        shutil.copy(celeba_root / "img_align_celeba" / name, folder / name)
    return folder
