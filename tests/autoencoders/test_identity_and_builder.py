"""Pixel space through the same interface, the builder's names, and latent shapes."""

from __future__ import annotations

import pytest
import torch

from facegen.autoencoders import build_autoencoder, latent_shape


def test_identity_round_trip_is_exact():
    identity = build_autoencoder("identity")
    images = torch.rand(2, 3, 8, 8) * 2 - 1
    assert torch.equal(identity.decode(identity.encode(images)), images)
    assert latent_shape(identity, 64) == (3, 64, 64)
    assert identity.describe() == {
        "name": "identity",
        "latent_channels": 3,
        "downsample": 1,
        "scaling_factor": 1.0,
        "shift": 0.0,
        "source": None,
    }


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="identity, taef2, kl"):
        build_autoencoder("vqgan")


def test_latent_shape_rejects_sizes_the_factor_does_not_divide(taef2):
    with pytest.raises(ValueError, match="not divisible"):
        latent_shape(taef2, 100)
