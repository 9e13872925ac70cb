"""Edit a photo: align its face like CelebA, change attributes, and put only the change back into the photo.

    result = edit_photo(pipe, "photo.jpg", {"Smiling": 1})     # EditResult
    result.pasted.save(result.filename)                         # photo-smiling.png: the photo with the change

The one implementation behind `facegen edit`, the web app's Edit tab and /api/edit. Strength and guidance default
per attribute (EDIT_DEFAULTS, measured by benchmarks/edit_locality.py; docs/BENCHMARKS.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
from PIL import Image

from facegen.conditioning.attributes import create_attribute_vector, parse_attributes
from facegen.faces.align import Alignment, try_align
from facegen.faces.identity import compare_if_available
from facegen.faces.paste import paste_change
from facegen.faces.photos import load_photo
from facegen.pipeline import FacePipeline


@dataclass(frozen=True)
class EditSettings:
    strength: float  # how far the face is inverted towards noise (1 = all the way)
    cfg_scale: float  # guidance from the face's own attributes towards the asked ones
    guide_from_source: bool = True
    inversion_steps: int | None = None  # None: the sampling steps


# Chosen from curves over strength and guidance on CelebA test, CelebAMask-HQ and FFHQ photos (docs/BENCHMARKS.md,
# "Editing photos"): the mildest setting at which the classifier reads the asked attribute on most edits while dlib
# still sees the same person. Local edits need less than ones that change the whole face.
EDIT_DEFAULTS = {
    "Smiling": EditSettings(strength=0.8, cfg_scale=6.0),
    "Eyeglasses": EditSettings(strength=0.8, cfg_scale=4.0),
    "Blond_Hair": EditSettings(strength=1.0, cfg_scale=8.0),
    "Male": EditSettings(strength=0.8, cfg_scale=8.0),
    "Young": EditSettings(strength=0.9, cfg_scale=8.0),  # 12 until release 6 (docs/BENCHMARKS.md)
}
FALLBACK = EditSettings(strength=0.8, cfg_scale=6.0)  # the other 35 attributes: not measured one by one
# Presets the web page offers, as changes of the default strength: said in words there.
PRESETS = {"gentle": -0.15, "recommended": 0.0, "strong": 0.1}


def edit_settings(
    changes: Mapping[str, Any],
    strength: float | None = None,
    cfg_scale: float | None = None,
    preset: str = "recommended",
    guide_from_source: bool | None = None,
    inversion_steps: int | None = None,
) -> EditSettings:
    """The settings for ``changes``: the strongest default among the changed attributes, its strength moved by
    ``preset``; whatever is given wins."""
    chosen = [EDIT_DEFAULTS.get(name, FALLBACK) for name in changes] or [FALLBACK]
    default = max(chosen, key=lambda s: (s.strength, s.cfg_scale))
    return EditSettings(
        min(1.0, max(0.05, default.strength + PRESETS[preset])) if strength is None else strength,
        default.cfg_scale if cfg_scale is None else cfg_scale,
        default.guide_from_source if guide_from_source is None else guide_from_source,
        default.inversion_steps if inversion_steps is None else inversion_steps,
    )


def result_filename(photo_name: str, changes: Mapping[str, Any]) -> str:
    """``photo-smiling-no-eyeglasses.png``: what was asked, in the name of the file a person downloads."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(photo_name).stem).strip("_") or "photo"
    states = {name: create_attribute_vector({name: value}).sum().item() for name, value in changes.items()}
    words = [("" if state > 0 else "no-") + name.lower().replace("_", "-") for name, state in states.items() if state]
    return "-".join([stem, *words]) + ".png"


@dataclass(frozen=True)
class EditResult:
    faces: dict[str, torch.Tensor]  # input, reconstruction, edited: [1, 3, S, S] in [-1, 1], as the model sees them
    photo: Image.Image  # the photo as read (upright RGB)
    pasted: Image.Image | None  # the photo with the change at its own resolution; None when not aligned
    alignment: Alignment | None
    note: str  # how the photo was aligned, in words
    report: dict[str, Any]  # what was done and the identity check: edit.json, the API
    filename: str  # photo-smiling.png

    def pictures(self) -> dict[str, Image.Image]:
        """input, reconstruction, edited (the model's faces) and, when aligned, pasted (the photo with the change)."""
        from facegen.utils.images import to_pil

        faces = {name: to_pil(face[0]) for name, face in self.faces.items()}
        return faces | ({"pasted": self.pasted} if self.pasted is not None else {})


def edit_photo(
    pipe: FacePipeline,
    image: str | Path | Image.Image,
    changes: Mapping[str, Any] | str,
    strength: float | None = None,
    cfg_scale: float | None = None,
    steps: int | None = None,
    source_attributes=None,
    align: bool = True,
    preset: str = "recommended",
    use_semantic: bool | None = None,
    semantic_margin: float = 4.0,
    name: str | None = None,
    need_face: bool = False,
    alignment: Alignment | None = None,
    guide_from_source: bool | None = None,
    inversion_steps: int | None = None,
) -> EditResult:
    """Align -> edit -> paste the change back -> identity check. ``align=False`` edits the photo's centre square
    as it is (no paste-back). ``name`` names the photo in the result's file name (default: the path's).
    ``need_face``: a photo whose face cannot be aligned is a ValueError (before any model work), not a crop.
    ``alignment``: the photo's alignment when it was made already (a benchmark aligns each photo once).
    Settings left None are the changed attributes' defaults (``edit_settings``)."""
    changes = parse_attributes(changes) if isinstance(changes, str) else dict(changes)
    settings = edit_settings(changes, strength, cfg_scale, preset, guide_from_source, inversion_steps)
    photo = load_photo(image)
    face, why = (alignment, "") if alignment is not None else try_align(image) if align else (None, "alignment off")
    if need_face and face is None:
        raise ValueError(f"the face must be aligned to paste the edit back, and it is not: {why}")
    faces = pipe.edit(
        face.image if face is not None else photo,
        changes,
        strength=settings.strength,
        steps=steps,
        cfg_scale=settings.cfg_scale,
        source_attributes=source_attributes,
        use_semantic=use_semantic,
        semantic_margin=semantic_margin,
        inversion_steps=settings.inversion_steps,
        guide_from_source=settings.guide_from_source,
    )
    pasted = None
    if face is not None:
        pasted = paste_change(photo, faces["edited"], faces["reconstruction"], face.transform)
        note = face.note or ("already aligned" if face.already_aligned else "aligned like CelebA")
    else:
        note = f"not aligned ({why}): the centre of the photo was used"
    how = "not aligned" if face is None else "already aligned" if face.already_aligned else "aligned"
    report = {
        "attributes": changes,
        "strength": settings.strength,
        "cfg_scale": settings.cfg_scale,
        "guide_from_source": settings.guide_from_source,
        "alignment": how,
    }
    report |= {"faces_found": face.faces_found} if face is not None and face.faces_found else {}
    report |= compare_if_available(faces["input"], faces["edited"])  # identity_distance, identity_kept
    photo_name = name or (str(image) if not isinstance(image, Image.Image) else "photo")
    return EditResult(faces, photo, pasted, face, note, report, result_filename(photo_name, changes))
