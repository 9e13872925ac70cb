"""Every PIL mode a photo file can have enters facegen as the 8-bit RGB picture it shows (issue 20: a 16-bit
grayscale PNG became all white and was edited anyway)."""

import numpy as np
import pytest
from PIL import Image

from facegen.data import preprocess
from facegen.faces.photos import load_photo
from facegen.utils.pixels import to_rgb

GRAY = np.linspace(0.0, 1.0, 32 * 32).reshape(32, 32)  # a ramp: an all-white or all-black result cannot pass
COLOR = np.stack([GRAY, GRAY[::-1], np.full_like(GRAY, 0.3)], -1)
# A 256-colour palette approximates, 8-bit colour spaces round; RGB, RGBA, RGBX and CMYK convert exactly.
MEAN_ERROR = {"P": 1, "PA": 1, "YCbCr": 2, "LAB": 2, "HSV": 2}


def _gray_image(mode: str) -> tuple[Image.Image, np.ndarray]:
    """An image of ``mode`` showing the ramp, and the 8-bit gray levels it should give."""
    levels = np.round(GRAY * 255)
    if mode == "I;16":
        return Image.fromarray(np.round(GRAY * 65535).astype(np.uint16)), levels
    if mode == "I":
        return Image.fromarray(np.round(GRAY * 65535).astype(np.int32), "I"), levels
    if mode == "F":
        return Image.fromarray(GRAY.astype(np.float32), "F"), levels
    gray = Image.fromarray(levels.astype(np.uint8), "L")
    if mode == "1":
        return gray.convert("1", dither=Image.Dither.NONE), np.where(levels >= 128, 255, 0)
    return gray.convert(mode), levels


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "I", "I;16", "F"])
def test_gray_modes_keep_their_levels(mode):
    image, expected = _gray_image(mode)
    rgb = np.asarray(to_rgb(image), dtype=np.float64)
    assert rgb.shape == (32, 32, 3)
    assert np.abs(rgb - expected[..., None]).max() <= 1, f"{mode}: levels changed"


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"])
def test_color_modes_keep_their_colors(mode):
    expected = np.round(COLOR * 255)
    image = Image.fromarray(expected.astype(np.uint8), "RGB")
    image = image.quantize().convert(mode) if mode in ("P", "PA") else image.convert(mode)  # palette as files have
    rgb = np.asarray(to_rgb(image), dtype=np.float64)
    assert np.abs(rgb - expected).mean() <= MEAN_ERROR.get(mode, 0), mode


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_transparent_parts_are_laid_over_white(mode):
    image = Image.new("RGBA", (8, 8), (0, 0, 0, 0)).convert(mode)  # black, fully transparent
    assert (np.asarray(to_rgb(image)) == 255).all()


def test_16_bit_png_files_load_as_they_look_everywhere(tmp_path):
    """The file path the CLI, personalization and the web server all take: load_photo and preprocess."""
    image, expected = _gray_image("I;16")
    path = tmp_path / "deep.png"
    image.save(path)
    assert Image.open(path).mode.startswith("I")
    assert np.abs(np.asarray(load_photo(path), dtype=np.float64)[..., 0] - expected).max() <= 1
    pixels = preprocess(Image.open(path), 32, crop=None).double()
    assert pixels.shape == (3, 32, 32) and np.abs(pixels[0].numpy() - expected).max() <= 1


def test_pixels_that_are_not_numbers_are_refused(tmp_path):
    values = GRAY.astype(np.float32)
    values[3, 3] = np.nan
    path = tmp_path / "nan.tiff"
    Image.fromarray(values, "F").save(path)
    with pytest.raises(ValueError, match=r"nan\.tiff: its pixels include values that are not finite"):
        load_photo(path)
