"""Each class of failure maps to one line and its exit code; FACEGEN_DEBUG=1 keeps the traceback; help and version."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import pytest

from facegen.checkpoint import CheckpointError, RunExistsError
from facegen.cli import build_parser, explain, main
from facegen.config import ConfigError

from .conftest import run_cli

SAMPLE = ["sample", "--checkpoint", "runs/attr", "--num-samples", "1", "--steps", "1", "--out", "out"]


@pytest.mark.parametrize(
    "error, code, text",
    [
        (KeyboardInterrupt(), 130, "interrupted"),
        (RunExistsError("runs/x already holds a run"), 3, "runs/x"),
        (FileExistsError("out exists"), 3, "out exists"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "face.jpg"), 2, "face.jpg: No such file"),
        (OSError(errno.ENOSPC, "No space left on device", "out/0001.png"), 4, "out/0001.png: No space left"),
        (PermissionError(errno.EACCES, "Permission denied", "/x"), 4, "/x: Permission denied"),
        (ConfigError("train.lr=-1.0: must be > 0"), 2, "train.lr"),
        (CheckpointError("ema.safetensors: damaged"), 2, "ema.safetensors"),
        (ValueError("first line\n" + "key\n" * 5000), 2, "first line"),
        (RuntimeError("Error(s) in loading state_dict:\n" + "x" * 13000), 1, "state_dict"),
        (FloatingPointError("loss is nan at step 3"), 1, "loss is nan"),
        (TypeError("bug"), 1, "unexpected TypeError: bug"),
    ],
)
def test_every_class_is_one_short_line_with_its_code(error, code, text):
    message, exit_code = explain(error)
    assert exit_code == code and text in message and "\n" not in message and len(message) <= 600


def test_full_disk_while_writing_is_one_line(in_sandbox, capsys, monkeypatch):
    def full(image, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("facegen.pipeline.save_picture", full)
    result = run_cli(capsys, SAMPLE)
    assert result.code == 4 and "No space left on device" in result.error_lines[0] and "out/" in result.error_lines[0]


def test_eval_checks_its_report_path_before_generating(in_sandbox, capsys, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("generated before checking --out")

    monkeypatch.setattr("facegen.scoring.score", must_not_run)
    result = run_cli(capsys, ["eval", "--checkpoint", "runs/uncond", "--ref", "folder:images", "--out", "a_file/x"])
    assert result.code == 4 and "a_file" in result.error_lines[0]
    result = run_cli(capsys, ["eval", "--checkpoint", "runs/uncond", "--metrics", "attr_consistency"])
    assert result.code == 2 and "attr_consistency" in result.error_lines[0]


def test_debug_shows_the_traceback(in_sandbox, monkeypatch):
    monkeypatch.setenv("FACEGEN_DEBUG", "1")
    with pytest.raises(ConfigError, match="model.dit.depth"):
        main(["train", "output_dir=out", "model.dit.depth=0"])


def test_weight_files_are_readable_like_the_rest(in_sandbox):
    folder = in_sandbox / "runs" / "attr" / "checkpoints" / "step_00000002"
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert len(set(modes.values())) == 1, modes  # weights, training state, config and meta alike (0644 by umask)


def test_model_sizes_are_the_presets():
    from facegen.models import DIT_PRESETS, UNET_PRESETS
    from facegen.specs import backbone_spec

    assert backbone_spec("dit").sizes == tuple(DIT_PRESETS) and backbone_spec("unet").sizes == tuple(UNET_PRESETS)


def test_help_shows_defaults_and_consistent_attribute_options(capsys):
    parser = build_parser()
    for command, options in [
        ("sample", ["--attributes", "(default: 16)"]),
        ("edit", ["--attributes ATTRIBUTES, --set", "--source-attributes ATTRIBUTES, --source", "per attribute"]),
        ("interpolate", ["--from-attributes ATTRIBUTES, --from", "--to-attributes ATTRIBUTES, --to", "(default: 8)"]),
        ("train", ["--overwrite", "--resume"]),
    ]:
        with pytest.raises(SystemExit) as exit:
            parser.parse_args([command, "--help"])
        text = capsys.readouterr().out
        assert exit.value.code == 0 and all(o in text for o in options), (command, text)
        for action in parser._subparsers._group_actions[0].choices[command]._actions:
            assert action.help, f"{command} {action.option_strings} has no help"


@pytest.mark.parametrize(
    "argv, code, text",
    [
        (["--version"], 0, "facegen 0.1.0"),
        (["sample", "--steps", "0"], 2, "facegen: error: sample: argument --steps: must be >= 1, got 0"),
        (["train", "--config", "broken.yaml"], 2, "broken.yaml, line 3, column 1"),
    ],
)
def test_as_a_real_process(argv, code, text, tmp_path):
    (tmp_path / "broken.yaml").write_text("train:\n  lr: [1,\n")
    env = {k: v for k, v in os.environ.items() if k != "FACEGEN_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "facegen.cli", *argv], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == code and text in done.stdout + done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) <= 1
