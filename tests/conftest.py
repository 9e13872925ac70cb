"""Shared fixtures: real data from $FACEGEN_DATA_ROOT, else ../shared/data (skipped with the reason when absent)."""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FACEGEN_SHARED", REPO.parent / "shared"))  # the project's data and weights
DATA = Path(os.environ.get("FACEGEN_DATA_ROOT") or SHARED / "data").expanduser().resolve()  # celeba/, ffhq-.../
os.environ["FACEGEN_DATA_ROOT"] = str(DATA)  # absolute: commands run from sandbox folders find the same data
CELEBA = DATA / "celeba"
os.environ.setdefault("OMP_NUM_THREADS", "1")  # the trainer's thread default reads it: tests stay on one thread


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny models: one thread is faster, and far faster on a busy machine


@pytest.fixture(scope="session")
def celeba_root() -> Path:
    if not (CELEBA / "list_attr_celeba.txt").exists():
        pytest.skip(f"real CelebA subset not found at {CELEBA} (set FACEGEN_DATA_ROOT; see ../shared/README.md)")
    return CELEBA


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"shared data folder not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data root: ``celeba/``, ``celebamask-hq-512/``, ``ffhq-thumbnails-128/`` ..."""
    if not DATA.is_dir():
        pytest.skip(f"data folder not found at {DATA} (set FACEGEN_DATA_ROOT)")
    return DATA
