"""build_dataset."""

import pytest
from torch.utils.data import DataLoader

from facegen.data import CelebA, ImageFolder, build_dataset


def test_build_each_kind(celeba_root, data_dir):
    celeba = build_dataset("celeba", celeba_root, split="test", image_size=16, max_images=4)
    assert isinstance(celeba, CelebA) and celeba.crop == 178 and len(celeba) == 4
    folder = build_dataset("folder", data_dir / "ffhq-thumbnails-128", image_size=16, max_images=4)
    assert isinstance(folder, ImageFolder) and folder.crop is None and len(folder) == 4
    assert build_dataset("celeba", celeba_root, "test", image_size=16, crop=None, max_images=1).crop is None


def test_unknown_kind_and_missing_root(celeba_root):
    with pytest.raises(ValueError, match="kind must be one of"):
        build_dataset("imagenet", celeba_root)
    with pytest.raises(ValueError, match="root"):
        build_dataset("celeba")


def test_workers_decode_flipped_batches(celeba_root):
    dataset = CelebA(celeba_root, "train", image_size=16, flip=True, max_images=10)
    batches = list(DataLoader(dataset, batch_size=4, num_workers=2, drop_last=True))
    assert len(batches) == 2 and batches[0]["image"].shape == (4, 3, 16, 16)
    assert batches[0]["attributes"].shape == (4, 40)
