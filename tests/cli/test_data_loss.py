"""A run is never lost: re-running refuses, --overwrite and --resume say what they do, stale temporaries go,
Ctrl-C saves and ends in one line, a refused training state is never executed. Tiny runs of a few steps."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from facegen.training.trainer import Trainer

from .conftest import TINY, run_cli, snapshot


@pytest.fixture
def train_args(celeba_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACEGEN_DEBUG", raising=False)
    base = [*TINY, f"data.root={celeba_root}", f"data.cache_dir={tmp_path / 'cache'}", "output_dir=runs"]
    base += ["exp_name=x", "train.batch_size=4", "train.ckpt_every=1", "train.sample_every=0", "train.log_every=1"]
    return lambda *extra: ["train", *base, *extra]


def logged_steps(run) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def checkpoints(run) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").glob("step_*"))


def test_a_run_with_checkpoints_is_never_silently_reused(train_args, tmp_path, capsys):
    run = tmp_path / "runs" / "x"
    assert run_cli(capsys, train_args("train.max_steps=3")).code == 0
    before = snapshot(tmp_path / "runs")

    refused = run_cli(capsys, train_args("train.max_steps=1"))  # the README command run again
    assert refused.code == 3 and len(refused.error_lines) == 1 and "Traceback" not in refused.err
    assert all(word in refused.error_lines[0] for word in ("--resume auto", "exp_name", "--overwrite", "step_00000003"))
    assert snapshot(tmp_path / "runs") == before

    assert run_cli(capsys, train_args("train.max_steps=4", "--resume", "auto")).code == 0
    assert logged_steps(run) == [1, 2, 3, 4] and checkpoints(run)[-1] == "step_00000004"

    assert run_cli(capsys, train_args("train.max_steps=1", "--overwrite")).code == 0  # asked for: starts over
    assert logged_steps(run) == [1] and checkpoints(run) == ["step_00000001"]


def test_stale_temporaries_of_dead_processes_are_cleaned(train_args, tmp_path, capsys):
    assert run_cli(capsys, train_args("train.max_steps=1")).code == 0
    root = tmp_path / "runs" / "x" / "checkpoints"
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = [root / f".tmp-step_00000007-{dead.pid}", root / f".trash-step_00000001-{dead.pid}"]
    for folder in stale:
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"0" * 1000)
    os.symlink("step_00000001", root / f".latest.{dead.pid}.tmp")
    alive = root / f".tmp-step_00000007-{os.getpid()}"  # a save in progress in a live process: kept
    alive.mkdir()
    assert run_cli(capsys, train_args("train.max_steps=2", "--resume", "auto")).code == 0
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == [alive.name]


def test_ctrl_c_saves_the_checkpoint_then_says_so_in_one_line(train_args, tmp_path, capsys, monkeypatch):
    step = Trainer._train_step

    def interrupted_at_step_2(self):
        if self.step == 2:
            raise KeyboardInterrupt
        return step(self)

    monkeypatch.setattr(Trainer, "_train_step", interrupted_at_step_2)
    result = run_cli(capsys, train_args("train.max_steps=5", "train.ckpt_every=10"))
    assert result.code == 130 and len(result.error_lines) == 1 and "Traceback" not in result.err
    assert "step 2" in result.error_lines[0] and "--resume auto" in result.error_lines[0]
    assert os.readlink(tmp_path / "runs" / "x" / "checkpoints" / "latest") == "step_00000002"


def test_a_refused_training_state_is_named_and_never_run(train_args, tmp_path, capsys):
    import torch

    assert run_cli(capsys, train_args("train.max_steps=1")).code == 0
    state = tmp_path / "runs" / "x" / "checkpoints" / "step_00000001" / "training_state.pt"

    class RunsCode:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    torch.save({"step": 1, "payload": RunsCode()}, state)
    result = run_cli(capsys, train_args("train.max_steps=2", "--resume", "auto"))
    assert result.code == 2 and "refused" in result.error_lines[0] and "training_state.pt" in result.error_lines[0]
    assert not (tmp_path / "pwned").exists()

    state.write_bytes(state.read_bytes()[:40])  # truncated: damaged, and where to go instead
    result = run_cli(capsys, train_args("train.max_steps=2", "--resume", "auto"))
    assert result.code == 2 and "damaged" in result.error_lines[0] and "training_state.pt" in result.error_lines[0]


def test_resume_on_another_model_names_the_differing_keys(train_args, tmp_path, capsys):
    assert run_cli(capsys, train_args("train.max_steps=1")).code == 0
    result = run_cli(capsys, train_args("--resume", "auto", "model.dit.depth=2", "model.dit.hidden_size=64"))
    assert result.code == 2 and "Traceback" not in result.err
    line = result.error_lines[0]
    assert "model.dit.depth: checkpoint 1, config 2" in line and "model.dit.hidden_size" in line
    assert len(result.err) < 1000


def test_overwrite_clears_only_what_a_run_writes(train_args, tmp_path, capsys):
    assert run_cli(capsys, train_args("train.max_steps=1")).code == 0
    mine = tmp_path / "runs" / "x" / "notes.txt"
    mine.write_text("keep")
    shutil.rmtree(tmp_path / "runs" / "x" / "checkpoints")  # a run that never saved: --overwrite clears its logs
    assert run_cli(capsys, train_args("train.max_steps=1", "--overwrite")).code == 0
    assert mine.read_text() == "keep" and logged_steps(tmp_path / "runs" / "x") == [1]
