"""Pixel-space "autoencoder": lets the trainer and pipeline treat pixel and latent diffusion the same way."""

from __future__ import annotations

from torch import Tensor

from facegen.autoencoder_names import AUTOENCODER_DOWNSAMPLE
from facegen.autoencoders.base import Autoencoder


class IdentityAutoencoder(Autoencoder):
    name = "identity"
    latent_channels = 3
    downsample = AUTOENCODER_DOWNSAMPLE["identity"]
    scaling_factor = 1.0

    def __init__(self) -> None:
        super().__init__()
        self.freeze()

    # No parameters to batch or cast for: return the input itself so the round trip is exact.
    def encode(self, images: Tensor) -> Tensor:
        return images

    def decode(self, latents: Tensor) -> Tensor:
        return latents
