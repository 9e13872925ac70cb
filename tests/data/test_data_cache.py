"""Building, reopening and reading the decoded-once image cache."""

import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from facegen import __version__
from facegen.data import CelebA, ImageCache, build_cache, cache_path_for, load_or_build_cache
from facegen.data.transforms import PREPROCESSING


@pytest.fixture(scope="module")
def built(celeba_root, tmp_path_factory):
    """64 real images at 32 px, built once for the module with two decoding workers."""
    dataset = CelebA(celeba_root, "train", image_size=32, return_identity=True, max_images=64)
    out = tmp_path_factory.mktemp("caches") / "celeba-64"
    assert build_cache(dataset, out, num_workers=2, batch_size=16) == out
    return dataset, ImageCache.open(out)


def test_contents_equal_the_dataset_preprocessing(built):
    dataset, cache = built
    assert len(cache) == 64 and cache.images.shape == (64, 3, 32, 32) and cache.images.dtype == np.uint8
    assert isinstance(cache.images, np.memmap)
    for i in range(len(dataset)):
        assert np.array_equal(cache.images[i], dataset.load_uint8(i).numpy())
    assert np.array_equal(cache.attributes, dataset.attributes) and cache.attributes.dtype == np.int8
    assert np.array_equal(cache.identities, dataset.identities) and cache.identities.dtype == np.int64
    assert cache.filenames == dataset.filenames


def test_meta(built, celeba_root):
    _, cache = built
    meta = cache.meta
    assert meta["kind"] == "celeba" and meta["root"] == str(celeba_root.resolve()) and meta["split"] == "train"
    assert (meta["image_size"], meta["crop"], meta["max_images"]) == (32, 178, 64)
    assert (meta["count"], meta["num_skipped"]) == (64, 0)
    assert meta["facegen_version"] == __version__ and meta["preprocessing"] == PREPROCESSING and meta["created"]


def test_no_temporary_folder_is_left(built):
    _, cache = built
    assert [p.name for p in cache.path.parent.iterdir()] == ["celeba-64"]
    expected = ["attributes.npy", "filenames.txt", "identities.npy", "images.npy", "meta.json"]
    assert sorted(p.name for p in cache.path.iterdir()) == expected


def test_batch_and_items(built):
    dataset, cache = built
    batch = cache.batch(torch.tensor([3, 0, 63]))
    assert batch["image"].shape == (3, 3, 32, 32) and batch["image"].dtype == torch.float32
    assert -1 <= batch["image"].min() < batch["image"].max() <= 1
    assert batch["attributes"].shape == (3, 40) and batch["attributes"].dtype == torch.float32
    assert torch.equal(cache.batch(np.array([3]))["image"][0], dataset[3]["image"])
    item, reference = cache[-1], dataset[63]
    assert item.keys() == reference.keys() and item["index"] == 63
    assert all(torch.equal(item[k], reference[k]) for k in ("image", "attributes", "identity"))
    with pytest.raises(IndexError):
        cache[64]


def test_pickles_by_path_and_loads_in_a_dataloader(built):
    _, cache = built
    assert len(pickle.dumps(cache)) < 10_000  # reopened by path, not copied
    batch = next(iter(DataLoader(cache, batch_size=8)))
    assert batch["image"].shape == (8, 3, 32, 32) and batch["index"].tolist() == list(range(8))


def test_load_or_build_reuses_a_matching_cache(celeba_root, tmp_path, capsys):
    settings = dict(kind="celeba", root=celeba_root, split="valid", image_size=16, crop=178, max_images=8)
    cache = load_or_build_cache(**settings, cache_dir=tmp_path, num_workers=0)
    assert cache.path == cache_path_for(**settings, cache_dir=tmp_path)
    assert capsys.readouterr().out.count("\n") == 1 and cache.identities is not None
    stamps = {p.name: p.stat().st_mtime_ns for p in cache.path.iterdir()}
    again = load_or_build_cache(**settings, cache_dir=tmp_path, num_workers=0)
    assert capsys.readouterr().out == ""
    assert {p.name: p.stat().st_mtime_ns for p in again.path.iterdir()} == stamps
    assert np.array_equal(again.images, cache.images)


# PREPROCESSING before issue 20's image loader, which clipped 16-bit pixels to white
OLD_PREPROCESSING = (
    "RGB; centre crop of crop x crop (largest centred square when crop is None or larger than the image; "
    "offsets floor((W - side) / 2), floor((H - side) / 2)); PIL bicubic resize (antialiased) to image_size; "
    "uint8 [3,H,W]; model range x / 127.5 - 1"
)


def test_a_cache_built_by_the_old_loader_is_rebuilt(tmp_path, capsys):
    folder = tmp_path / "faces"
    folder.mkdir()
    Image.fromarray(np.full((16, 16), 30000, dtype=np.uint16)).save(folder / "deep.png")  # 16-bit gray
    settings = dict(kind="folder", root=folder, split="train", image_size=8, crop=None, cache_dir=tmp_path)
    cache = load_or_build_cache(**settings, num_workers=0)
    meta = {**cache.meta, "preprocessing": OLD_PREPROCESSING}
    (cache.path / "meta.json").write_text(json.dumps(meta))
    np.lib.format.open_memmap(cache.path / "images.npy", mode="r+")[:] = 255  # what the old loader cached
    capsys.readouterr()
    again = load_or_build_cache(**settings, num_workers=0)
    assert "caching 1 folder images" in capsys.readouterr().out and again.meta["preprocessing"] == PREPROCESSING
    assert np.all(np.abs(np.asarray(again.images, dtype=int) - round(30000 / 65535 * 255)) <= 1)


def test_cache_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGEN_CACHE_DIR", str(tmp_path / "env"))
    path = cache_path_for("celeba", "data/celeba", "train", 64, 178)
    assert path.parent == tmp_path / "env" and path.name.startswith("celeba-train-64px-crop178-")
    assert cache_path_for("celeba", "data/celeba", "train", 64, 178, max_images=10) != path
    assert cache_path_for("celeba", "data/celeba", "train", 64, 178, cache_dir=tmp_path).parent == tmp_path
    assert cache_path_for("folder", "faces", "train", 32, "auto").name.startswith("folder-all-32px-cropsquare-")
    monkeypatch.delenv("FACEGEN_CACHE_DIR")
    assert ".cache/facegen" in cache_path_for("celeba", "data/celeba", "test", 64, 178).as_posix()


def test_unreadable_images_are_left_out(make_celeba, tmp_path):
    root = make_celeba(["000001.jpg", "000004.jpg"], garbage=["000002.jpg"])
    dataset = CelebA(root, "all", image_size=16)
    with pytest.warns(RuntimeWarning, match="unreadable"):
        cache = ImageCache.open(build_cache(dataset, tmp_path / "cache", num_workers=0))
    assert cache.filenames == ["000001.jpg", "000004.jpg"] and cache.images.shape == (2, 3, 16, 16)
    assert np.array_equal(cache.attributes, dataset.attributes[[0, 2]])
    assert (cache.meta["count"], cache.meta["num_skipped"]) == (2, 1)


def test_a_crash_leaves_no_cache(make_celeba, tmp_path, monkeypatch):
    dataset = CelebA(make_celeba(["000001.jpg", "000002.jpg"]), "all", image_size=16)
    monkeypatch.setattr(dataset, "load_uint8", lambda index: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build_cache(dataset, tmp_path / "caches" / "cache", num_workers=0)
    assert list((tmp_path / "caches").iterdir()) == []


def test_rebuilding_replaces_the_old_cache(make_celeba, tmp_path):
    root = make_celeba(["000001.jpg", "000002.jpg"])
    build_cache(CelebA(root, "all", image_size=16), tmp_path / "cache", num_workers=0)
    build_cache(CelebA(root, "all", image_size=8, return_attributes=False), tmp_path / "cache", num_workers=0)
    cache = ImageCache.open(tmp_path / "cache")
    assert cache.images.shape == (2, 3, 8, 8) and cache.attributes is None
    assert json.loads((tmp_path / "cache" / "meta.json").read_text())["image_size"] == 8
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("cache")] == ["cache"]


def test_flipping_dataset_is_refused(make_celeba, tmp_path):
    dataset = CelebA(make_celeba(["000001.jpg"]), "all", flip=True)
    with pytest.raises(ValueError, match="flip=False"):
        build_cache(dataset, tmp_path / "cache")
