"""Turning model-range tensors ([-1, 1]) into pictures people look at: grids, strips and GIFs."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import make_grid

from facegen.utils.io import atomic_write_bytes
from facegen.utils.pixels import to_uint8


def to_uint8_hwc(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float [..., 3, H, W] -> uint8 [..., H, W, 3]."""
    return to_uint8(images.detach().cpu()).movedim(-3, -1)


def to_pil(image: torch.Tensor) -> Image.Image:
    return Image.fromarray(to_uint8_hwc(image).numpy())


def grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """[-1, 1] batch -> one [-1, 1] image tiling it (``nrow`` images per row, square by default)."""
    nrow = nrow or max(1, int(len(images) ** 0.5 + 0.5))
    return make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding, pad_value=1.0)


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


IMAGE_FORMATS = {".png": ("PNG", {}), ".jpg": ("JPEG", {"quality": 90}), ".jpeg": ("JPEG", {"quality": 90})}


def image_format(path: str | Path) -> tuple[str, dict]:
    """The format a picture at ``path`` is written in (by its suffix); check it before the work that makes it."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise ValueError(f"{path}: a picture must end in {', '.join(IMAGE_FORMATS)} (got {suffix or 'no suffix'!r})")
    return IMAGE_FORMATS[suffix]


def write_image(image: Image.Image, path: str | Path) -> None:
    """A PIL image -> a PNG or a JPEG (quality 90), chosen by the file's suffix, written atomically."""
    fmt, options = image_format(path)
    atomic_write_bytes(path, _encode(image.convert("RGB") if fmt == "JPEG" else image, fmt, **options))


def save_picture(image: torch.Tensor, path: str | Path) -> None:
    """One [-1, 1] [3, H, W] image -> a PNG or a JPEG, as ``write_image``."""
    write_image(to_pil(image), path)


def save_gif(frames: list[torch.Tensor], path: str | Path, duration_ms: int = 80, hold_last_ms: int = 1200) -> None:
    """Frames in [-1, 1] [3, H, W] -> a looping GIF that pauses on its last frame."""
    pil = [to_pil(f) for f in frames]
    durations = [duration_ms] * (len(pil) - 1) + [hold_last_ms]
    data = _encode(pil[0], "GIF", save_all=True, append_images=pil[1:], duration=durations, loop=0)
    atomic_write_bytes(path, data)


def trajectory_frames(states: list[torch.Tensor], max_frames: int = 40) -> list[torch.Tensor]:
    """Sampler states (each [B, 3, H, W]) -> grid frames, thinned to at most ``max_frames``, last one kept."""
    keep = sorted({round(i * (len(states) - 1) / max(1, max_frames - 1)) for i in range(min(max_frames, len(states)))})
    return [grid(states[i]) for i in keep]


def trajectory_strip(states: list[torch.Tensor], columns: int = 8, rows: int = 4) -> torch.Tensor:
    """One picture of sampling: each row a sample, columns going from noise (left) to face (right)."""
    picks = [round(i * (len(states) - 1) / (columns - 1)) for i in range(columns)]
    tiles = torch.stack([states[p][:rows] for p in picks], dim=1)  # [rows, columns, 3, H, W]
    return grid(tiles.flatten(0, 1), nrow=columns)
