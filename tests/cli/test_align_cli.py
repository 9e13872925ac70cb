"""`facegen align`, `edit` on a photo that is not aligned (`--paste-back`, identity in edit.json) and
`eval --metrics identity`, on real faces with the sandbox's tiny checkpoints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from .conftest import run_cli, snapshot

pytest.importorskip("dlib", reason='alignment needs the faces extra: pip install "facegen[faces]"')

ATTR, UNCOND = "runs/attr", "runs/uncond"


@pytest.fixture(scope="module")
def photos(celeba_root, tmp_path_factory) -> Path:
    """Two CelebA faces moved into bigger photos (not aligned), a photo without a face, two photos of one person."""
    folder = tmp_path_factory.mktemp("photos")
    for name, (size, spot) in {"182664.jpg": ((420, 360), (90, 40)), "182828.jpg": ((300, 400), (40, 120))}.items():
        photo = Image.new("RGB", size, (70, 110, 140))
        face = Image.open(celeba_root / "img_align_celeba" / name).convert("RGB").rotate(8, expand=True)
        photo.paste(face, spot)
        photo.save(folder / f"moved_{name}")
    Image.new("RGB", (200, 160), (128, 128, 128)).save(folder / "gray.png")
    (folder / "noface").mkdir()
    shutil.copy(folder / "gray.png", folder / "noface" / "gray.png")
    person = folder / "person"
    person.mkdir()
    people = {}
    for line in (celeba_root / "identity_CelebA.txt").read_text().splitlines()[::-1]:
        name, identity = line.split()
        if (celeba_root / "img_align_celeba" / name).is_file():
            people.setdefault(identity, []).append(name)
            if len(people[identity]) == 2:
                break
    for name in people[identity]:
        shutil.copy(celeba_root / "img_align_celeba" / name, person / name)
    return folder


def test_align_writes_one_crop_per_photo_and_refuses_to_overwrite(photos, in_sandbox, tmp_path, capsys):
    out = tmp_path / "aligned"
    images = [photos / "moved_182664.jpg", photos / "moved_182828.jpg"]
    result = run_cli(capsys, ["align", *images, "--out", out])
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 2 and "moved_182664.jpg ->" in result.out
    assert sorted(p.name for p in out.iterdir()) == ["moved_182664.png", "moved_182828.png"]
    assert all(Image.open(p).size == (178, 218) for p in out.iterdir())
    before = snapshot(out)
    again = run_cli(capsys, ["align", *images, "--out", out])
    assert again.code == 3 and len(again.error_lines) == 1 and "--overwrite" in again.error_lines[0]
    assert snapshot(out) == before
    assert run_cli(capsys, ["align", *images, "--out", out, "--overwrite"]).code == 0


def test_align_adds_nothing_to_a_folder_of_other_files_without_overwrite(photos, in_sandbox, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "moved_182664.png").write_bytes(b"the user's own file")
    (out / "notes.txt").write_text("keep")
    before = snapshot(out)
    refused = run_cli(capsys, ["align", photos / "moved_182664.jpg", "--out", out])
    assert refused.code == 3 and len(refused.error_lines) == 1 and "notes.txt" in refused.error_lines[0]
    assert snapshot(out) == before
    assert run_cli(capsys, ["align", photos / "moved_182664.jpg", "--out", out, "--overwrite"]).code == 0
    assert Image.open(out / "moved_182664.png").size == (178, 218) and (out / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in out.iterdir()) == ["moved_182664.png", "notes.txt"]  # no temporaries left


def test_align_leaves_no_folder_when_no_photo_has_a_face(photos, in_sandbox, tmp_path, capsys):
    result = run_cli(capsys, ["align", photos / "gray.png", "--out", tmp_path / "a"])
    assert result.code == 2 and "gray.png" in result.error_lines[0] and not (tmp_path / "a").exists()


def test_align_names_the_photo_without_a_face_and_keeps_the_others(photos, in_sandbox, tmp_path, capsys):
    out = tmp_path / "aligned"
    result = run_cli(capsys, ["align", photos / "gray.png", photos / "moved_182664.jpg", "--out", out])
    assert result.code == 2 and len(result.error_lines) == 1 and "gray.png" in result.error_lines[0]
    assert "Traceback" not in result.err and [p.name for p in out.iterdir()] == ["moved_182664.png"]


def test_align_refuses_an_unreadable_photo_before_writing(photos, in_sandbox, tmp_path, capsys):
    result = run_cli(capsys, ["align", photos / "moved_182664.jpg", "images/text.png", "--out", tmp_path / "a"])
    assert result.code == 2 and len(result.error_lines) == 1 and "images/text.png" in result.error_lines[0]
    assert not (tmp_path / "a").exists()


def test_edit_aligns_a_photo_and_pastes_the_edit_back(photos, in_sandbox, tmp_path, capsys):
    photo = photos / "moved_182828.jpg"
    argv = ["edit", "--checkpoint", ATTR, "--image", photo, "--set", "Smiling=1", "--steps", "1"]
    result = run_cli(capsys, [*argv, "--paste-back", "--out", tmp_path / "e"])
    assert result.code == 0, result.err
    assert Image.open(tmp_path / "e" / "pasted.png").size == Image.open(photo).size
    report = json.loads((tmp_path / "e" / "edit.json").read_text())
    assert report["alignment"] == "aligned" and report["faces_found"] == 1
    assert 0 <= report["identity_distance"] and report["identity_kept"] in (0.0, 1.0)
    plain = run_cli(capsys, [*argv, "--no-align", "--out", tmp_path / "n"])
    assert plain.code == 0 and json.loads((tmp_path / "n" / "edit.json").read_text())["alignment"] == "not aligned"
    assert not (tmp_path / "n" / "pasted.png").exists()


@pytest.mark.parametrize(
    "extra, needle",
    [(["--paste-back", "--no-align"], "--paste-back"), (["--paste-back"], "gray.png: no face found")],
)
def test_edit_paste_back_needs_an_aligned_face(photos, extra, needle, in_sandbox, tmp_path, capsys):
    image = photos / ("gray.png" if "no face" in needle else "moved_182664.jpg")
    argv = ["edit", "--checkpoint", ATTR, "--image", image, "--set", "Smiling=1", "--out", tmp_path / "e", *extra]
    result = run_cli(capsys, argv)
    assert result.code == 2 and len(result.error_lines) == 1 and needle in result.error_lines[0]
    assert not (tmp_path / "e").exists()


def test_eval_identity_against_one_person(photos, in_sandbox, tmp_path, capsys):
    argv = ["eval", "--checkpoint", UNCOND, "--ref", "folder:images", "--num-samples", "2", "--steps", "1"]
    out = tmp_path / "report.json"
    result = run_cli(capsys, [*argv, "--metrics", "identity", "--identity-ref", photos / "person", "--out", out])
    assert result.code == 0, result.err
    report = json.loads(out.read_text())
    assert report["metrics"]["identity"] > 0 and 0 <= report["metrics"]["identity_kept"] <= 1
    assert report["protocol"]["identity"]["reference"] == {"source": str(photos / "person"), "num_photos": 2}
    assert "same person (< 0.6)" in result.out


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--metrics", "identity"], "--identity-ref"),
        (["--metrics", "fd_attr", "--identity-ref", "images"], "--identity-ref"),
        (["--metrics", "identity", "--identity-ref", "nowhere"], "nowhere"),
        (["--metrics", "identity", "--identity-ref", "images"], "empty.jpg is not a readable image"),
        (["--metrics", "identity", "--identity-ref", "NOFACE"], "gray.png: no face found"),
    ],
)
def test_eval_identity_is_checked_before_generating(photos, extra, needle, in_sandbox, capsys):
    before = snapshot(in_sandbox)
    extra = [str(photos / "noface") if e == "NOFACE" else e for e in extra]
    result = run_cli(capsys, ["eval", "--checkpoint", UNCOND, "--ref", "folder:images", "--num-samples", "2", *extra])
    assert result.code == 2 and len(result.error_lines) == 1 and needle in result.error_lines[0], result.err
    assert snapshot(in_sandbox) == before
