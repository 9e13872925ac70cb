"""The one conversion between stored pixels (uint8 [0, 255]) and the model range (float [-1, 1])."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from PIL import Image


def to_model_range(x_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 pixels [0, 255] -> float32 in [-1, 1]."""
    return x_uint8.to(torch.float32) / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float in [-1, 1] -> uint8 pixels (clamped and rounded); exact inverse of ``to_model_range``."""
    return ((x.to(torch.float32) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image -> 8-bit RGB, the one way every photo enters facegen.

    PIL's own ``convert("RGB")`` clips 16-bit and float pixels at 255 (a 16-bit grayscale PNG turns white) and
    drops transparency (what lies under it is often black): here deep pixels are scaled to [0, 255] by the depth
    their values use, and transparent parts are laid over white. A ValueError if pixels are not finite numbers.
    """
    import numpy as np
    from PIL import Image

    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError("its pixels include values that are not finite numbers (NaN or infinity)")
        top = float(values.max(initial=0.0))
        # I;16 says its depth; 32-bit integers and floats get the smallest usual range that holds their values
        usual = {"I": (255.0, 65535.0), "F": (1.0, 255.0, 65535.0)}.get(image.mode, (65535.0,))
        depth = next((d for d in usual if top <= d), top)
        gray = np.clip(values / depth * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", image.size, "white"), rgba).convert("RGB")
    return image.convert("RGB")
