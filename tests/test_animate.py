"""`facegen.animate`: eased paths, shared noise, determinism, and the videos it writes (read back with imageio)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from facegen.animate import EASINGS, animate, check_request, keyframe_attributes, path_positions
from facegen.conditioning.attributes import attribute_matrix
from facegen.faces.photos import load_photo
from facegen.pipeline import FacePipeline
from facegen.utils.video import encode_video, even_frame, video_suffix, write_video
from tests.cli.conftest import save_tiny_checkpoints, tiny_config

imageio = pytest.importorskip("imageio.v2", reason='videos need the video extra: pip install "facegen[video]"')


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> FacePipeline:
    run = save_tiny_checkpoints(tiny_config(tmp_path_factory.mktemp("runs"), "attr", "conditioning.type=attributes"))
    return FacePipeline.from_checkpoint(run, device="cpu")


def consecutive_change(frames: torch.Tensor) -> float:
    return (frames[1:] - frames[:-1]).abs().mean().item()


@pytest.mark.parametrize("easing", sorted(EASINGS))
def test_the_path_starts_and_ends_on_keyframes_and_never_goes_back(easing):
    positions = path_positions(13, 3, easing)
    assert positions[0] == (0, 0.0) and positions[-1] == (2, 1.0)
    assert positions[4] == (1, 0.0) and positions[8] == (2, 0.0)  # (13 - 1) / 3: every keyframe is a frame
    progress = [s + w for s, w in positions]
    assert all(b > a for a, b in zip(progress, progress[1:]))


def test_eased_paths_start_and_stop_gently():
    for name in ("smoothstep", "cosine"):
        steps = np.diff([w for _, w in path_positions(21, 1, name)])
        assert steps[0] < steps[10] / 3 and steps[-1] < steps[10] / 3


def test_keyframes_change_what_they_name_and_keep_the_rest():
    start = attribute_matrix("Male=1,Smiling=0", 1)[0]
    keys = keyframe_attributes(start, [{"Smiling": 1}, {"Young": 0}])
    names = {"Male": 20, "Smiling": 31, "Young": 39}
    assert [k[names["Male"]].item() for k in keys] == [1, 1, 1]
    assert [k[names["Smiling"]].item() for k in keys] == [-1, 1, 1]
    assert [k[names["Young"]].item() for k in keys] == [0, 0, -1]


def test_attribute_clips_are_deterministic_and_share_one_noise(tiny):
    options = dict(from_attributes="Male=1", to=["Male=0"], frames=6, progress=False)
    clip = animate(tiny, **options)
    assert clip.frames.shape == (6, 3, 16, 16) and clip.report["source"] == "attributes"
    assert torch.equal(clip.frames, animate(tiny, **options).frames)
    independent = animate(tiny, independent=True, **options)
    assert consecutive_change(clip.frames) < 0.5 * consecutive_change(independent.frames)


def test_a_seed_path_goes_from_one_seeds_face_to_the_next(tiny):
    clip = animate(tiny, seeds=[3, 4, 5], frames=5, batch_size=2, progress=False)
    for frame, seed in ((0, 3), (2, 4), (4, 5)):
        alone = tiny.generate(1, seed=seed, progress=False)[0]
        torch.testing.assert_close(clip.frames[frame], alone, atol=1e-4, rtol=0)
    assert torch.equal(clip.frames, animate(tiny, seeds=[3, 4, 5], frames=5, progress=False).frames)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(), "give a source"),
        (dict(seeds=[1]), "two or more seeds"),
        (dict(seeds=[1, -2]), "seeds must be integers"),
        (dict(seeds=[1, 2], to=["Smiling=1"]), "not seeds"),
        (dict(from_attributes="Male=1"), "to: name the attributes"),
        (dict(from_attributes="Male=1", to=["Smling=1"]), "to 'Smling=1'"),
        (dict(from_attributes="Male=1", to=["Smiling=1", "Bogus=1"]), "then 'Bogus=1'"),
        (dict(from_attributes="Male=1", to=["Smiling=1"], frames=1), "frames must be"),
        (dict(from_attributes="Male=1", to=["Smiling=1"], fps=0), "fps must be"),
        (dict(from_attributes="Male=1", to=["Smiling=1"], easing="bounce"), "easing must be"),
        (dict(from_attributes="Male=1", to=["Smiling=1"], paste_back=True), "paste_back needs a photo"),
        (dict(image="a.jpg", seeds=[1, 2], to=["Smiling=1"]), "give one source"),
    ],
)
def test_bad_requests_are_one_line_naming_the_argument(kwargs, words):
    with pytest.raises(ValueError) as err:
        check_request(None, **kwargs)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_an_unconditional_model_animates_only_between_seeds(tmp_path):
    pipe = FacePipeline.from_checkpoint(save_tiny_checkpoints(tiny_config(tmp_path, "u")), device="cpu")
    with pytest.raises(ValueError, match="not attribute-conditioned"):
        animate(pipe, from_attributes="Male=1", to="Male=0", frames=3, progress=False)
    assert len(animate(pipe, seeds=[1, 2], frames=3, progress=False).frames) == 3


def test_an_mp4_is_h264_yuv420p_at_its_fps_with_every_frame(tiny, tmp_path):
    clip = animate(tiny, seeds=[1, 2], frames=12, fps=8, progress=False)
    path = clip.save(tmp_path / "clip.mp4")
    reader = imageio.get_reader(path)
    meta = reader.get_meta_data()
    assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["fps"] == 8
    assert meta["duration"] == pytest.approx(clip.duration) == pytest.approx(1.5)
    assert reader.count_frames() == 12
    assert reader.get_data(0).shape == (16, 16, 3)
    reader.close()


def test_odd_sizes_become_even_and_webm_and_gif_by_extension(tmp_path):
    frames = [np.full((17, 15, 3), 40 * i, dtype=np.uint8) for i in range(4)]
    assert even_frame(frames[0]).shape == (18, 16, 3)
    webm = write_video(frames, tmp_path / "clip.webm", fps=4)
    reader = imageio.get_reader(webm)
    assert reader.get_meta_data()["codec"] == "vp9" and reader.count_frames() == 4
    reader.close()
    gif = write_video(frames, tmp_path / "clip.gif", fps=5)
    with Image.open(gif) as image:
        assert image.n_frames == 4 and image.info["duration"] == 200
    mp4 = write_video(frames, tmp_path / "clip.mp4", fps=4)
    reader = imageio.get_reader(mp4)
    assert reader.get_meta_data()["size"] == (16, 18)
    assert np.abs(reader.get_data(3)[:17, :15].astype(float) - 120).max() <= 3  # lossy, but the frame's colour
    reader.close()
    assert encode_video(frames, 4, ".mp4")[4:8] == b"ftyp"


def test_a_video_is_never_written_over_an_existing_file_without_overwrite(tmp_path):
    frames = [np.zeros((8, 8, 3), dtype=np.uint8)] * 2
    path = tmp_path / "clip.gif"
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_video(frames, path, fps=2)
    assert path.read_bytes() == b"mine"
    write_video(frames, path, fps=2, overwrite=True)
    assert path.read_bytes()[:3] == b"GIF"
    with pytest.raises(ValueError, match=r"\.mp4, \.webm, \.gif"):
        video_suffix(tmp_path / "clip.avi")


@pytest.mark.slow
def test_a_photo_is_inverted_once_and_pasted_back_from_its_own_pixels(data_dir):
    pytest.importorskip("dlib", reason='pasting back aligns with the faces extra: pip install "facegen[faces]"')
    photo = sorted((data_dir / "celebamask-hq-512").glob("*.jpg"))[3]
    pipe = FacePipeline.from_pretrained("faces128", device="cpu")
    options = dict(image=photo, to="Smiling=1", frames=4, steps=1, progress=False)
    clip = animate(pipe, paste_back=True, **options)
    assert clip.report["source"] == "photo" and clip.report["alignment"] == "aligned"
    assert len(clip.pasted) == 4 and all(p.size == (512, 512) for p in clip.pasted)
    assert np.array_equal(np.asarray(clip.pasted[0]), np.asarray(load_photo(photo)))  # frame 0: the photo itself
    assert torch.equal(clip.frames, animate(pipe, **options).frames)  # one inversion, deterministic
    independent = animate(pipe, independent=True, **options)
    assert consecutive_change(clip.frames) < consecutive_change(independent.frames)


def test_a_semantic_model_moves_the_faces_code_to_each_keyframe(tmp_path):
    cfg = tiny_config(tmp_path, "sem", "conditioning.type=attributes", "conditioning.semantic_dim=8")
    pipe = FacePipeline.from_checkpoint(save_tiny_checkpoints(cfg), device="cpu")
    photo = Image.new("RGB", (40, 48), (120, 90, 60))
    options = dict(image=photo, to=["Smiling=1", "Young=0"], frames=5, align=False, progress=False)
    clip = animate(pipe, **options)
    assert clip.frames.shape == (5, 3, 16, 16) and clip.report["semantic"] is True
    assert torch.equal(clip.frames, animate(pipe, **options).frames)
    assert animate(pipe, use_semantic=False, **options).report["semantic"] is False
