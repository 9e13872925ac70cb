"""A run folder is one run's (issue 20, data loss): a new run never deletes files it finds there without
--overwrite, and two trainings into it never run at once. Tiny runs of one step."""

from __future__ import annotations

from .conftest import held_by_another_process, run_cli, snapshot
from .test_data_loss import logged_steps, train_args  # noqa: F401  (train_args is a fixture)


def test_a_folder_without_checkpoints_keeps_its_files_without_overwrite(train_args, tmp_path, capsys):  # noqa: F811
    run = tmp_path / "runs" / "x"
    for name in ("samples", "eval", "logs"):
        (run / name).mkdir(parents=True)
        (run / name / "mine.png").write_bytes(b"mine")
    (run / "config.yaml").write_text("mine: true\n")
    before = snapshot(run)
    refused = run_cli(capsys, train_args("train.max_steps=1"))
    assert refused.code == 3 and len(refused.error_lines) == 1 and "--overwrite" in refused.error_lines[0]
    assert "samples" in refused.error_lines[0] and snapshot(run) == before


def test_two_trainings_into_one_folder_never_run_at_once(train_args, tmp_path, capsys):  # noqa: F811
    run = tmp_path / "runs" / "x"
    with held_by_another_process(run) as holder:
        refused = run_cli(capsys, train_args("train.max_steps=1"))
        assert refused.code == 3 and len(refused.error_lines) == 1
        assert "runs/x" in refused.error_lines[0] and f"process {holder.pid}" in refused.error_lines[0]
        assert not run.exists()
        holder.kill()  # the lock of a process that died is taken over
        holder.wait()
        assert run_cli(capsys, train_args("train.max_steps=1")).code == 0
    assert logged_steps(run) == [1] and not (run.parent / ".x.lock").exists()
