import json
import os

import pytest
import torch

from facegen.checkpoint import (
    load_checkpoint,
    mark_best,
    prune_checkpoints,
    resolve_checkpoint,
    save_checkpoint,
    step_dirs,
)
from facegen.config import Config


def save(root, step, value=0.0):
    state = {"w": torch.full((2, 3), float(value)), "b": torch.arange(3.0)}
    training = {"step": step, "optimizer": {"state": {0: {"exp_avg": torch.ones(2)}}, "param_groups": [{"lr": 0.1}]}}
    return save_checkpoint(root, step, Config(exp_name="t"), state, {k: v + 1 for k, v in state.items()}, training)


def test_round_trip(tmp_path):
    path = save(tmp_path, 7, value=3)
    ckpt = load_checkpoint(tmp_path)
    assert ckpt.path == path and ckpt.meta["step"] == 7 and ckpt.config == Config(exp_name="t")
    assert torch.equal(ckpt.weights(ema=False)["w"], torch.full((2, 3), 3.0))
    assert torch.equal(ckpt.weights(ema=True)["w"], torch.full((2, 3), 4.0))
    state = ckpt.training_state()  # weights_only load: plain tensors and containers only
    assert state["step"] == 7 and torch.equal(state["optimizer"]["state"][0]["exp_avg"], torch.ones(2))
    assert json.loads((path / "meta.json").read_text())["data_protocol"]["crop"] == 178


def test_latest_moves_and_best_wins(tmp_path):
    first = save(tmp_path, 1)
    second = save(tmp_path, 2)
    assert resolve_checkpoint(tmp_path) == second.resolve()
    mark_best(tmp_path, first, "fd_attr", 1.5)
    assert resolve_checkpoint(tmp_path) == first.resolve()
    assert resolve_checkpoint(tmp_path, prefer=("latest",)) == second.resolve()
    run_dir = tmp_path.parent  # a run folder resolves through its checkpoints/ folder
    os.rename(tmp_path, run_dir / "checkpoints_moved")
    (run_dir / "run").mkdir()
    os.rename(run_dir / "checkpoints_moved", run_dir / "run" / "checkpoints")
    assert resolve_checkpoint(run_dir / "run").name == "step_00000001"


def test_crash_mid_write_leaves_last_good_checkpoint(tmp_path, monkeypatch):
    good = save(tmp_path, 1)

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", explode)
    with pytest.raises(OSError):
        save(tmp_path, 2)
    assert resolve_checkpoint(tmp_path) == good.resolve()
    assert [p.name for p in step_dirs(tmp_path)] == ["step_00000001"]


def test_dangling_latest_falls_back_to_newest_complete(tmp_path):
    save(tmp_path, 1)
    newest = save(tmp_path, 2)
    (tmp_path / "latest").unlink()
    os.symlink("step_99999999", tmp_path / "latest")
    assert resolve_checkpoint(tmp_path) == newest


def test_prune_keeps_latest_best_and_multiples(tmp_path):
    for step in (1, 2, 3, 4, 5):
        save(tmp_path, step)
    mark_best(tmp_path, tmp_path / "step_00000001", "fd_attr", 1.0)
    prune_checkpoints(tmp_path, keep_every=2)
    assert [p.name for p in step_dirs(tmp_path)] == ["step_00000001", "step_00000002", "step_00000004", "step_00000005"]


def test_missing_checkpoint_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        resolve_checkpoint(tmp_path)


def test_grad_checkpointing_does_not_count_as_another_model():
    """It changes memory and time, not weights: a run may switch it on to resume; a real change is still named."""
    from facegen.checkpoint import architecture_differences
    from facegen.config import load_config

    saved = load_config(None, ["model.name=dit"])
    assert architecture_differences(saved, load_config(None, ["model.name=dit", "model.grad_checkpointing=true"])) == []
    assert architecture_differences(saved, load_config(None, ["model.name=dit", "model.dit.depth=3"])) == [
        "model.dit.depth: checkpoint None, config 3"
    ]
