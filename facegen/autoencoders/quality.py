"""Reconstruction quality, shared by the tests and benchmarks/autoencoder_psnr.py."""

from __future__ import annotations

import torch
from torch import Tensor


def psnr(reference: Tensor, reconstruction: Tensor) -> Tensor:
    """Per-image PSNR in dB of [B, 3, H, W] images in [-1, 1], measured on [0, 1] (peak 1): 10 log10(1 / MSE),
    the MSE over all pixels and channels of one image. Average the result for a data-set number."""
    a, b = (reference.float() + 1) / 2, (reconstruction.float() + 1) / 2
    mse = (a - b).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(1 / mse)
