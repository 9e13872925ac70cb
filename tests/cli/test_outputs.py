"""Outputs never replace what a command did not write (issue 20, data loss): sample, edit, interpolate, eval and
export refuse a --out that holds other files unless --overwrite; export is atomic and never touches its source;
pruning keeps a user's files. Tiny checkpoints of the CLI sandbox, no training."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from facegen.checkpoint import prune_checkpoints

from .conftest import held_by_another_process, run_cli, save_tiny_checkpoints, snapshot, tiny_config

ATTR = "runs/attr"
IMAGE = "images/face.jpg"
# command -> (its arguments without --out, a file name it writes)
WRITERS = {
    "sample": (["sample", "--checkpoint", ATTR, "--num-samples", "2"], "0000.png"),
    "edit": (["edit", "--checkpoint", ATTR, "--image", IMAGE, "--attributes", "Smiling=1", "--no-align"], "input.png"),
    "interpolate": (["interpolate", "--checkpoint", ATTR, "--seeds", "1", "2", "--frames", "2"], "strip.png"),
}


@pytest.fixture
def user_folder(in_sandbox, tmp_path):
    """A folder of the user's own files, named as the commands name theirs."""
    folder = tmp_path / "mine"
    folder.mkdir()
    for _, name in WRITERS.values():
        (folder / name).write_bytes(b"the user's own file")
    (folder / "notes.txt").write_text("keep")
    return folder


@pytest.mark.parametrize("command", WRITERS)
def test_a_folder_with_other_files_is_refused_then_overwrite_keeps_the_others(command, user_folder, capsys):
    argv, written = WRITERS[command]
    before = snapshot(user_folder)
    refused = run_cli(capsys, [*argv, "--out", user_folder])
    assert refused.code == 3 and len(refused.error_lines) == 1 and "--overwrite" in refused.error_lines[0]
    assert snapshot(user_folder) == before

    assert run_cli(capsys, [*argv, "--out", user_folder, "--overwrite"]).code == 0
    assert (user_folder / written).read_bytes() != b"the user's own file"  # asked for: replaced
    assert (user_folder / "notes.txt").read_text() == "keep"  # never asked for: kept
    assert not [p for p in user_folder.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_edit_never_replaces_its_own_input_photo(in_sandbox, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    photo = folder / "input.png"
    shutil.copyfile(in_sandbox / IMAGE, photo)
    argv = [*WRITERS["edit"][0][:3], "--image", photo, "--attributes", "Smiling=1", "--no-align", "--out", folder]
    result = run_cli(capsys, argv)
    assert result.code == 3 and photo.read_bytes() == (in_sandbox / IMAGE).read_bytes()


@pytest.mark.parametrize("command", WRITERS)
def test_an_empty_out_is_refused_not_the_current_folder(command, in_sandbox, capsys):
    before = snapshot(in_sandbox)
    result = run_cli(capsys, [*WRITERS[command][0], "--out", ""])
    assert result.code == 2 and "--out ''" in result.error_lines[0]
    assert snapshot(in_sandbox) == before


def test_a_new_out_appears_whole(in_sandbox, tmp_path, capsys):
    out = tmp_path / "new" / "samples"
    assert run_cli(capsys, [*WRITERS["sample"][0], "--out", out]).code == 0
    assert sorted(p.name for p in out.iterdir()) == ["0000.png", "0001.png", "grid.png"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["samples"]


def test_eval_never_replaces_a_file_without_overwrite(in_sandbox, tmp_path, capsys, monkeypatch):
    report = tmp_path / "config.yaml"  # e.g. a checkpoint's config
    report.write_text("precious: true\n")
    monkeypatch.setattr("facegen.scoring.score", lambda *a, **k: pytest.fail("generated before checking --out"))
    argv = ["eval", "--checkpoint", "runs/uncond", "--ref", "folder:images", "--metrics", "fd_attr"]
    result = run_cli(capsys, [*argv, "--out", report])
    assert result.code == 3 and str(report) in result.error_lines[0] and "--overwrite" in result.error_lines[0]
    assert report.read_text() == "precious: true\n"
    assert run_cli(capsys, [*argv, "--out", ""]).code == 2


@pytest.mark.parametrize("where", ["run", "checkpoint", "inside", "around"])
def test_export_never_writes_into_or_around_its_source(where, in_sandbox, capsys):
    out = {
        "run": "runs/attr",
        "checkpoint": "runs/attr/checkpoints/step_00000002",
        "inside": "runs/attr/exported",
        "around": "runs",
    }[where]
    before = snapshot(in_sandbox / "runs")
    result = run_cli(capsys, ["export", "--checkpoint", ATTR, "--out", out, "--overwrite"])
    assert result.code == 2 and "--out" in result.error_lines[0] and "outside the run" in result.error_lines[0]
    assert snapshot(in_sandbox / "runs") == before


def test_export_replaces_atomically_and_a_failed_one_keeps_the_old(in_sandbox, tmp_path, capsys, monkeypatch):
    out = tmp_path / "model"
    assert run_cli(capsys, ["export", "--checkpoint", ATTR, "--out", out]).code == 0
    before = snapshot(out)
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".tmp-model-{dead.pid}"  # what an export killed before ours left
    stale.mkdir()

    def killed_late(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("facegen.pretrained.atomic_write_json", killed_late)  # after the weights are written
    assert run_cli(capsys, ["export", "--checkpoint", ATTR, "--out", out, "--overwrite"]).code == 130
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # its own and the dead one's temporaries gone


def test_two_exports_to_one_out_do_not_both_succeed(in_sandbox, tmp_path, capsys):
    out = tmp_path / "model"
    with held_by_another_process(out) as holder:
        result = run_cli(capsys, ["export", "--checkpoint", ATTR, "--out", out, "--overwrite"])
        assert result.code == 3 and f"process {holder.pid}" in result.error_lines[0]
        assert not out.exists()
        holder.kill()  # a lock whose process died is taken over
        holder.wait()
        assert run_cli(capsys, ["export", "--checkpoint", ATTR, "--out", out]).code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_pruning_keeps_a_checkpoint_folder_with_a_users_files(tmp_path):
    run = save_tiny_checkpoints(tiny_config(tmp_path, "x"), steps=(1, 2, 3))
    root = run / "checkpoints"
    (root / "step_00000001" / "my_samples.png").write_bytes(b"mine")
    prune_checkpoints(root, keep_every=10)  # keeps latest (3) only, by the rule
    assert sorted(p.name for p in root.glob("step_*")) == ["step_00000001", "step_00000003"]
    assert (root / "step_00000001" / "my_samples.png").read_bytes() == b"mine"
