"""Alignment of any photo like CelebA, and paste-back, on real faces (shared CelebA and FFHQ photos).

Margins come from benchmarks/alignment.py (docs/ALIGNMENT.md): held-out CelebA landmarks lie 2.3 px from the
template on average; a photo moved into a canvas aligns within about 1 px (at most 2.2) of the original aligned
directly; pasting the unchanged aligned face back changes the face box by about 2 grey levels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

pytest.importorskip("dlib", reason='alignment needs the faces extra: pip install "facegen[faces]"')

from facegen.data import align  # noqa: E402

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
    landmarks = np.stack([align.detect_landmarks(celeba_photo(celeba_root, n))[0] for n in HELD_OUT[:5]])
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
    assert align.landmark_error(align.detect_landmarks(face.image)[0]) < 4.0


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
    with pytest.raises(align.NoFaceError, match="gray.png: no face found") as caught:
        align.align_face(gray)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)
    assert not align.is_aligned(gray)
    broken = tmp_path / "notes.jpg"
    broken.write_text("not a photo")
    with pytest.raises(ValueError, match="notes.jpg is not a readable image"):
        align.align_face(broken)
    with pytest.raises(ValueError, match="missing.jpg: no such file"):
        align.align_face(tmp_path / "missing.jpg")


def test_pasting_the_unchanged_face_back_changes_the_photo_little(moved):
    _, canvas, _, face = moved
    pasted = align.paste_back(canvas, face.image, face.transform)
    assert pasted.size == canvas.size
    a, b = (np.asarray(im.crop(face.box), dtype=float) for im in (pasted, canvas))
    assert np.abs(a - b).mean() < 4  # measured about 2 (two resamplings)
    # facegen's square crop at the model's size, as a tensor: the same place
    square = face.image.crop((0, 20, 178, 198)).resize((128, 128), Image.Resampling.BICUBIC)
    tensor = torch.from_numpy(np.array(square)).permute(2, 0, 1).float() / 127.5 - 1
    c = np.asarray(align.paste_back(canvas, tensor[None], face.transform).crop(face.box), dtype=float)
    assert np.abs(c - b).mean() < 6


def test_pasting_an_edited_face_changes_only_the_face(moved):
    _, canvas, _, face = moved
    edited = face.image.copy()
    mouth = (60, 150, 118, 175)  # left, top, right, bottom in the aligned frame
    ImageDraw.Draw(edited).rectangle(mouth, fill=(255, 0, 0))
    pasted = np.asarray(align.paste_back(canvas, edited, face.transform), dtype=float)
    unchanged = np.asarray(align.paste_back(canvas, face.image, face.transform), dtype=float)
    ys, xs = np.nonzero(np.abs(pasted - unchanged).max(axis=2) > 40)  # what the edit changed
    assert len(xs) > 500  # the red mouth is there (a 58x25 box, enlarged 1.6x)
    where = align.apply_transform(face.transform, np.stack([xs + 0.5, ys + 0.5], axis=1))  # back in the frame
    assert (where.min(0) > np.array(mouth[:2]) - 3).all() and (where.max(0) < np.array(mouth[2:]) + 3).all()
    corners = np.array([[0, 0], [178, 0], [0, 218], [178, 218]])
    footprint = align.apply_transform(np.linalg.inv(np.vstack([face.transform, [0, 0, 1]]))[:2], corners)
    (left, top), (right, bottom) = np.floor(footprint.min(0)).astype(int), np.ceil(footprint.max(0)).astype(int)
    change = np.abs(pasted - np.asarray(canvas, dtype=float)).max(axis=2)
    outside = np.ones_like(change, dtype=bool)
    outside[max(top, 0) : bottom, max(left, 0) : right] = False
    assert change[outside].max() == 0  # nothing beyond the aligned frame moved


def test_paste_back_refuses_a_face_of_another_shape(moved):
    _, canvas, _, face = moved
    with pytest.raises(ValueError, match="edited face is 100x60"):
        align.paste_back(canvas, Image.new("RGB", (100, 60)), face.transform)
