"""Degraded copies of real faces, to calibrate a metric: it must rank them as an eye would.

uint8 images [N, 3, H, W] in, the same shape and dtype out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def blurred(images: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """Down ``factor`` times and back up: the face's layout stays, its detail goes."""
    small = F.interpolate(images.float(), scale_factor=1 / factor, mode="area")
    up = F.interpolate(small, size=images.shape[-2:], mode="bilinear")
    return up.round().clamp(0, 255).to(torch.uint8)


def scrambled(images: torch.Tensor, tiles: int = 4, seed: int = 0) -> torch.Tensor:
    """The central half of each face (eyes, nose, mouth) cut into tiles x tiles pieces put back in a fixed random
    order: sharp, face-coloured and malformed."""
    n, c, h, w = images.shape
    top, left, size = h // 4, w // 4, (min(h, w) // 2) // tiles * tiles
    piece = size // tiles
    centre = images[:, :, top : top + size, left : left + size]
    parts = centre.unfold(2, piece, piece).unfold(3, piece, piece).reshape(n, c, tiles * tiles, piece, piece)
    order = torch.randperm(tiles * tiles, generator=torch.Generator().manual_seed(seed))
    parts = parts[:, :, order].reshape(n, c, tiles, tiles, piece, piece).permute(0, 1, 2, 4, 3, 5)
    out = images.clone()
    out[:, :, top : top + size, left : left + size] = parts.reshape(n, c, size, size)
    return out
