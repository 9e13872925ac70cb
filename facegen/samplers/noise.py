"""Noise between two draws: what interpolations sample from."""

from __future__ import annotations

import torch


def slerp(a: torch.Tensor, b: torch.Tensor, w: float) -> torch.Tensor:
    """Spherical interpolation: intermediate noises keep the norm a Gaussian sample should have."""
    cos = (a.flatten() @ b.flatten() / (a.norm() * b.norm())).clamp(-1, 1)
    angle = torch.arccos(cos)
    if angle.abs() < 1e-4:
        return (1 - w) * a + w * b
    return (torch.sin((1 - w) * angle) * a + torch.sin(w * angle) * b) / torch.sin(angle)
