"""Frozen autoencoders for latent diffusion: pixel space (identity), TAEF2, and diffusers' AutoencoderKL."""

from __future__ import annotations

import os

import torch

from facegen.autoencoder_names import AUTOENCODERS
from facegen.autoencoders.base import Autoencoder, decode_clips, latent_shape
from facegen.autoencoders.identity import IdentityAutoencoder
from facegen.autoencoders.quality import psnr
from facegen.autoencoders.taef2 import TAEF2


def build_autoencoder(
    name: str,
    path: str | os.PathLike | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Autoencoder:
    """A frozen autoencoder by name; ``path`` is the weights folder (TAEF2 has a default, KL needs one)."""
    if name == "identity":
        return IdentityAutoencoder()
    if name == "taef2":
        return TAEF2(path, device=device, dtype=dtype)
    if name == "kl":
        from facegen.autoencoders.kl import KLAutoencoder  # imports diffusers: seconds, paid only when used

        return KLAutoencoder(path, device=device, dtype=dtype)
    raise ValueError(f"unknown autoencoder {name!r}; choose one of {', '.join(AUTOENCODERS)}")


__all__ = [
    "AUTOENCODERS",
    "TAEF2",
    "Autoencoder",
    "IdentityAutoencoder",
    "build_autoencoder",
    "decode_clips",
    "latent_shape",
    "psnr",
]
