"""`facegen animate`: the video it writes (frames, fps, duration read back), and every bad input refused in one
line before any work, leaving nothing behind. Tiny checkpoints of the CLI sandbox."""

from __future__ import annotations

import pytest

from .conftest import run_cli, snapshot

imageio = pytest.importorskip("imageio.v2", reason='videos need the video extra: pip install "facegen[video]"')

ATTR, UNCOND, IMAGE = "runs/attr", "runs/uncond", "images/face.jpg"


def test_a_clip_between_seeds_is_written_at_its_fps(in_sandbox, capsys):
    done = run_cli(capsys, ["animate", "--checkpoint", ATTR, "--seeds", "1,2,3", "--frames", "6", "--fps", "4"])
    assert done.code == 0, done.err
    assert "animation.mp4 (6 frames at 4 fps, 1.5 s" in done.out
    reader = imageio.get_reader(in_sandbox / "animation.mp4")
    assert reader.count_frames() == 6 and reader.get_meta_data()["fps"] == 4
    assert reader.get_meta_data()["duration"] == pytest.approx(1.5)
    reader.close()
    before = (in_sandbox / "animation.mp4").read_bytes()
    again = run_cli(capsys, ["animate", "--checkpoint", ATTR, "--seeds", "1,2", "--frames", "2"])
    assert again.code == 3 and "exists" in again.error_lines[0] and "--overwrite" in again.error_lines[0]
    assert (in_sandbox / "animation.mp4").read_bytes() == before  # never replaced without --overwrite
    argv = ["animate", "--checkpoint", ATTR, "--seeds", "1,2,3", "--frames", "6", "--fps", "4", "--overwrite"]
    assert run_cli(capsys, argv).code == 0
    assert (in_sandbox / "animation.mp4").read_bytes() == before  # the same seeds: the same video
    (in_sandbox / "animation.mp4").unlink()


def test_keyframes_from_attributes_and_a_photo_as_gif(in_sandbox, capsys, tmp_path):
    out = tmp_path / "clip.gif"
    argv = ["animate", "--checkpoint", ATTR, "--from-attributes", "Male=1", "--to", "Male=0", "--then", "Smiling=1"]
    done = run_cli(capsys, [*argv, "--frames", "5", "--out", out])
    assert done.code == 0, done.err
    from PIL import Image, ImageSequence

    with Image.open(out) as gif:  # Pillow merges identical frames (a tiny model's may be): their time adds up
        assert sum(frame.info["duration"] for frame in ImageSequence.Iterator(gif)) == 5 * 42  # 24 fps: 42 ms
    photo = ["animate", "--checkpoint", ATTR, "--image", IMAGE, "--to", "Smiling=1", "--no-align", "--frames", "3"]
    done = run_cli(capsys, [*photo, "--out", tmp_path / "photo.webm"])
    assert done.code == 0, done.err
    assert imageio.get_reader(tmp_path / "photo.webm").count_frames() == 3


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--seeds", "1"], "--seeds: expected two or more seeds"),
        (["--seeds", "1,x"], "--seeds: expected an integer"),
        (["--to", "Smiling=1"], "give a face to animate"),
        (["--from-attributes", "Male=1"], "--to: name the attributes"),
        (["--from-attributes", "Male=1", "--to", "Smling=1"], "--to: unknown attribute 'Smling'"),
        (["--from-attributes", "Male=1", "--to", "Male=0", "--then", "Bogus=1"], "--then: unknown attribute"),
        (["--from-attributes", "Male=1", "--then", "Male=0"], "--then needs --to"),
        (["--seeds", "1,2", "--to", "Male=0"], "not --seeds"),
        (["--image", IMAGE, "--seeds", "1,2", "--to", "Male=0"], "not both"),
        (["--image", "images/text.png", "--to", "Smiling=1"], "--image images/text.png is not a readable image"),
        (["--image", IMAGE, "--to", "Smiling=1", "--paste-back", "--no-align"], "--paste-back needs"),
        (["--seeds", "1,2", "--paste-back"], "--paste-back needs --image"),
        (["--seeds", "1,2", "--out", "clip.avi"], "--out clip.avi: write a .mp4, .webm, .gif file"),
        (["--seeds", "1,2", "--out", "a_file/clip.mp4"], "a_file"),
        (["--seeds", "1,2", "--frames", "1"], "--frames: must be in [2, 1000]"),
        (["--seeds", "1,2", "--fps", "0"], "--fps: must be in [1, 120]"),
        (["--seeds", "1,2,3", "--frames", "2"], "frames=2 is too few for 3 seeds"),
        (["--seeds", "1,2", "--easing", "bounce"], "--easing: invalid choice"),
    ],
)
def test_bad_inputs_are_one_line_naming_the_option_and_write_nothing(in_sandbox, capsys, argv, words):
    before = snapshot(in_sandbox)
    done = run_cli(capsys, ["animate", "--checkpoint", ATTR, *argv])
    assert done.code in (2, 4) and len(done.error_lines) == 1 and words in done.error_lines[0], done.err
    assert snapshot(in_sandbox) == before


def test_an_unconditional_model_is_refused_attributes(in_sandbox, capsys):
    before = snapshot(in_sandbox)
    done = run_cli(capsys, ["animate", "--checkpoint", UNCOND, "--from-attributes", "Male=1", "--to", "Male=0"])
    assert done.code == 2 and "not attribute-conditioned" in done.error_lines[0]
    assert snapshot(in_sandbox) == before
