"""Photos in and out: the one photo loader (upright RGB, one-line errors), a folder's photos, aligned faces' names."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps

from facegen.utils.pixels import to_rgb

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
MIN_PHOTO_SIDE, MAX_PHOTO_ASPECT = 32, 8  # smaller or more elongated photos break dlib's detectors (no face fits)


def check_photo_shape(size: tuple[int, int], name: str) -> None:
    """A ValueError naming the photo when it is too small or too elongated to hold a face dlib can find."""
    short, long = sorted(size)
    if short < MIN_PHOTO_SIDE or long > MAX_PHOTO_ASPECT * short:
        raise ValueError(
            f"{name}: a {size[0]}x{size[1]} photo cannot hold a face; photos need at least {MIN_PHOTO_SIDE} pixels "
            f"on each side and at most {MAX_PHOTO_ASPECT}:1 between the sides"
        )


def load_photo(image: str | Path | Image.Image) -> Image.Image:
    """An RGB photo turned upright by its EXIF orientation; a one-line ValueError names a file it cannot read."""
    if isinstance(image, Image.Image):
        return to_rgb(ImageOps.exif_transpose(image))
    try:
        with Image.open(image) as photo:
            upright = ImageOps.exif_transpose(photo)
    except FileNotFoundError:
        raise ValueError(f"{image}: no such file") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{image} is not a readable image ({type(err).__name__})") from None
    try:
        return to_rgb(upright)
    except ValueError as err:
        raise ValueError(f"{image}: {err}") from None


def photo_files(folder: Path) -> list[Path]:
    """The photos directly in ``folder`` (by extension), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def output_names(images: list[str | Path]) -> list[str]:
    """``STEM.png`` for each image; two images with one stem are refused (one would replace the other)."""
    names = [f"{Path(image).stem}.png" for image in images]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"several images would be written to {', '.join(repeated)}: align them into separate folders")
    return names

