"""Checkpoints and exported models written by an older facegen (commit 7975a9d) load, sample the same and resume.

``tests/fixtures/legacy/make.py`` wrote them once with that commit; refactors must keep them working unchanged.
"""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from facegen.cli import main
from facegen.pipeline import FacePipeline

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
RUNS = ["dit_attributes_flow", "unet_none_ddpm", "dit_semantic_flow", "dit_text_flow"]


def request(name: str) -> dict:
    if "text" in name:
        return {"prompt": "a smiling woman"}
    return {"attributes": "Smiling=1"} if "attributes" in name or "semantic" in name else {}


@pytest.mark.parametrize("name", RUNS)
def test_legacy_checkpoint_and_model_folder_sample_the_same_faces(name):
    expected = load_file(LEGACY / name / "expected.safetensors")
    from_run = FacePipeline.from_checkpoint(LEGACY / name / "run").generate(2, seed=3, progress=False, **request(name))
    from_folder = FacePipeline.from_pretrained(LEGACY / name / "model").generate(
        2, seed=3, progress=False, **request(name)
    )
    assert_same_faces(from_run, expected["checkpoint"])
    assert_same_faces(from_folder, expected["model"])


def assert_same_faces(actual: torch.Tensor, expected: torch.Tensor) -> None:
    """The same samples up to the CPU's float summation order. The expected tensors were written on an AVX-512 CPU;
    on an AVX2-only one the flow samples differ by at most 6e-5 and DDPM's stochastic steps carry a few values (0.7%)
    far off, while another seed or wrong weights move every value (mean |difference| 0.8-1.0)."""
    difference = (actual - expected).abs()
    assert actual.shape == expected.shape and difference.mean() < 0.01
    assert (difference < 2e-3).float().mean() > 0.98


@pytest.mark.parametrize("name", RUNS)
def test_legacy_run_resumes(name, celeba_root, tmp_path):
    run = tmp_path / name
    shutil.copytree(LEGACY / name / "run", run, symlinks=True)
    code = main(
        [
            "train",
            "--config",
            str(run / "config.yaml"),
            "--resume",
            "auto",
            f"output_dir={tmp_path}",
            f"data.root={celeba_root}",
            f"data.cache_dir={tmp_path / 'cache'}",
            "train.max_steps=4",
        ]
    )
    assert code == 0
    assert (run / "checkpoints" / "step_00000004").is_dir()
    before = load_file(LEGACY / name / "run" / "checkpoints" / "step_00000002" / "model.safetensors")
    after = load_file(run / "checkpoints" / "step_00000004" / "model.safetensors")
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the resumed steps trained the old weights
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["step"] for row in logged if "loss" in row] == [1, 2, 3, 4]  # continued at step 3, not from 1
    assert math.isfinite(logged[-1]["loss"])
