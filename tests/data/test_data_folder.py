"""The recursive image-folder dataset."""

import shutil

import pytest
import torch

from facegen.data import ImageFolder


def test_ffhq_thumbnails(data_dir):
    root = data_dir / "ffhq-thumbnails-128"
    if not root.is_dir():
        pytest.skip(f"FFHQ thumbnails not found at {root}")
    dataset = ImageFolder(root, image_size=32)
    assert len(dataset) == 113 and dataset.filenames[:2] == ["00000.png", "00001.png"]
    assert dataset.filenames == sorted(dataset.filenames) and dataset.crop is None
    item = dataset[112]
    assert set(item) == {"image", "index"} and item["index"] == 112
    assert item["image"].shape == (3, 32, 32) and -1 <= item["image"].min() < item["image"].max() <= 1


def test_recursive_sorted_filtered(data_dir, tmp_path):
    source = data_dir / "ffhq-thumbnails-128"
    if not source.is_dir():
        pytest.skip(f"FFHQ thumbnails not found at {source}")
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    shutil.copy(source / "00000.png", tmp_path / "b" / "deeper" / "face.PNG")
    shutil.copy(source / "00001.png", tmp_path / "a" / "face.png")
    shutil.copy(source / "00002.png", tmp_path / "top.png")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "a" / "broken.png").write_bytes(b"garbage")
    dataset = ImageFolder(tmp_path, image_size=16)
    assert dataset.filenames == ["a/broken.png", "a/face.png", "b/deeper/face.PNG", "top.png"]
    with pytest.warns(RuntimeWarning, match="broken.png"):
        assert dataset[0]["index"] == 1
    assert dataset.num_skipped == 1
    assert ImageFolder(tmp_path, extensions=(".png",), max_images=2).filenames == ["a/broken.png", "a/face.png"]
    assert torch.equal(ImageFolder(tmp_path, image_size=16)[2]["image"], dataset[2]["image"])


def test_missing_or_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match="no images"):
        ImageFolder(tmp_path)
