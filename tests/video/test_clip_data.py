"""Clip data: camera-motion clips from real CelebA photos (shapes, smooth constant motion, mirrors), and aligned face
clips cut from a real video file."""

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from facegen.data.clips import ClipCache, camera_frames, encode_clips, render_camera_motion
from facegen.faces.photos import load_photo


@pytest.fixture(scope="module")
def photo(celeba_root):
    path = sorted((celeba_root / "img_align_celeba").iterdir())[0]
    return torch.from_numpy(np.array(load_photo(path))).permute(2, 0, 1)


def best_shift(a: torch.Tensor, b: torch.Tensor, reach: int = 5) -> tuple[int, float]:
    """The horizontal shift s for which b[..., x] best matches a[..., x + s] (interior columns), and its error."""
    errors = {s: (a[..., reach + s : a.shape[-1] - reach + s] - b[..., reach:-reach]).abs().mean().item()
              for s in range(-reach, reach + 1)}  # fmt: skip
    shift = min(errors, key=errors.get)
    return shift, errors[shift]


def test_a_pan_moves_the_picture_a_constant_distance_each_frame(photo):
    frames = camera_frames(photo, np.array([2.0, 0.0, 0.0, 0.0]), frames=6, size=32)
    assert frames.shape == (6, 3, 32, 32)
    for k in range(5):  # the camera moves right 2 px a frame: the picture moves left 2 px
        shift, error = best_shift(frames[k], frames[k + 1])
        assert shift == 2
        assert error < 0.25 * (frames[k + 1] - frames[k]).abs().mean().item()  # far better than not moving


def test_zoom_and_rotation_change_frames_smoothly(photo):
    frames = camera_frames(photo, np.array([0.0, 0.0, 0.05, 2.0]), frames=8, size=32)
    change = (frames[1:] - frames[:-1]).abs().mean(dim=(1, 2, 3))
    assert (change > 1).all()  # it moves every frame
    assert change.max() < 1.6 * change.min()  # at a steady rate: no jumps
    middle = camera_frames(photo, np.zeros(4), frames=1, size=32)[0]
    assert torch.allclose(frames[3:5].mean(0), middle, atol=40)  # centred on the still view


def test_camera_clip_cache_serves_clips_mirrors_and_attributes(celeba_root, tmp_path):
    cache = render_camera_motion("celeba", str(celeba_root), "train", 4, 16, 1.5, 0.02, 1.0, 6, cache_dir=tmp_path)
    assert isinstance(cache, ClipCache) and len(cache) == 6 and cache.clips.shape == (6, 4, 3, 16, 16)
    assert np.abs(cache.motions[:, :2]).max() <= 1.5 and np.abs(cache.motions[:, 2]).max() <= 0.02
    batch = cache.batch(np.array([0, 2]), torch.tensor([False, True]))
    assert batch["image"].shape == (2, 4, 3, 16, 16) and batch["attributes"].shape == (2, 40)
    assert batch["image"].min() >= -1 and batch["image"].max() <= 1
    plain = cache.batch(np.array([0, 2]))["image"]
    assert torch.equal(batch["image"][0], plain[0]) and torch.equal(batch["image"][1], plain[1].flip(-1))
    again = render_camera_motion("celeba", str(celeba_root), "train", 4, 16, 1.5, 0.02, 1.0, 6, cache_dir=tmp_path)
    assert again.path == cache.path and np.array_equal(again.clips, cache.clips)  # built once, deterministic


def test_a_fixed_pan_angle_gives_every_clip_the_same_motion(celeba_root, tmp_path):
    args = ("celeba", str(celeba_root), "train", 4, 16, 1.5, 0.02, 1.0, 4)
    fixed = render_camera_motion(*args, cache_dir=tmp_path, pan_angle=90)
    assert np.allclose(fixed.motions[:, 0], 0, atol=1e-6) and np.allclose(fixed.motions[:, 1], 1.5)  # downwards
    free = render_camera_motion(*args, cache_dir=tmp_path)
    assert free.path != fixed.path  # its own cache
    assert np.array_equal(free.motions[:, 2:], fixed.motions[:, 2:])  # the same zooms and rotations drawn
    rows = torch.from_numpy(fixed.clips[0].astype(np.float32)).transpose(-1, -2)  # best_shift reads the last axis
    assert best_shift(rows[1], rows[2], reach=3)[0] in (1, 2)  # the camera moves 1.5 px down a frame


def test_latent_clip_cache_holds_every_frame_and_its_mirror_encoded(celeba_root, tmp_path):
    from facegen.autoencoders import build_autoencoder
    from facegen.autoencoders.taef2 import bundled_taef2_dir

    taef2 = build_autoencoder("taef2")
    pixels = render_camera_motion("celeba", str(celeba_root), "train", 3, 64, 4.0, 0.0, 0.0, 2, cache_dir=tmp_path)
    cache = encode_clips(pixels, taef2)
    assert cache.latents.shape == (2, 2, 3, 32, 8, 8)  # [N, plain and mirror, T, C, h, w]
    batch = cache.batch(np.array([1, 0]), torch.tensor([True, False]))
    assert batch["image"].shape == (2, 3, 32, 8, 8) and batch["attributes"].shape == (2, 40)
    frames = pixels.batch(np.array([1, 0]))["image"]
    with torch.no_grad():
        expected = torch.stack([taef2.encode(frames[0].flip(-1)), taef2.encode(frames[1])])
    assert torch.allclose(batch["image"], expected, atol=0.02, rtol=0.01)  # float16 storage
    written = (cache.path / "latents.npy").stat().st_mtime_ns
    assert encode_clips(pixels, taef2).latents.shape == cache.latents.shape  # built once: read back, not rewritten
    assert (cache.path / "latents.npy").stat().st_mtime_ns == written
    copy = shutil.copytree(bundled_taef2_dir(), tmp_path / "another_install" / "taef2")  # the same weights elsewhere
    assert encode_clips(pixels, build_autoencoder("taef2", path=copy)).latents.shape == cache.latents.shape
    assert (cache.path / "latents.npy").stat().st_mtime_ns == written  # a clone or reinstall does not re-encode


def test_face_clips_from_a_real_video_are_aligned_and_cut_to_length(celeba_root, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    pytest.importorskip("dlib")
    from facegen.data.videos import video_clips
    from facegen.utils.video import write_video

    face = load_photo(sorted((celeba_root / "img_align_celeba").iterdir())[0]).resize((356, 436))
    frames = []
    for k in range(9):  # the face drifts right and down across a grey canvas
        canvas = Image.new("RGB", (480, 480), (120, 120, 120))
        canvas.paste(face, (40 + 6 * k, 10 + 3 * k))
        frames.append(np.asarray(canvas))
    (tmp_path / "videos").mkdir()
    write_video(frames, tmp_path / "videos" / "drift.mp4", fps=10)
    cache = video_clips(str(tmp_path / "videos"), frames=4, size=16, cache_dir=str(tmp_path / "cache"))
    assert cache.clips.shape == (2, 4, 3, 16, 16)  # 9 frames with a face -> two clips of 4
    clip = cache.batch(np.array([0]))["image"][0]
    # aligned: the face stays put although it moved 18 px across the photo
    assert (clip[1:] - clip[:-1]).abs().mean() < 0.1
