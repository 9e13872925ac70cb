"""Getting CelebA onto disk in the official layout, and the one message that explains how."""

from __future__ import annotations

import os
from pathlib import Path

from facegen.data.roots import data_path, where_to_put

CELEBA_PAGE = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
IMAGE_DIR = "img_align_celeba"
ATTRIBUTE_FILE = "list_attr_celeba.txt"
PARTITION_FILE = "list_eval_partition.txt"
IDENTITY_FILE = "identity_CelebA.txt"


def how_to_get_celeba(root: str | os.PathLike) -> str:
    """Where CelebA must be and where to get it; appended to every missing-data error."""
    return (
        f"CelebA is expected in the official layout under {root}, or {where_to_put('celeba')}, or point at it "
        f"with data.root=DIR (--celeba-root DIR for eval): {IMAGE_DIR}/ (the aligned-and-cropped "
        f"000001.jpg ... JPEGs), {ATTRIBUTE_FILE}, {PARTITION_FILE}, and {IDENTITY_FILE} for identities "
        f"(landmark and bbox files are optional). Download them from the official CelebA page {CELEBA_PAGE} "
        f"(Google Drive / Baidu links: 'Align&Cropped Images' and 'Anno', 'Eval'), or try "
        f"`facegen data prepare --download data.root={root}`."
    )


def _torchvision_download(root: Path) -> None:
    # Imported here: torchvision's dataset module is slow to import and the download is rarely wanted.
    from torchvision.datasets import CelebA

    class CelebAHere(CelebA):
        base_folder = ""  # torchvision would otherwise put the files in root/celeba/

    CelebAHere(str(root), split="all", target_type="attr", download=True)


def download_celeba(root: str | os.PathLike) -> None:
    """Download CelebA into ``root`` with torchvision (Google Drive through ``gdown``).

    Does nothing when the images, attribute and partition files are already there (torchvision would
    reject a subset by checksum and download everything again). Raises ``RuntimeError`` with instructions
    when the download cannot run (no ``gdown``, no network, Google Drive quota): the files can always be
    fetched by hand from the official page.
    """
    root = data_path(root)
    if all((root / name).exists() for name in (IMAGE_DIR, ATTRIBUTE_FILE, PARTITION_FILE)):
        return
    try:
        import gdown  # noqa: F401  (torchvision needs it; checking first gives our message, not its)
    except ImportError:
        raise RuntimeError(
            "Cannot download CelebA: the 'gdown' package is not installed (pip install gdown). "
            + how_to_get_celeba(root)
        ) from None
    try:
        root.mkdir(parents=True, exist_ok=True)
        _torchvision_download(root)
    except Exception as err:  # network, quota and checksum failures come as many exception types
        raise RuntimeError(f"Cannot download CelebA ({type(err).__name__}: {err}). " + how_to_get_celeba(root)) from err
