"""Evaluation wired into training (best checkpoint) and the ``facegen eval`` command, on real faces."""

import json

import pytest

from facegen.checkpoint import load_best, resolve_checkpoint
from facegen.cli import main
from facegen.config import ConfigError, load_config
from facegen.run import train


def run_overrides(root, out, **extra):
    values = {
        "exp_name": "scored",
        "output_dir": out,
        "data.root": root,
        "data.cache_dir": out / "cache",
        "data.max_images": 32,
        "data.image_size": 16,
        "data.num_workers": 0,
        "model.size": "tiny",
        "model.dit.patch_size": 4,
        "model.dit.depth": 1,
        "train.batch_size": 8,
        "train.max_steps": 4,
        "train.warmup_steps": 1,
        "train.sample_every": 0,
        "train.mixed_precision": "fp32",
        "sampler.steps": 2,
        "conditioning.type": "attributes",
        "eval.every": 2,
        "eval.num_samples": 16,
        "eval.metrics": "[fd_attr, attr_consistency]",
        "eval.max_reference_images": 32,
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


def test_training_evaluates_and_keeps_the_best(celeba_root, tmp_path):
    train(load_config(None, run_overrides(celeba_root, tmp_path)))
    run = tmp_path / "scored"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [entry for entry in logged if "eval/fd_attr" in entry]
    assert [e["step"] for e in evals] == [2, 4]
    assert all(0 <= e["eval/attr_consistency"] <= 1 for e in evals)
    best = load_best(run / "checkpoints")
    winner = min(evals, key=lambda e: e["eval/fd_attr"])
    assert best["metric"] == "fd_attr" and best["value"] == winner["eval/fd_attr"]
    assert resolve_checkpoint(run).name == f"step_{winner['step']:08d}"  # sampling picks best over latest
    report = json.loads((run / "eval" / "step_00000004.json").read_text())
    assert report["protocol"]["sampler_steps"] == 2 and report["protocol"]["time_shift"] == 1.0

    out = tmp_path / "report.json"
    assert (
        main(
            [
                "eval",
                "--checkpoint",
                str(run),
                "--num-samples",
                "8",
                "--metrics",
                "fd_attr,kid_attr",
                "--ref",
                "celeba:valid",
                "--max-reference-images",
                "32",
                "--steps",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    assert set(report["metrics"]) >= {"fd_attr", "kid_attr"} and report["metrics"]["fd_attr"] > 0


def test_eval_config_is_validated():
    with pytest.raises(ConfigError, match="eval.metrics must be a subset"):
        load_config(None, ["eval.metrics=[fd_attr]", "eval.best_metric=fid"])
    with pytest.raises(ConfigError, match="eval.metrics must be a subset"):
        load_config(None, ["eval.metrics=[fdd]", "eval.best_metric=fdd"])
