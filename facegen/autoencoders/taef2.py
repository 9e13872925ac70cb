"""TAEF2: a tiny (1.3M + 1.3M parameters) autoencoder distilled into the FLUX.2 latent space.

8x spatial downsampling to 32 channels, whose latents are already about N(0, 1) on faces, so no extra scaling.
Written from the architecture description in ../shared/README.md; module indices match the shipped state dicts
(``taef2_encoder.pth`` / ``taef2_decoder.pth``), which load strictly.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from facegen.autoencoder_names import AUTOENCODER_DOWNSAMPLE
from facegen.autoencoders.base import Autoencoder

WIDTH = 64
LATENT_CHANNELS = 32
ENCODER_FILE = "taef2_encoder.pth"
DECODER_FILE = "taef2_decoder.pth"
DEFAULT_DIR = Path("..") / "shared" / "weights" / "taef2"  # relative to the current directory (the repo root)


def conv(n_in: int, n_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Block(nn.Module):
    """relu(convs(x) + x); ``pooled`` Blocks first add a 1x1 bottleneck branch, ``x + pool(x)``."""

    def __init__(self, pooled: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(conv(WIDTH, WIDTH), nn.ReLU(), conv(WIDTH, WIDTH), nn.ReLU(), conv(WIDTH, WIDTH))
        self.pool = (
            nn.Sequential(
                nn.Conv2d(WIDTH, 4 * WIDTH, 1, bias=False),
                nn.GroupNorm(4, 4 * WIDTH),
                nn.ReLU(),
                nn.Conv2d(4 * WIDTH, WIDTH, 1, bias=False),
            )
            if pooled
            else None
        )
        self.fuse = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


class SoftClamp(nn.Module):
    """3 * tanh(z / 3): keeps out-of-distribution latents (e.g. from a diffusion sampler) in the trained range."""

    def forward(self, z: Tensor) -> Tensor:
        return 3 * torch.tanh(z / 3)


def taef2_encoder() -> nn.Sequential:
    """RGB in [0, 1] -> 32-channel latents at 1/8 resolution."""
    layers: list[nn.Module] = [conv(3, WIDTH), Block()]
    for pooled in (False, False, True):
        layers += [conv(WIDTH, WIDTH, stride=2, bias=False), Block(pooled), Block(pooled), Block(pooled)]
    return nn.Sequential(*layers, conv(WIDTH, LATENT_CHANNELS))


def taef2_decoder() -> nn.Sequential:
    """32-channel latents -> RGB, roughly in [0, 1] (clamped by the caller)."""
    layers: list[nn.Module] = [SoftClamp(), conv(LATENT_CHANNELS, WIDTH), nn.ReLU()]
    layers += [Block(pooled=True) for _ in range(3)]
    for blocks in (3, 3, 1):
        layers += [nn.Upsample(scale_factor=2), conv(WIDTH, WIDTH, bias=False)]
        layers += [Block() for _ in range(blocks)]
    return nn.Sequential(*layers, conv(WIDTH, 3))


def bundled_taef2_dir() -> Path:
    """The copy shipped inside the package (fp16 safetensors + MIT licence) for the bundled pretrained models."""
    return Path(__file__).resolve().parent.parent / "assets" / "taef2"


def _weight_files(folder: Path) -> tuple[Path, Path] | None:
    """(encoder, decoder) files in ``folder``: safetensors (the bundled copy) or the original .pth state dicts."""
    for suffix in (".safetensors", ".pth"):
        files = tuple(folder / name.replace(".pth", suffix) for name in (ENCODER_FILE, DECODER_FILE))
        if all(f.is_file() for f in files):
            return files
    return None


def resolve_taef2_dir(path: str | os.PathLike | None) -> Path:
    """``path``, else $FACEGEN_TAEF2_DIR, else the bundled copy, else ../shared/weights/taef2; raise if none has the
    weights."""
    explicit = path or os.environ.get("FACEGEN_TAEF2_DIR")
    candidates = [Path(explicit)] if explicit else [bundled_taef2_dir(), DEFAULT_DIR]
    for folder in candidates:
        if _weight_files(folder):
            return folder
    raise FileNotFoundError(
        f"TAEF2 weights not found in {' or '.join(str(c.resolve()) for c in candidates)}: expected {ENCODER_FILE} "
        f"and {DECODER_FILE} (or the .safetensors copies). Pass path=<folder> or set FACEGEN_TAEF2_DIR."
    )


def load_taef2_state(file: Path) -> dict[str, Tensor]:
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(file))
    return torch.load(file, map_location="cpu", weights_only=True)


class TAEF2(Autoencoder):
    name = "taef2"
    latent_channels = LATENT_CHANNELS
    downsample = AUTOENCODER_DOWNSAMPLE["taef2"]
    scaling_factor = 1.0

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        folder = resolve_taef2_dir(path)
        self.source = str(folder.resolve())
        self.encoder = taef2_encoder()
        self.decoder = taef2_decoder()
        # The files are float16; load_state_dict copies them into the float32 parameters, then we cast once.
        encoder_file, decoder_file = _weight_files(folder)
        self.encoder.load_state_dict(load_taef2_state(encoder_file))
        self.decoder.load_state_dict(load_taef2_state(decoder_file))
        self.to(device=device, dtype=dtype or torch.float32, memory_format=torch.channels_last)
        self.freeze()

    def _encode(self, images: Tensor) -> Tensor:
        return self.encoder((images + 1) / 2)  # the network was trained on RGB in [0, 1]

    def _decode(self, latents: Tensor) -> Tensor:
        return self.decoder(latents) * 2 - 1  # [0, 1] -> [-1, 1]; decode() clamps
