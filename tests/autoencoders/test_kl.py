"""diffusers' AutoencoderKL behind the interface, with a tiny random one saved like a real download."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from diffusers import AutoencoderKL

from facegen.autoencoders import build_autoencoder, latent_shape

SCALE, SHIFT = 0.5, 0.1


@pytest.fixture(scope="module")
def tiny_kl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    vae = AutoencoderKL(
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        block_out_channels=(8, 16),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=32,
        scaling_factor=SCALE,
        shift_factor=SHIFT,
    )
    out = tmp_path_factory.mktemp("tiny-kl")
    vae.save_pretrained(out)
    return out


def test_encode_is_the_scaled_posterior_mean(tiny_kl_dir):
    kl = build_autoencoder("kl", tiny_kl_dir)
    kl.precision = "fp32"  # exact comparison with the fp32 reference (the default autocasts on native-bf16 CPUs)
    assert (kl.latent_channels, kl.downsample, kl.scaling_factor, kl.shift_factor) == (4, 2, SCALE, SHIFT)
    images = torch.rand(3, 3, 32, 32) * 2 - 1
    latents = kl.encode(images)
    assert latents.shape == (3, 4, 16, 16) == (3, *latent_shape(kl, 32))
    reference = AutoencoderKL.from_pretrained(tiny_kl_dir)
    with torch.no_grad():
        mean = reference.encode(images).latent_dist.mean
        decoded = reference.decode(latents / SCALE + SHIFT).sample.clamp(-1, 1)
    torch.testing.assert_close(latents, (mean - SHIFT) * SCALE)
    torch.testing.assert_close(kl.encode(images), latents)  # deterministic
    torch.testing.assert_close(kl.decode(latents), decoded)


def test_round_trip_shape_range_and_frozen(tiny_kl_dir):
    kl = build_autoencoder("kl", str(tiny_kl_dir))
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    decoded = kl.decode(kl.encode(images))
    assert decoded.shape == images.shape and decoded.min() >= -1 and decoded.max() <= 1
    assert not kl.training and not any(p.requires_grad for p in kl.parameters())
    assert kl.describe()["source"] == str(tiny_kl_dir.resolve())


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="huggingface-cli download stabilityai/sd-vae-ft-mse"):
        build_autoencoder("kl", tmp_path / "sd-vae-ft-mse")
    with pytest.raises(FileNotFoundError, match="huggingface-cli download"):
        build_autoencoder("kl", "stabilityai/sd-vae-ft-mse")  # a hub id is not fetched at run time
    with pytest.raises(ValueError, match="huggingface-cli download"):
        build_autoencoder("kl")


def test_autocast_rule_stays_close_to_fp32(tiny_kl_dir):
    """The default precision (bf16 where the CPU has it natively) must not change what the latents say."""
    kl = build_autoencoder("kl", tiny_kl_dir)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    fast = kl.encode(images)
    kl.precision = "fp32"
    exact = kl.encode(images)
    assert (fast - exact).abs().max() < 0.05 * exact.abs().max()
