"""The subject's photos: a folder (or list) of 4-20 faces -> images, their attributes and their latents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from facegen.data.transforms import load_face
from facegen.faces.align import align_if_needed
from facegen.faces.photos import IMAGE_EXTENSIONS, photo_files

MIN_PHOTOS, MAX_PHOTOS = 4, 20


@dataclass(frozen=True)
class SubjectPhotos:
    images: torch.Tensor  # [N, 3, S, S] in [-1, 1]
    attributes: torch.Tensor  # [N, 40] +1/-1 as the shipped classifier reads each photo
    latents: torch.Tensor  # [2N, C, h, w]: the photos, then their mirrors (encoded once)

    @property
    def latent_attributes(self) -> torch.Tensor:
        return torch.cat([self.attributes, self.attributes])  # a mirror has the same attributes


def photo_paths(images: str | Path | Sequence[str | Path]) -> list[Path]:
    """A folder's image files (sorted) or the given files; 4-20 of them, else one line naming the input."""
    if isinstance(images, (str, Path)):
        folder = Path(images)
        if not folder.is_dir():
            raise FileNotFoundError(f"--images {folder}: no such folder")
        paths = photo_files(folder)
        where = f"--images {folder}"
    else:
        paths, where = [Path(p) for p in images], "the photos given"
    if not MIN_PHOTOS <= len(paths) <= MAX_PHOTOS:
        raise ValueError(
            f"{where}: {len(paths)} photos ({', '.join(IMAGE_EXTENSIONS)}); personalization takes "
            f"{MIN_PHOTOS} to {MAX_PHOTOS} photos of one person"
        )
    return paths


def subject_face(path: Path, image_size: int) -> torch.Tensor:
    """[1, 3, S, S]: a CelebA-aligned crop as it is, any other photo aligned like CelebA first (a photo without a
    face is refused, naming it); without the faces extra, the central square as ``load_face`` takes it."""
    try:
        return load_face(align_if_needed(path).image, image_size)
    except ImportError:
        return load_face(path, image_size)


def prepare_photos(paths: Sequence[Path], pipe) -> SubjectPhotos:
    from facegen.evaluation.classifier import predicted_attributes  # here: facegen.evaluation loads the metrics

    images = torch.cat([subject_face(p, pipe.config.data.image_size) for p in paths])
    with torch.no_grad():
        latents = pipe.autoencoder.encode(torch.cat([images, images.flip(-1)]).to(pipe.device)).float().cpu()
    return SubjectPhotos(images, predicted_attributes(images), latents)
