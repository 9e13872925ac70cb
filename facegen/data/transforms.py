"""Image preprocessing shared by every dataset and the cache, so cached and decoded pixels are identical."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from facegen.config import CELEBA_CROP
from facegen.faces.photos import load_photo
from facegen.utils.pixels import to_model_range, to_rgb, to_uint8

__all__ = ["PREPROCESSING", "load_face", "preprocess", "random_hflip", "to_model_range", "to_uint8"]

# Stored in cache metadata: a cache built with different preprocessing must not be reused. "to_rgb" since issue 20:
# 16-bit and float pixels were clipped to white and transparency dropped before, so older caches of such files are
# wrong (and rebuilt).
PREPROCESSING = (
    "RGB via to_rgb (16/32-bit and float scaled to 8 bits, transparency over white); "
    "centre crop of crop x crop (largest centred square when crop is None or larger than the image; "
    "offsets floor((W - side) / 2), floor((H - side) / 2)); PIL bicubic resize (antialiased) to image_size; "
    "uint8 [3,H,W]; model range x / 127.5 - 1"
)


def preprocess(img: Image.Image, image_size: int, crop: int | None = CELEBA_CROP) -> torch.Tensor:
    """Crop and resize a face photo to a uint8 tensor [3, image_size, image_size].

    ``crop=178`` on a 178x218 aligned CelebA image takes rows 20..197, the box used by the official
    preprocessing. PIL's bicubic filter widens its support when downscaling, so the resize is antialiased
    and gives the same pixels in every DataLoader worker.
    """
    if image_size < 1:
        raise ValueError(f"image_size must be positive, got {image_size}")
    if crop is not None and crop < 1:
        raise ValueError(f"crop must be positive or None, got {crop}")
    img = to_rgb(img)
    width, height = img.size
    side = min(width, height) if crop is None else min(crop, width, height)
    left, top = (width - side) // 2, (height - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != image_size:
        img = img.resize((image_size, image_size), Image.Resampling.BICUBIC)
    # numpy rather than torchvision's pil_to_tensor: same result, and importing torchvision costs seconds.
    return torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def random_hflip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image of a batch [B, 3, H, W] left-right, independently, with probability 0.5."""
    if x.ndim != 4:
        raise ValueError(f"random_hflip expects a batch [B, 3, H, W], got shape {tuple(x.shape)}")
    # Draw on the generator's device: torch refuses a generator from another device.
    device = generator.device if generator is not None else x.device
    flip = (torch.rand(x.shape[0], generator=generator, device=device) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def load_face(image: str | Path | Image.Image | torch.Tensor, image_size: int) -> torch.Tensor:
    """Any image (path, PIL or [-1, 1] tensor) -> [1, 3, S, S] in [-1, 1], cropped as CelebA is; a path or PIL
    image is read by ``load_photo`` (upright, RGB; a one-line ValueError names a file it cannot read)."""
    if isinstance(image, torch.Tensor):
        return image.reshape(1, *image.shape[-3:]).float()
    image = load_photo(image)
    # An aligned CelebA photo (178x218) gets the official 178 crop; anything else its central square.
    crop = CELEBA_CROP if image.size == (178, 218) else None
    return to_model_range(preprocess(image, image_size, crop))[None]
