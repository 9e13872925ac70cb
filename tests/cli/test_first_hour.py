"""A new user's first hour (issue 20): where the data goes, what the bundled model is, threads, progress, names."""

from __future__ import annotations

from facegen.data.roots import DATA_ROOT_ENV

from .conftest import run_cli

EVAL = ["eval", "--checkpoint", "runs/attr", "--num-samples", "2", "--steps", "1"]


def test_eval_without_celeba_says_where_it_goes_and_names_the_variable(in_sandbox, capsys, monkeypatch):
    monkeypatch.setenv(DATA_ROOT_ENV, str(in_sandbox / "no-data"))
    result = run_cli(capsys, EVAL)
    assert result.code == 2 and len(result.error_lines) == 1
    line = result.error_lines[0]
    assert str(in_sandbox / "no-data" / "celeba") in line and "--celeba-root" in line and DATA_ROOT_ENV in line


def test_eval_finds_celeba_under_the_variable(in_sandbox, celeba_root, capsys, monkeypatch, tmp_path):
    (tmp_path / "celeba").symlink_to(celeba_root)
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    seen = {}

    def score(pipe, metrics, num_samples, ref, celeba_root, **options):
        seen["root"] = celeba_root
        raise KeyboardInterrupt  # checked and about to generate: enough

    monkeypatch.setattr("facegen.scoring.score", score)
    assert run_cli(capsys, EVAL).code == 130 and seen["root"] == "$FACEGEN_DATA_ROOT/celeba"
