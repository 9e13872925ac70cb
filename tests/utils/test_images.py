"""facegen.utils.images.save_picture: the file's suffix picks the format, and nothing else is written."""

import pytest
import torch
from PIL import Image

from facegen.utils.images import save_picture


@pytest.mark.parametrize(("name", "fmt"), [("a.png", "PNG"), ("a.jpg", "JPEG"), ("a.JPEG", "JPEG")])
def test_the_suffix_picks_the_format(tmp_path, name, fmt):
    image = torch.linspace(-1, 1, 3 * 16 * 16).reshape(3, 16, 16)
    save_picture(image, tmp_path / name)
    with Image.open(tmp_path / name) as saved:
        assert saved.format == fmt and saved.size == (16, 16)


def test_png_keeps_every_level(tmp_path):
    levels = torch.arange(256, dtype=torch.float32).reshape(1, 16, 16).expand(3, 16, 16)
    save_picture(levels / 127.5 - 1, tmp_path / "a.png")
    with Image.open(tmp_path / "a.png") as saved:
        assert torch.equal(torch.tensor(list(saved.convert("L").getdata())), torch.arange(256))


def test_an_unknown_suffix_is_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"a\.webp: a picture must end in \.png, \.jpg, \.jpeg"):
        save_picture(torch.zeros(3, 4, 4), tmp_path / "a.webp")
    assert not any(tmp_path.iterdir())
