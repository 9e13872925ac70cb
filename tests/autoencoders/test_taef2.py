"""TAEF2 written from the README: strict load of the shipped weights, shapes, freezing, and real-face quality."""

from __future__ import annotations

import pytest
import torch

from facegen.autoencoders import build_autoencoder, latent_shape, psnr
from facegen.autoencoders.taef2 import DECODER_FILE, ENCODER_FILE

# Measured with the original weights on 128 CelebA crops (benchmarks/autoencoder_psnr.py gives 27.94 and 31.77
# on the first 128). The test uses the first 32 to stay fast: per-image PSNR spreads 1.4 dB at 64 px and 1.9 dB
# at 128 px, a standard error of 0.24 and 0.34 dB; these 32 give 27.57 and 31.38.
REFERENCE_PSNR = {64: 27.7, 128: 31.7}
CROPS = 32


def test_modules_match_the_shipped_state_dicts(taef2, taef2_dir):
    for module, file in ((taef2.encoder, ENCODER_FILE), (taef2.decoder, DECODER_FILE)):
        shipped = torch.load(taef2_dir / file, weights_only=True)
        ours = module.state_dict()
        assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in shipped.items()}
        assert all(torch.equal(ours[k], shipped[k].float()) for k in shipped)
    assert sum(p.numel() for p in taef2.encoder.parameters()) == 1_338_528
    assert sum(p.numel() for p in taef2.decoder.parameters()) == 1_338_499


def test_shapes_range_and_description(taef2):
    images = torch.rand(3, 3, 64, 96) * 2 - 1
    latents = taef2.encode(images)
    assert latents.shape == (3, 32, 8, 12) and latents.dtype == torch.float32
    decoded = taef2.decode(latents * 10)  # far out of range: soft clamp, then a clamped image
    assert decoded.shape == images.shape and decoded.min() >= -1 and decoded.max() <= 1
    assert latent_shape(taef2, 128) == (32, 16, 16)
    described = taef2.describe()
    assert described | {"source": None} == {
        "name": "taef2",
        "latent_channels": 32,
        "downsample": 8,
        "scaling_factor": 1.0,
        "shift": 0.0,
        "source": None,
    }
    assert described["source"].endswith("taef2")
    assert taef2.encodes_like(described | {"source": "/another/install/taef2"})  # where the weights lay is not kept
    assert not taef2.encodes_like(described | {"latent_channels": 16}) and not taef2.encodes_like(None)
    assert not taef2.encodes_like(build_autoencoder("identity").describe())
    with pytest.raises(ValueError, match="not divisible by 8"):
        taef2.encode(torch.zeros(1, 3, 60, 64))


def test_frozen_even_after_train(taef2):
    taef2.train()
    assert not taef2.training and not any(m.training for m in taef2.modules())
    assert not any(p.requires_grad for p in taef2.parameters())
    images = torch.zeros(1, 3, 16, 16, requires_grad=True)
    assert not taef2.encode(images).requires_grad


def test_chunked_encoding_matches_one_batch(taef2):
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    whole = taef2.encode(images)
    taef2.batch_size = 2
    try:
        torch.testing.assert_close(taef2.encode(images), whole)
    finally:
        taef2.batch_size = 32


def test_bfloat16_is_close_to_float32(taef2, taef2_dir):
    images = torch.rand(1, 3, 32, 32) * 2 - 1
    low = build_autoencoder("taef2", taef2_dir, dtype=torch.bfloat16)
    assert next(low.parameters()).dtype == torch.bfloat16
    torch.testing.assert_close(low.encode(images), taef2.encode(images), atol=0.15, rtol=0.05)


@pytest.fixture(scope="module")
def reconstructions(taef2, celeba_crops):
    """size -> (images, latents, decoded): encoded once for the quality tests below."""
    out = {}
    for size in REFERENCE_PSNR:
        images = celeba_crops(CROPS, size)
        latents = taef2.encode(images)
        out[size] = images, latents, taef2.decode(latents)
    return out


@pytest.mark.parametrize("size", sorted(REFERENCE_PSNR))
def test_psnr_on_real_faces_matches_the_reference(reconstructions, size):
    images, _, decoded = reconstructions[size]
    measured = psnr(images, decoded).mean().item()
    assert abs(measured - REFERENCE_PSNR[size]) < 0.5, f"{measured:.2f} dB at {size} px"


@pytest.mark.parametrize("size", sorted(REFERENCE_PSNR))
def test_latents_of_faces_are_roughly_standard(reconstructions, size):
    _, latents, _ = reconstructions[size]
    assert abs(latents.mean().item()) < 0.1 and 0.85 < latents.std().item() < 1.15


def test_missing_weights_name_the_files_and_folder(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=f"in {tmp_path}: expected {ENCODER_FILE} and {DECODER_FILE}"):
        build_autoencoder("taef2", tmp_path)
    monkeypatch.setenv("FACEGEN_TAEF2_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError, match="elsewhere"):
        build_autoencoder("taef2")


def test_bundled_copy_is_found_first_and_equals_the_original(shared_dir, monkeypatch):
    """The package ships TAEF2 as fp16 safetensors: with no path it is used, and it is the same network."""
    monkeypatch.delenv("FACEGEN_TAEF2_DIR", raising=False)
    bundled = build_autoencoder("taef2")
    original = build_autoencoder("taef2", shared_dir / "weights" / "taef2")
    assert bundled.source.endswith("facegen/assets/taef2")
    for (name, a), (_, b) in zip(bundled.state_dict().items(), original.state_dict().items()):
        assert torch.equal(a, b), name
