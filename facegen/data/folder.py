"""Any folder of face photos (FFHQ thumbnails, CelebAMask-HQ, your own), searched recursively."""

from __future__ import annotations

import os

from facegen.data.base import ImageFileDataset, limit
from facegen.data.roots import data_path
from facegen.faces.photos import IMAGE_EXTENSIONS


class ImageFolder(ImageFileDataset):
    """Unlabelled images as dicts ``{"image", "index"}``, sorted by path; see ``ImageFileDataset``.

    ``crop=None`` takes the largest centred square, right for photos that are already face crops.
    """

    kind = "folder"

    def __init__(
        self,
        root: str | os.PathLike,
        image_size: int = 64,
        crop: int | None = None,
        flip: bool = False,
        extensions: tuple[str, ...] = IMAGE_EXTENSIONS,
        max_images: int | None = None,
    ) -> None:
        root = data_path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"image folder not found: {root}")
        suffixes = {extension.lower() for extension in extensions}
        filenames = sorted(
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.suffix.lower() in suffixes and path.is_file()
        )
        if not filenames:
            raise FileNotFoundError(f"no images with extensions {sorted(suffixes)} found under {root}")
        super().__init__(root, root, limit(filenames, max_images), image_size, crop, flip, max_images)
