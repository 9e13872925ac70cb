"""Alignment's former home, kept for the names users import from it; it lives in ``facegen.faces``."""

from facegen.faces.align import TEMPLATE, Alignment, align_face, align_if_needed, is_aligned
from facegen.faces.detect import NoFaceError
from facegen.faces.paste import paste_change

__all__ = ["TEMPLATE", "Alignment", "NoFaceError", "align_face", "align_if_needed", "is_aligned", "paste_change"]
