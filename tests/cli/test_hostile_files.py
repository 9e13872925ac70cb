"""Hostile files (issue 20): model folders naming files outside themselves, YAML alias bombs and repeated keys,
a resume with another objective. Each ends in one line naming the file or key, before any work."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from facegen.pretrained import export_model

from .conftest import run_cli, snapshot

BAD = 2
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)


@pytest.fixture(scope="module")
def model_folder(sandbox, tmp_path_factory):
    return export_model(sandbox / "runs" / "attr", tmp_path_factory.mktemp("export") / "model")


def _hostile_copy(model_folder, tmp_path, change) -> str:
    folder = tmp_path / "hostile"
    shutil.copytree(model_folder, folder)
    change(folder)
    return str(folder)


def _shard_named(name: str):
    def change(folder):
        meta = json.loads((folder / "meta.json").read_text())
        meta["shards"][0]["file"] = name
        (folder / "meta.json").write_text(json.dumps(meta))

    return change


def _linked(file: str, target: str):
    def change(folder):
        (folder / file).unlink()
        (folder / file).symlink_to(target)

    return change


HOSTILE_FOLDERS = {
    "shard_parent": (_shard_named("../model/model-00001-of-00001.safetensors"), "not a plain file name"),
    "shard_absolute": (_shard_named("/etc/passwd"), "not a plain file name"),
    "shard_hidden": (_shard_named(".x"), "not a plain file name"),
    "config_link_out": (_linked("config.yaml", "/etc/hostname"), "a link to a file outside the model folder"),
    "config_alias_bomb": (lambda f: (f / "config.yaml").write_text(BOMB), "alias *a refused"),
    "config_repeated": (lambda f: (f / "config.yaml").write_text("seed: 1\nseed: 2\n"), "key 'seed' repeated"),
    "meta_list": (lambda f: (f / "meta.json").write_text("[]"), "meta.json: not the meta.json of an export"),
}


@pytest.mark.parametrize("name", HOSTILE_FOLDERS)
def test_hostile_model_folder_is_one_line(name, model_folder, in_sandbox, tmp_path, capsys):
    change, needle = HOSTILE_FOLDERS[name]
    folder = _hostile_copy(model_folder, tmp_path, change)
    before = snapshot(in_sandbox)
    started = time.monotonic()
    result = run_cli(capsys, ["sample", "--model", folder, "--num-samples", "1", "--out", "out"])
    assert time.monotonic() - started < 30, "a hostile folder must be refused quickly"
    assert result.code == BAD and len(result.error_lines) == 1 and "Traceback" not in result.err, result.err
    assert needle in result.error_lines[0], result.error_lines[0]
    assert snapshot(in_sandbox) == before


@pytest.mark.parametrize(
    "text, needle",
    [
        (BOMB, "line 2, column 8: alias *a refused"),
        ("train:\n  lr: 0.1\n  batch_size: 2\n  lr: 0.2\n", "line 4, column 3: key 'lr' repeated (first on line 2)"),
        ("train: {lr: 1}\ntrain: {lr: 2}\n", "key 'train' repeated"),
    ],
)
def test_yaml_aliases_and_repeated_keys_are_refused_with_their_line(text, needle, in_sandbox, tmp_path, capsys):
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    before = snapshot(in_sandbox)
    started = time.monotonic()
    result = run_cli(capsys, ["train", "output_dir=out", "--config", path])
    assert time.monotonic() - started < 10
    assert result.code == BAD and len(result.error_lines) == 1, result.err
    assert str(path) in result.error_lines[0] and needle in result.error_lines[0], result.error_lines[0]
    assert snapshot(in_sandbox) == before


def test_a_config_file_is_size_checked_before_it_is_read(in_sandbox, tmp_path, capsys):
    path = tmp_path / "sparse.yaml"
    with open(path, "wb") as handle:
        handle.truncate(3 * 2**30)  # 3 GB on paper, nothing on disk
    result = run_cli(capsys, ["train", "output_dir=out", "--config", path])
    assert result.code == BAD and "a YAML config is at most" in result.error_lines[0]


def test_resume_with_another_objective_is_refused(in_sandbox, capsys):
    """The attribute run was saved as rectified flow; the same weights trained on as DDPM would be nonsense."""
    argv = ["train", "--resume", "auto", "output_dir=runs", "exp_name=attr", "conditioning.type=attributes"]
    from .conftest import TINY

    before = snapshot(in_sandbox)
    result = run_cli(capsys, [*argv, *TINY, "objective.name=ddpm"])
    assert result.code == BAD and len(result.error_lines) == 1, result.err
    assert "objective.name: checkpoint 'rectified_flow', config 'ddpm'" in result.error_lines[0]
    result = run_cli(capsys, [*argv, *TINY, "objective.prediction=x"])
    assert "objective.prediction: checkpoint 'velocity', config 'x'" in result.error_lines[0]
    assert snapshot(in_sandbox) == before
    assert os.path.isdir(in_sandbox / "runs" / "attr" / "checkpoints")
