"""Faults end in one line (issue 20): SIGTERM and SIGHUP stop like Ctrl-C, a full disk is exit 4 with nothing
left behind, a FIFO is refused instead of read, FACEGEN_DEBUG=0 means off, and FacePipeline names a bad argument."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from facegen.cli import main
from facegen.pipeline import FacePipeline
from facegen.utils.io import atomic_write_bytes, preallocated_npy, save_safetensors, save_torch

from .conftest import TINY, run_cli


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_each_stop_signal_has_its_exit_code(signum, code):
    from facegen.cli import explain
    from facegen.utils.signals import Terminated

    message, exit_code = explain(
        Terminated("checkpoint saved", signum) if signum != signal.SIGINT else KeyboardInterrupt()
    )
    assert exit_code == code and message.startswith("interrupted")


def test_sigterm_saves_the_checkpoint_like_ctrl_c(celeba_root, tmp_path):  # SIGHUP takes the same handler
    signum, code = signal.SIGTERM, 143
    argv = [*TINY, f"data.root={celeba_root}", f"data.cache_dir={tmp_path / 'cache'}", "output_dir=runs", "exp_name=x"]
    argv += ["train.batch_size=4", "train.max_steps=100000", "train.ckpt_every=100000", "train.sample_every=0"]
    env = {k: v for k, v in os.environ.items() if k != "FACEGEN_DEBUG"}
    process = subprocess.Popen(
        [sys.executable, "-m", "facegen.cli", "train", *argv, "train.log_every=1"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    metrics = tmp_path / "runs" / "x" / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while not (metrics.exists() and metrics.read_text().strip()) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.2)
    process.send_signal(signum)
    err = process.communicate(timeout=120)[1]
    lines = [line for line in err.splitlines() if line.startswith("facegen: error:")]
    assert process.returncode == code and len(lines) == 1 and "Traceback" not in err
    assert signal.Signals(signum).name in lines[0] and "--resume auto" in lines[0]
    step = json.loads((tmp_path / "runs" / "x" / "checkpoints" / "latest" / "meta.json").read_text())["step"]
    assert f"step {step} saved" in lines[0]


@pytest.fixture
def full_disk(tmp_path) -> Path:
    """A 16 KiB tmpfs, unmounted afterwards (mounting needs root: skipped, saying so, elsewhere)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a 16 KiB tmpfs, and mounting one needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "--lazy", str(mount)], check=True)


BIG = 1 << 20  # bytes: more than the small disk holds
WRITERS = {
    "safetensors": lambda path: save_safetensors({"w": torch.zeros(BIG // 4)}, path),
    "torch.save": lambda path: save_torch({"w": torch.zeros(BIG // 4)}, path),
    "atomic_write": lambda path: atomic_write_bytes(path, bytes(BIG)),
    "memory map": lambda path: preallocated_npy(path, np.uint8, (BIG,)),
}


@pytest.mark.parametrize("writer", WRITERS)
def test_every_writer_fails_on_a_full_disk_naming_its_file(writer, full_disk):
    path = full_disk / "out.bin"
    with pytest.raises(OSError) as caught:
        WRITERS[writer](path)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert list(full_disk.iterdir()) == []


def test_a_full_disk_while_caching_is_one_line(full_disk, celeba_root, capsys, monkeypatch):
    monkeypatch.delenv("FACEGEN_DEBUG", raising=False)
    argv = ["data", "prepare", *TINY, "data.image_size=64", "data.max_images=64", f"data.root={celeba_root}"]
    result = run_cli(capsys, [*argv, f"data.cache_dir={full_disk}"])  # was: killed by SIGBUS
    assert result.code == 4 and "No space left on device" in result.error_lines[0]
    assert str(full_disk) in result.error_lines[0] and list(full_disk.iterdir()) == []


def test_a_full_disk_while_exporting_is_one_line(full_disk, in_sandbox, capsys):
    result = run_cli(capsys, ["export", "--checkpoint", "runs/attr", "--out", full_disk / "model"])
    assert result.code == 4 and "No space left on device" in result.error_lines[0]  # was: "please report it"
    assert str(full_disk / "model") in result.error_lines[0] and list(full_disk.iterdir()) == []


@pytest.mark.timeout(60)  # before the fix it blocked forever on open()
@pytest.mark.parametrize("option", ["--image", "--config"])
def test_a_fifo_is_refused_not_read(option, in_sandbox, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    argv = {
        "--image": ["edit", "--checkpoint", "runs/attr", "--image", fifo, "--attributes", "Smiling=1"],
        "--config": ["train", "--config", fifo],
    }[option]
    result = run_cli(capsys, argv)
    assert result.code == 2 and f"{option} {fifo}" in result.error_lines[0] and "regular file" in result.error_lines[0]


@pytest.mark.parametrize("value, shows", [("0", False), ("false", False), ("", False), ("1", True), ("TRUE", True)])
def test_facegen_debug_is_on_only_for_1_or_true(value, shows, in_sandbox, monkeypatch):
    monkeypatch.setenv("FACEGEN_DEBUG", value)
    argv = ["sample", "--steps", "0"]
    if shows:
        with pytest.raises(ValueError):
            main(argv)
    else:
        assert main(argv) == 2


@pytest.fixture(scope="module")
def pipe(sandbox) -> FacePipeline:
    return FacePipeline.from_checkpoint(sandbox / "runs" / "attr", device="cpu")


@pytest.mark.parametrize(
    "call, error, name",
    [
        (lambda p: p.generate(num_samples=10**9, progress=False), ValueError, "num_samples"),
        (lambda p: p.generate(num_samples=0, progress=False), ValueError, "num_samples"),
        (lambda p: p.generate(num_samples="4", progress=False), TypeError, "num_samples"),
        (lambda p: p.generate(2, seed=None, progress=False), TypeError, "seed"),
        (lambda p: p.generate(2, seed=-1, progress=False), ValueError, "seed"),
        (lambda p: p.generate(2, steps=1.5, progress=False), TypeError, "steps"),
        (lambda p: p.generate(2, cfg_scale=float("nan"), progress=False), ValueError, "cfg_scale"),
        (lambda p: p.generate(2, batch_size=0, progress=False), ValueError, "batch_size"),
        (lambda p: p.edit(torch.zeros(3, 16, 16), {"Smiling": 1}, strength="0.5"), TypeError, "strength"),
        (lambda p: p.edit(torch.zeros(3, 16, 16), {"Smiling": 1}, strength=2), ValueError, "strength"),
        (lambda p: p.interpolate(seeds=(1, 2), num_frames=1), ValueError, "num_frames"),
        (lambda p: p.interpolate(seeds=(1,)), TypeError, "seeds"),
        (lambda p: p.interpolate(seeds=(1, 2), num_frames=10**9), ValueError, "num_frames"),
    ],
)
def test_the_python_api_names_a_bad_argument(call, error, name, pipe):
    with pytest.raises(error, match=name):
        call(pipe)
