"""Autoencoder fixtures: the shipped TAEF2 weights and real CelebA crops (skipped with the reason when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from facegen.autoencoders import TAEF2
from facegen.data import preprocess, to_model_range


@pytest.fixture(autouse=True)
def _one_thread():
    # The cores are shared with training runs: a second thread mostly waits for them.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def taef2_dir(shared_dir: Path) -> Path:
    folder = shared_dir / "weights" / "taef2"
    if not (folder / "taef2_encoder.pth").exists():
        pytest.skip(f"TAEF2 weights not found in {folder} (see ../shared/README.md)")
    return folder


@pytest.fixture(scope="session")
def taef2(taef2_dir: Path) -> TAEF2:
    return TAEF2(taef2_dir)


@pytest.fixture(scope="session")
def celeba_crops(celeba_root: Path):
    """``(n, size) -> [n, 3, size, size]`` in [-1, 1]: the first n CelebA images by name, training preprocessing."""
    files = sorted((celeba_root / "img_align_celeba").glob("*.jpg"))

    def crops(n: int, size: int) -> torch.Tensor:
        return to_model_range(torch.stack([preprocess(Image.open(f), size) for f in files[:n]]))

    return crops
