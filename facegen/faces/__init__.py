"""Faces in photos, one unit: dlib's model files, photo loading, detection, alignment like CelebA, paste-back,
identity descriptors. A leaf: it imports no other facegen stage (only ``facegen.utils``), so aligning a photo
loads neither models nor metrics.

    face = align_face("photo.jpg")                                       # facegen.faces.align
    pasted = paste_change("photo.jpg", edited, reconstruction, face.transform)   # facegen.faces.paste
    FaceIdentity().compare(a, b)                                         # facegen.faces.identity
"""

from facegen.faces.align import TEMPLATE, Alignment, align_face, align_if_needed, is_aligned, try_align
from facegen.faces.detect import NoFaceError, detect_landmarks
from facegen.faces.identity import SAME_PERSON, FaceIdentity, compare_if_available, reference_scores
from facegen.faces.models import EXTRA_HINT, model_file
from facegen.faces.paste import paste_change
from facegen.faces.photos import IMAGE_EXTENSIONS, check_photo_shape, load_photo, photo_files

__all__ = [
    "EXTRA_HINT",
    "IMAGE_EXTENSIONS",
    "SAME_PERSON",
    "TEMPLATE",
    "Alignment",
    "FaceIdentity",
    "NoFaceError",
    "align_face",
    "align_if_needed",
    "check_photo_shape",
    "compare_if_available",
    "detect_landmarks",
    "is_aligned",
    "load_photo",
    "model_file",
    "paste_change",
    "photo_files",
    "reference_scores",
    "try_align",
]
