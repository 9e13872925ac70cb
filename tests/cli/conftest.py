"""A sandbox for command-line tests: tiny checkpoints made without training, damaged copies, images, configs.

Everything a case may touch lives under one folder, so a case can prove it changed nothing outside its run folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from facegen.cli import main
from facegen.config import load_config

# A tiny DiT at 16px: built and saved in well under a second, so no case needs training.
TINY = [
    "data.image_size=16",
    "data.max_images=16",
    "data.num_workers=0",
    "model.size=tiny",
    "model.dit.patch_size=4",
    "model.dit.depth=1",
    "model.dit.hidden_size=32",
    "model.dit.num_heads=2",
    "sampler.steps=1",
    "train.mixed_precision=fp32",
]


def tiny_config(out: Path, exp_name: str, *extra: str):
    return load_config(None, [*TINY, f"output_dir={out}", f"exp_name={exp_name}", *extra])


def save_tiny_checkpoints(cfg, steps=(1, 2)) -> Path:
    """A run folder with checkpoints at ``steps`` holding freshly initialised weights."""
    from facegen.builders import model_from_config
    from facegen.checkpoint import save_checkpoint

    torch.manual_seed(0)
    state = model_from_config(cfg).state_dict()
    for step in steps:
        save_checkpoint(cfg.run_dir / "checkpoints", step, cfg, state, state, {"step": step})
    return cfg.run_dir


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("facegen: error:")]


def run_cli(capsys, argv: list[str]) -> Result:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and link under ``root`` with its size and modification time."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            stat = path.lstat()
            found[str(path.relative_to(root))] = (stat.st_size if not path.is_dir() else 0, stat.st_mtime_ns)
    return found


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory) -> Path:
    """Checkpoints (attribute-conditioned and unconditional), damaged copies, images and config files."""
    root = tmp_path_factory.mktemp("cli-sandbox")
    save_tiny_checkpoints(tiny_config(root / "runs", "attr", "conditioning.type=attributes"))
    save_tiny_checkpoints(tiny_config(root / "runs", "uncond"))
    from PIL import Image

    images = root / "images"
    images.mkdir()
    Image.new("RGB", (40, 48), (120, 90, 60)).save(images / "face.jpg")
    data = (images / "face.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (images / "empty.jpg").write_bytes(b"")
    (images / "text.png").write_text("not an image\n")
    (images / "folder.jpg").mkdir()
    (root / "a_file").write_text("in the way\n")
    for name, damage in DAMAGES.items():
        damaged_copy(root, name, damage)
    return root


@pytest.fixture
def in_sandbox(sandbox, monkeypatch) -> Path:
    """Run from inside the sandbox (default outputs land there), with caches inside it and no debug tracebacks."""
    monkeypatch.chdir(sandbox)
    monkeypatch.setenv("FACEGEN_CACHE_DIR", str(sandbox / "cache"))
    monkeypatch.delenv("FACEGEN_DEBUG", raising=False)
    return sandbox


def _rewrite(name: str, transform):
    def damage(folder: Path) -> None:
        path = folder / name
        path.write_bytes(transform(path.read_bytes()))

    return damage


def _remove(name: str):
    return lambda folder: (folder / name).unlink()


def _evil_state(folder: Path) -> None:
    class RunsCode:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    torch.save({"step": 2, "payload": RunsCode()}, folder / "training_state.pt")


# name -> (damage, the file the error must name)
DAMAGES = {
    "ema_truncated": _rewrite("ema.safetensors", lambda b: b[: len(b) // 2]),
    "ema_empty": _rewrite("ema.safetensors", lambda b: b""),
    "ema_header_length": _rewrite("ema.safetensors", lambda b: b"\xff" * 8 + b[8:]),
    "ema_header_json": _rewrite("ema.safetensors", lambda b: b[:8] + b"#" * 16 + b[24:]),
    "model_truncated": _rewrite("model.safetensors", lambda b: b[:100]),
    "ema_missing": _remove("ema.safetensors"),
    "model_missing": _remove("model.safetensors"),
    "config_missing": _remove("config.yaml"),
    "meta_missing": _remove("meta.json"),
    "config_syntax": _rewrite("config.yaml", lambda b: b"model: [1,\n"),
    "config_list": _rewrite("config.yaml", lambda b: b"- 1\n- 2\n"),
    "config_unknown_key": _rewrite("config.yaml", lambda b: b + b"bogus: 1\n"),
    "config_bad_value": _rewrite("config.yaml", lambda b: b.replace(b"depth: 1", b"depth: 0")),
    "config_binary": _rewrite("config.yaml", lambda b: b"\xff\xfe\x00\x81"),
    "meta_garbage": _rewrite("meta.json", lambda b: b"{not json"),
    "state_evil": _evil_state,
    "state_truncated": _rewrite("training_state.pt", lambda b: b[:50]),
}


def damaged_copy(sandbox: Path, name: str, damage) -> Path:
    """A copy of the attribute run's newest checkpoint folder with ``damage(folder)`` applied."""
    source = sandbox / "runs" / "attr" / "checkpoints" / "step_00000002"
    target = sandbox / "damaged" / name / "checkpoints" / "step_00000002"
    if not target.exists():
        shutil.copytree(source, target)
        damage(target)
    return target


@contextmanager
def held_by_another_process(path: Path):
    """``with held_by_another_process(path) as process:`` a real process holds ``path_lock(path)`` meanwhile."""
    code = "import sys\nfrom facegen.utils.io import path_lock\nwith path_lock(sys.argv[1], 'a test'):\n"
    code += "    print('held', flush=True)\n    sys.stdin.read()\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout.readline().strip() == "held"
        yield process
    finally:
        process.kill()
        process.wait()
