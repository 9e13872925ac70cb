"""A tiny attribute-conditioned run on real faces, for tests that train the same run two ways and compare."""

import pytest

from facegen.config import load_config


@pytest.fixture
def tiny_run(celeba_root, tmp_path):
    """``tiny_run(name, **overrides) -> Config``: 8x8 faces, DiT-tiny, fp32, a loss logged every step."""

    def make(name: str, **overrides):
        values = {
            "exp_name": name,
            "output_dir": tmp_path,
            "data.root": celeba_root,
            "data.cache_dir": tmp_path / "cache",
            "data.max_images": 32,
            "data.image_size": 8,
            "model.size": "tiny",
            "train.batch_size": 8,
            "train.max_steps": 3,
            "train.log_every": 1,
            "train.sample_every": 0,
            "train.mixed_precision": "fp32",
            "conditioning.type": "attributes",
            **overrides,
        }
        return load_config(None, [f"{key}={value}" for key, value in values.items()])

    return make
