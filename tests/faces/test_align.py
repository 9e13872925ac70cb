"""Alignment of any photo like CelebA, and paste-back, on real faces (shared CelebA and FFHQ photos).

Margins come from benchmarks/alignment.py (docs/ALIGNMENT.md): held-out CelebA landmarks lie 2.3 px from the
template on average; a photo moved into a canvas aligns within about 1 px (at most 2.2) of the original aligned
directly. Paste-back adds the edit's change (edited - reconstruction) to the photo: no change leaves it exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("dlib", reason='alignment needs the faces extra: pip install "facegen[faces]"')

from facegen.faces import align, detect, paste  # noqa: E402

HELD_OUT = ["182664.jpg", "182803.jpg", "182828.jpg", "182840.jpg", "182927.jpg", "183183.jpg", "183253.jpg"]


def celeba_photo(celeba_root: Path, name: str) -> Image.Image:
    return Image.open(celeba_root / "img_align_celeba" / name).convert("RGB")


def place(photo: Image.Image, angle_deg: float, scale: float, centre: tuple[float, float], size=(480, 420)):
    """The photo rotated, rescaled and moved into a grey canvas, and the 2x3 photo -> canvas transform."""
    angle = np.deg2rad(angle_deg)
    forward = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    forward = np.hstack([forward, (np.array(centre) - forward @ (np.array(photo.size) / 2))[:, None]])
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    canvas = photo.transform(size, Image.Transform.AFFINE, tuple(inverse.ravel()), Image.Resampling.BICUBIC, None, 0)
    background = Image.new("RGB", size, (128, 128, 128))
    inside = Image.new("L", photo.size, 255).transform(size, Image.Transform.AFFINE, tuple(inverse.ravel()))
    return Image.composite(canvas, background, inside), forward


@pytest.fixture(scope="module")
def moved(celeba_root):
    """A held-out CelebA photo rotated 12 degrees, enlarged 1.6x and moved off centre, with its alignment."""
    original = celeba_photo(celeba_root, HELD_OUT[0])
    canvas, forward = place(original, 12, 1.6, (250, 200))
    return original, canvas, forward, align.align_face(canvas, "canvas")


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 200, size=(5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -40.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    found = align.similarity_transform(points, points @ rotation.T + shift)
    assert np.allclose(found, np.hstack([rotation, shift[:, None]]), atol=1e-9)


def test_template_matches_held_out_celeba_photos(celeba_root):
    """The template was derived from train photos; test-split photos' landmarks sit on it."""
    landmarks = np.stack([detect.detect_landmarks(celeba_photo(celeba_root, n))[0] for n in HELD_OUT[:5]])
    errors = np.linalg.norm(landmarks - align.TEMPLATE, axis=2).mean(axis=1)
    assert errors.mean() < 3.5, errors  # measured 2.3 on 100 test photos
    assert np.abs(landmarks.mean(0) - align.TEMPLATE).max() < 3.0  # no landmark is off on average


def test_a_moved_photo_comes_back_where_celeba_put_it(moved, celeba_root):
    original, canvas, forward, face = moved
    assert face.image.size == (178, 218) and face.faces_found == 1 and not face.already_aligned
    direct = align.align_face(original)
    crop = np.array([[0, 20], [178, 20], [0, 198], [178, 198]], dtype=float)
    points = np.vstack([crop, direct.landmarks])
    via_canvas = align.apply_transform(face.transform @ np.vstack([forward, [0, 0, 1]]), points)
    assert np.linalg.norm(via_canvas - align.apply_transform(direct.transform, points), axis=1).mean() < 2.5
    a, b = (np.asarray(im.crop((0, 20, 178, 198)), dtype=float) for im in (face.image, direct.image))
    assert np.abs(a - b).mean() < 12  # grey levels; a 1 px shift of a face costs about 8
    assert align.landmark_error(detect.detect_landmarks(face.image)[0]) < 4.0


def test_an_ffhq_thumbnail_aligns(data_dir):
    photo = data_dir / "ffhq-thumbnails-128" / "00000.png"
    if not photo.is_file():
        pytest.skip(f"FFHQ thumbnails not found at {photo.parent}")
    assert not align.is_aligned(photo)  # FFHQ is aligned otherwise: landmarks 6-10 px off the template
    face = align.align_face(photo)
    assert face.image.size == (178, 218) and face.faces_found == 1
    # after alignment it counts as aligned (a baby's face keeps its own proportions: 4.1 px from the template)
    assert align.landmark_error(align.apply_transform(face.transform, face.landmarks)) < align.ALIGNED_TOLERANCE


def test_already_aligned_photos_are_recognised(celeba_root):
    photo = celeba_photo(celeba_root, HELD_OUT[2])
    assert align.is_aligned(photo)  # 178x218: by its size, no detection
    assert align.is_aligned(photo.resize((356, 436), Image.Resampling.BICUBIC))  # CelebA's frame, twice the size
    square = photo.crop((0, 20, 178, 198)).resize((128, 128), Image.Resampling.BICUBIC)  # facegen's crop
    kept = align.align_if_needed(square)
    assert kept.already_aligned and kept.image is not None and kept.image.size == (128, 128)


def test_the_largest_of_several_faces_is_aligned_and_said(celeba_root):
    big, small = celeba_photo(celeba_root, HELD_OUT[3]), celeba_photo(celeba_root, HELD_OUT[4])
    canvas = Image.new("RGB", (420, 300), (128, 128, 128))
    canvas.paste(small, (10, 40))
    canvas.paste(big.resize((214, 262)), (200, 20))
    face = align.align_face(canvas)
    assert face.faces_found == 2 and "aligned the largest" in face.note
    assert face.box[0] >= 200  # the bigger face, on the right


def test_no_face_or_no_image_is_one_line_naming_the_file(tmp_path):
    gray = tmp_path / "gray.png"
    Image.new("RGB", (160, 120), (128, 128, 128)).save(gray)
    with pytest.raises(detect.NoFaceError, match="gray.png: no face found") as caught:
        align.align_face(gray)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)
    assert not align.is_aligned(gray)
    broken = tmp_path / "notes.jpg"
    broken.write_text("not a photo")
    with pytest.raises(ValueError, match="notes.jpg is not a readable image"):
        align.align_face(broken)
    with pytest.raises(ValueError, match="missing.jpg: no such file"):
        align.align_face(tmp_path / "missing.jpg")


def _face_tensor(face: align.Alignment, size: int = 128) -> torch.Tensor:
    """facegen's square crop of the aligned face at the model's size, as a [1, 3, S, S] tensor in [-1, 1]."""
    square = face.image.crop((0, 20, 178, 198)).resize((size, size), Image.Resampling.BICUBIC)
    return torch.from_numpy(np.array(square)).permute(2, 0, 1)[None].float() / 127.5 - 1


def _footprint(face: align.Alignment, shape) -> np.ndarray:
    """Photo pixels inside the aligned 178x218 frame."""
    ys, xs = np.mgrid[: shape[0], : shape[1]] + 0.5
    u, v = align.apply_transform(face.transform, np.stack([xs.ravel(), ys.ravel()], 1)).T.reshape(2, *xs.shape)
    return (u >= 0) & (u < 178) & (v >= 0) & (v < 218)


def test_no_change_leaves_the_photo_exactly(moved):
    _, canvas, _, face = moved
    rebuilt = _face_tensor(face) + 0.05 * torch.randn(1, 3, 128, 128)  # the model's own error: it cancels
    pasted = paste.paste_change(canvas, rebuilt, rebuilt, face.transform)
    assert pasted.size == canvas.size and np.array_equal(np.asarray(pasted), np.asarray(canvas))


def test_a_change_lands_where_it_was_made_and_nowhere_else(moved):
    _, canvas, _, face = moved
    rebuilt = _face_tensor(face)
    edited = rebuilt.clone()
    edited[:, 0, 92:110, 40:88] += 0.8  # redder mouth: rows/cols of the 128 crop (frame x 56-122, y 148-173)
    pasted = np.asarray(paste.paste_change(canvas, edited, rebuilt, face.transform), dtype=float)
    change = pasted - np.asarray(canvas, dtype=float)
    ys, xs = np.nonzero(change[..., 0] > 40)
    assert len(xs) > 1000  # the 48x18 box enlarged 1.6 * 178 / 128 times
    where = align.apply_transform(face.transform, np.stack([xs + 0.5, ys + 0.5], axis=1))
    assert (where.min(0) > [50, 140]).all() and (where.max(0) < [128, 181]).all()
    assert np.abs(change[..., 1:]).max() <= 1  # green and blue kept: only the asked change, no tint
    assert np.abs(change[~_footprint(face, change.shape)]).max() == 0  # nothing beyond the aligned frame moved


def test_a_uniform_colour_drift_is_not_pasted(moved):
    _, canvas, _, face = moved
    rebuilt = _face_tensor(face)
    pasted = paste.paste_change(canvas, rebuilt + 0.1, rebuilt, face.transform)  # a uniform tint: no edit
    assert np.abs(np.asarray(pasted, dtype=float) - np.asarray(canvas, dtype=float)).max() <= 1


def test_a_tint_of_the_face_alone_is_not_pasted_into_the_background(moved):
    _, canvas, _, face = moved
    rebuilt = _face_tensor(face)
    ellipse = paste.face_region((128, 128), align.frame_transform((128, 128)))
    edited = rebuilt.clone()
    edited[..., ellipse] -= 0.1  # the model darkened the face, not its surroundings: drift on both sides, no edit
    change = np.abs(np.asarray(paste.paste_change(canvas, edited, rebuilt, face.transform), dtype=float)
                    - np.asarray(canvas, dtype=float)).max(axis=2)  # fmt: skip
    # measured 0.12 levels on average over the aligned frame, 4 at most (a thin ring where the hard-edged tint meets
    # the feathered correction); one median for the whole crop brightened the background: 3.8 on average, 11 at most
    assert change[_footprint(face, change.shape)].mean() < 0.5 and change.max() <= 6


def test_paste_change_refuses_a_face_of_another_shape(moved):
    _, canvas, _, face = moved
    with pytest.raises(ValueError, match="edited face is 100x60"):
        paste.paste_change(canvas, Image.new("RGB", (100, 60)), Image.new("RGB", (100, 60)), face.transform)
