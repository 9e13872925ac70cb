"""dlib's face detection: the largest face of a photo and its 5 landmarks."""

from __future__ import annotations

import numpy as np
from PIL import Image

from facegen.faces.models import cnn_detector, dlib_module, frontal_detector, landmark_predictor

DETECT_SIDE = 400  # HOG sees a copy no longer than this: fast on big photos, faces down to ~10% of it
CNN_SIDE = 256  # the CNN detector (the fallback) is slow: it sees a smaller copy


class NoFaceError(ValueError):
    """dlib found no face in the photo."""


def face_boxes(photo: Image.Image) -> list[tuple[float, float, float, float]]:
    """Face boxes (left, top, right, bottom) in the photo: HOG, then HOG upsampled once, then the CNN detector."""
    hog = frontal_detector()
    for side, upsample, cnn in ((DETECT_SIDE, 0, False), (DETECT_SIDE, 1, False), (CNN_SIDE, 0, True)):
        scale = min(1.0, side / max(photo.size))
        small = photo.resize((round(photo.width * scale), round(photo.height * scale))) if scale < 1 else photo
        found = cnn_detector()(np.asarray(small), upsample) if cnn else hog(np.asarray(small), upsample)
        rects = [d.rect for d in found] if cnn else list(found)
        if rects:
            return [
                (r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale) for r in rects
            ]
    return []


def detect_landmarks(photo: Image.Image, name: str = "image") -> tuple[np.ndarray, tuple[int, int, int, int], int]:
    """The largest face's 5 landmarks [5, 2], its box and the number of faces; NoFaceError naming ``name``."""
    boxes = face_boxes(photo)
    if not boxes:
        raise NoFaceError(f"{name}: no face found (dlib's HOG and CNN detectors; {photo.width}x{photo.height} px)")
    left, top, right, bottom = (round(v) for v in max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1])))
    shape = landmark_predictor()(np.asarray(photo), dlib_module().rectangle(left, top, right - 1, bottom - 1))
    landmarks = np.array([(p.x + 0.5, p.y + 0.5) for p in shape.parts()])  # pixel indices -> pixel centres
    return landmarks, (left, top, right, bottom), len(boxes)
