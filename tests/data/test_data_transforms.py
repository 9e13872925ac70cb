"""Crop box, resize, value range and flips."""

import numpy as np
import pytest
import torch
from PIL import Image

from facegen.data import preprocess, random_hflip, to_model_range, to_uint8


def _coordinate_image(width: int, height: int) -> Image.Image:
    """Red = row index, green = column index: the output pixels say where they were cut from."""
    rows, cols = np.mgrid[0:height, 0:width]
    return Image.fromarray(np.stack([rows, cols, np.zeros_like(rows)], axis=-1).astype(np.uint8))


def test_celeba_crop_box_is_rows_20_to_198():
    out = preprocess(_coordinate_image(178, 218), image_size=178, crop=178)
    assert out.shape == (3, 178, 178) and out.dtype == torch.uint8
    assert out[0, 0, 0] == 20 and out[0, -1, 0] == 197  # rows 20..197, i.e. the box [20, 198)
    assert out[1, 0, 0] == 0 and out[1, 0, -1] == 177


def test_crop_none_takes_the_largest_centred_square():
    out = preprocess(_coordinate_image(240, 200), image_size=200, crop=None)
    assert out.shape == (3, 200, 200)
    assert out[1, 0, 0] == 20 and out[1, 0, -1] == 219 and out[0, 0, 0] == 0


def test_image_smaller_than_crop_falls_back_to_its_central_square():
    out = preprocess(_coordinate_image(100, 120), image_size=100, crop=178)
    assert out.shape == (3, 100, 100)
    assert out[0, 0, 0] == 10 and out[0, -1, 0] == 109


@pytest.mark.parametrize("size", [32, 64, 128])
def test_output_shapes(size):
    image = preprocess(_coordinate_image(178, 218), image_size=size)
    assert image.shape == (3, size, size) and image.dtype == torch.uint8
    x = to_model_range(image)
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1


def test_resize_is_antialiased():
    checkerboard = (np.indices((178, 178)).sum(axis=0) % 2 * 255).astype(np.uint8)
    out = preprocess(Image.fromarray(checkerboard), image_size=32, crop=None).float()
    assert abs(out.mean() - 127.5) < 3 and out.std() < 3  # aliasing would leave strong stripes


def test_grey_and_rgba_become_rgb():
    assert preprocess(Image.new("L", (50, 60), 7), 16).shape == (3, 16, 16)
    assert preprocess(Image.new("RGBA", (50, 60)), 16).shape == (3, 16, 16)


def test_model_range_round_trip_is_exact():
    pixels = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).expand(2, 3, 16, 16)
    x = to_model_range(pixels)
    assert x.min() == -1 and x.max() == 1
    assert torch.equal(to_uint8(x), pixels)
    assert torch.equal(to_uint8(to_model_range(pixels[0])), pixels[0])
    assert to_uint8(torch.tensor([-3.0, 3.0])).tolist() == [0, 255]


def test_random_hflip_flips_each_image_independently():
    batch = torch.rand(1000, 3, 4, 5)
    out = random_hflip(batch, torch.Generator().manual_seed(0))
    flipped = (out == batch.flip(-1)).flatten(1).all(1)
    kept = (out == batch).flatten(1).all(1)
    assert (flipped ^ kept).all()
    assert 400 < flipped.sum() < 600
    assert torch.equal(out, random_hflip(batch, torch.Generator().manual_seed(0)))
    with pytest.raises(ValueError, match="batch"):
        random_hflip(batch[0])
