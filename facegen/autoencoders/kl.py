"""Stable Diffusion style KL autoencoders (e.g. stabilityai/sd-vae-ft-mse) through diffusers' ``AutoencoderKL``."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from torch import Tensor

from facegen.autoencoders.base import Autoencoder

HOW_TO_GET = (
    "download the weights once, e.g. `huggingface-cli download stabilityai/sd-vae-ft-mse --local-dir "
    "weights/sd-vae-ft-mse`, and pass that folder (it holds config.json and the weights)"
)


class KLAutoencoder(Autoencoder):
    """Latents are ``(posterior mean - shift_factor) * scaling_factor`` with both factors from the model config.

    Encoding takes the posterior mean instead of a sample: latents are then deterministic, so cached latents and
    repeated encodes agree, and the SD VAE's posterior std is tiny next to the latents' spread, so sampling would
    only add near-invisible noise.
    """

    name = "kl"

    def __init__(
        self,
        path: str | os.PathLike | None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if path is None:
            raise ValueError(f"the 'kl' autoencoder needs path=<local folder>: {HOW_TO_GET}")
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"no AutoencoderKL at {folder.resolve()} (config.json missing): {HOW_TO_GET}")
        self.source = str(folder.resolve())
        # local_files_only: never reach the network at run time, even if `path` looks like a hub id.
        self.vae = AutoencoderKL.from_pretrained(folder, local_files_only=True, torch_dtype=dtype or torch.float32)
        self.vae.to(device)
        config = self.vae.config
        self.latent_channels = config.latent_channels
        self.downsample = 2 ** (len(config.block_out_channels) - 1)
        self.scaling_factor = float(config.scaling_factor)
        self.shift_factor = float(config.shift_factor or 0.0)
        self.freeze()

    def _encode(self, images: Tensor) -> Tensor:
        mean = self.vae.encode(images).latent_dist.mean
        return (mean - self.shift_factor) * self.scaling_factor

    def _decode(self, latents: Tensor) -> Tensor:
        return self.vae.decode(latents / self.scaling_factor + self.shift_factor).sample
