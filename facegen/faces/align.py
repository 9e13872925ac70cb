"""Any photo -> its face aligned like CelebA (178x218): the similarity from dlib's 5 landmarks to TEMPLATE.

    face = align_face("photo.jpg")     # Alignment: .image (178x218 RGB), .transform (2x3), .box, .faces_found
    align_if_needed(photo)             # the photo as it is when it already is an aligned face (is_aligned)

dlib finds the largest face (``detect``); the least-squares similarity (Umeyama) from its landmarks to TEMPLATE, the
mean landmarks of CelebA's own aligned photos, gives the crop, so facegen then crops and resizes it as it does CelebA.
Coordinates are continuous pixels, as in PIL: pixel (i, j) covers [i, i+1) x [j, j+1).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
from PIL import Image

from facegen.faces.detect import NoFaceError, detect_landmarks
from facegen.faces.photos import check_photo_shape, load_photo

ALIGNED_SIZE = (178, 218)  # CelebA's aligned photos (width, height)
CROP_TOP = 20  # facegen's square crop of an aligned photo starts 20 rows down (facegen.data.preprocess)
# dlib's 5 landmarks (x, y) in CelebA's 178x218 aligned photos, in the predictor's order: outer and inner corner of
# the eye on the image's right, outer and inner corner of the other eye, base of the nose. The mean over the first
# 300 train-split photos (by id) of the shared CelebA subset, all 300 detected; derived and printed by
# benchmarks/celeba_landmark_template.py.
TEMPLATE = np.array([[115.40, 112.95], [100.03, 113.88], [62.30, 112.96], [77.50, 113.85], [88.30, 143.01]])
# Mean landmark distance to TEMPLATE (px of the 178-wide frame) under which a photo counts as aligned already:
# held-out CelebA crops lie at 2.4 px (95% under 4.6), FFHQ and CelebAMask-HQ faces at 5.6 px and more.
ALIGNED_TOLERANCE = 5.0


@dataclasses.dataclass(frozen=True)
class Alignment:
    """A face aligned like CelebA, and the way back to the photo it came from."""

    image: Image.Image  # RGB in CelebA's aligned geometry: 178x218 (or the photo itself when already aligned)
    transform: np.ndarray  # 2x3: photo pixel (x, y, 1) -> pixel of the 178x218 aligned frame
    box: tuple[int, int, int, int] | None  # the face in the photo (left, top, right, bottom); None: not detected
    landmarks: np.ndarray | None  # [5, 2] in the photo
    faces_found: int  # faces dlib saw (the largest is aligned); 0 for a 178x218 photo taken as is
    already_aligned: bool = False

    @property
    def note(self) -> str:
        """A warning worth printing, or ''."""
        return f"{self.faces_found} faces found, aligned the largest" if self.faces_found > 1 else ""


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation, uniform scale and translation (2x3) taking points ``source`` [N, 2] closest to ``target``
    in least squares (Umeyama 1991)."""
    mean_s, mean_t = source.mean(0), target.mean(0)
    s, t = source - mean_s, target - mean_t
    u, singular, vt = np.linalg.svd(t.T @ s / len(s))
    sign = np.array([1.0, np.sign(np.linalg.det(u @ vt))])  # a rotation, never a reflection
    rotation = u @ np.diag(sign) @ vt
    scale = (singular * sign).sum() / s.var(0).sum()
    return np.hstack([scale * rotation, (mean_t - scale * rotation @ mean_s)[:, None]])


def apply_transform(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:, :2].T + transform[:, 2]


def inverse_transform(transform: np.ndarray) -> np.ndarray:
    return np.linalg.inv(np.vstack([transform, [0.0, 0.0, 1.0]]))[:2]


def landmark_error(landmarks: np.ndarray) -> float:
    """Mean distance (px) of landmarks in the 178x218 frame to TEMPLATE."""
    return float(np.linalg.norm(landmarks - TEMPLATE, axis=1).mean())


def warp(photo: Image.Image, transform: np.ndarray, size: tuple[int, int] = ALIGNED_SIZE) -> Image.Image:
    """The photo seen through ``transform`` (2x3, photo -> output pixel) in an image of ``size``. Output pixels
    from outside the photo repeat its edge; a photo shrunk more than 2x is box-reduced first, so nothing aliases."""
    factor = int(1 / np.sqrt(abs(np.linalg.det(transform[:, :2]))))
    if factor > 1:
        photo = photo.reduce(factor)
        transform = transform @ np.diag([factor, factor, 1.0])
    inverse = inverse_transform(transform)  # PIL asks, for each output pixel, where to read the photo
    corners = apply_transform(inverse, np.array([[0, 0], [size[0], 0], [0, size[1]], [size[0], size[1]]]))
    low = np.clip(-np.floor(corners.min(0)), 0, None).astype(int)
    high = np.clip(np.ceil(corners.max(0)) - photo.size, 0, None).astype(int)
    if low.any() or high.any():
        padding = ((low[1], high[1]), (low[0], high[0]), (0, 0))
        photo = Image.fromarray(np.pad(np.asarray(photo), padding, mode="edge"))
        inverse[:, 2] += low
    return photo.transform(size, Image.Transform.AFFINE, tuple(inverse.ravel()), Image.Resampling.BICUBIC)


def align_face(image: str | Path | Image.Image, name: str | None = None) -> Alignment:
    """The largest face of a photo (a path or PIL image), aligned like CelebA: 178x218, landmarks on TEMPLATE.

    NoFaceError (a ValueError) when dlib sees no face, ValueError for an unreadable file; both name the file.
    """
    name = name or (str(image) if not isinstance(image, Image.Image) else "image")
    photo = load_photo(image)
    check_photo_shape(photo.size, name)
    landmarks, box, count = detect_landmarks(photo, name)
    transform = similarity_transform(landmarks, TEMPLATE)
    return Alignment(warp(photo, transform), transform, box, landmarks, count)


def frame_transform(size: tuple[int, int]) -> np.ndarray | None:
    """2x3 from an image in CelebA's aligned geometry at any scale (178:218), or in facegen's square crop of it,
    to the 178x218 frame; None for other shapes."""
    width, height = size
    scale = ALIGNED_SIZE[0] / width
    if abs(height * scale - ALIGNED_SIZE[1]) < 1:
        return np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])
    if width == height:
        return np.array([[scale, 0.0, 0.0], [0.0, scale, CROP_TOP]])
    return None


def align_if_needed(image: str | Path | Image.Image, name: str | None = None) -> Alignment:
    """``align_face``, unless the photo already is a CelebA-aligned face: 178x218, or shaped like one (178:218, or
    facegen's square crop) with its landmarks within ALIGNED_TOLERANCE of TEMPLATE. Such a photo is kept as it is
    (``already_aligned``; its transform only rescales), so it is not resampled."""
    photo = load_photo(image)
    frame = frame_transform(photo.size)
    if photo.size == ALIGNED_SIZE:
        return Alignment(photo, frame, None, None, 0, already_aligned=True)
    face = align_face(photo, name or (str(image) if not isinstance(image, Image.Image) else None))
    if frame is not None and landmark_error(apply_transform(frame, face.landmarks)) < ALIGNED_TOLERANCE:
        return dataclasses.replace(face, image=photo, transform=frame, already_aligned=True)
    return face


def is_aligned(image: str | Path | Image.Image) -> bool:
    """Whether the photo already is a CelebA-aligned face (see ``align_if_needed``); False when no face is found."""
    try:
        return align_if_needed(image).already_aligned
    except NoFaceError:
        return False


def try_align(image: str | Path | Image.Image) -> tuple[Alignment | None, str]:
    """``align_if_needed``, or (None, why not) when the faces extra is missing or no face is found, so a caller
    can go on with the photo as it is."""
    try:
        return align_if_needed(image), ""
    except (ImportError, NoFaceError) as err:
        return None, str(err)
