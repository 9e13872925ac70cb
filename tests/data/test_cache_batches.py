"""Both caches behind one ``batch(indices, flip)``, the same from host memory maps and from device tensors; both
written through one atomic folder helper."""

import numpy as np
import pytest
import torch

from facegen.data import load_or_build_cache
from facegen.data.encoded import EncodedCache, build_encoded_cache
from facegen.utils.io import atomic_folder


class Halve(torch.nn.Module):
    """A stand-in autoencoder: every other pixel."""

    name = "halve"

    def describe(self):
        return {"name": self.name}

    def encode(self, images):
        return images[:, :, ::2, ::2]


@pytest.fixture(scope="module")
def image_cache(celeba_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp("caches")
    return load_or_build_cache("celeba", celeba_root, "train", 16, 178, max_images=12, cache_dir=folder, num_workers=0)


@pytest.fixture(scope="module")
def encoded(image_cache, tmp_path_factory):
    return EncodedCache(build_encoded_cache(image_cache, Halve(), tmp_path_factory.mktemp("enc") / "cache"))


def test_flip_mirrors_pixels_and_picks_the_mirrors_latent(image_cache, encoded):
    indices, flip = torch.tensor([1, 4, 7]), torch.tensor([False, True, False])
    plain, flipped = image_cache.batch(indices), image_cache.batch(indices, flip)
    assert torch.equal(flipped["image"][1], plain["image"][1].flip(-1))
    assert torch.equal(flipped["image"][[0, 2]], plain["image"][[0, 2]])
    latents = encoded.batch(indices, flip)["image"]
    assert torch.allclose(latents, Halve().encode(flipped["image"]), atol=1e-2)  # stored in float16


@pytest.mark.parametrize("which", ["image_cache", "encoded"])
def test_device_tensors_give_the_same_batches_as_memory_maps(which, request):
    cache = request.getfixturevalue(which)
    indices, flip = np.array([0, 3, 5, 11]), torch.tensor([True, False, True, False])
    on_host = cache.batch(indices, flip)
    assert not cache.to("cpu") and cache.device.type == "cpu"  # the CPU keeps its memory maps
    moved = type(cache).__new__(type(cache))
    moved.__dict__.update(cache.__dict__)
    moved.load_onto(torch.device("cpu"))  # what to("cuda") does on a GPU, here onto the CPU
    assert all(isinstance(getattr(moved, name), torch.Tensor) for name in moved._arrays())
    on_device = moved.batch(torch.from_numpy(indices), flip)
    assert on_host.keys() == on_device.keys()
    for key in on_host:
        assert torch.equal(on_host[key], on_device[key]), key


def test_atomic_folder_replaces_or_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with atomic_folder(out) as tmp:
        (tmp / "a").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_folder(out) as tmp:
            (tmp / "a").write_text("2")
            raise RuntimeError("crash mid-write")
    assert (out / "a").read_text() == "1" and [p.name for p in tmp_path.iterdir()] == ["out"]
    with atomic_folder(out) as tmp:
        (tmp / "b").write_text("3")
    assert [p.name for p in out.iterdir()] == ["b"] and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_crash_while_encoding_leaves_the_old_encoded_cache(image_cache, encoded, monkeypatch):
    before = encoded.latents.copy()
    monkeypatch.setattr(Halve, "encode", lambda self, images: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        build_encoded_cache(image_cache, Halve(), encoded.path)
    assert np.array_equal(EncodedCache(encoded.path).latents, before)
    assert [p.name for p in encoded.path.parent.iterdir()] == [encoded.path.name]
