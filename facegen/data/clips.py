"""Clips for video models: a cache of uint8 clips [N, T, 3, S, S] built once, served like the image caches.

Two sources write the same cache (``clips.npy``, ``attributes.npy`` when the source has them, ``meta.json``):

- :func:`render_camera_motion`: **smooth camera motion over real photos**, the substitute for face videos, which
  are not available offline. Each clip is one still photo seen through a camera that pans, zooms and rotates at a
  constant rate, drawn once per clip (seeded by its index): it can teach camera motion and temporal coherence,
  never facial motion (no blinking, talking, turning heads).
- ``facegen.data.videos``: aligned face clips cut from a folder of real videos.

For latent models every frame (and its mirror) is encoded once more into ``latents.npy`` float16
[N, 2, T, C, h, w], beside the pixel cache, as the encoded image cache does for images.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from hashlib import sha1
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from facegen import __version__
from facegen.data.attributes import CELEBA_ATTRIBUTES
from facegen.data.builders import build_dataset
from facegen.data.roots import data_path
from facegen.data.rows import CachedArrays
from facegen.data.transforms import to_model_range
from facegen.faces.photos import load_photo
from facegen.utils.io import atomic_folder, atomic_write_json, cache_root, preallocated_npy

CLIPS_FORMAT = 1
MOTION_FIELDS = ("pan_x", "pan_y", "zoom", "rotation")  # per frame: pixels at S, relative scale, degrees
VIEW = 140 / 178  # the camera sees this share of CelebA's 178 crop: room to pan before it leaves the photo


class ClipCache(CachedArrays):
    """Memory-mapped clips; ``batch(indices, flip) -> {"image": [B, T, C, H, W], "attributes": [B, 40]}``: pixel
    clips in [-1, 1] (mirrored where ``flip``), or with ``latents`` the encoded clips (the mirror's latents)."""

    array_names = ("clips", "latents", "attributes", "motions")

    def __init__(self, path: str | Path, latents: bool = False) -> None:
        self.path = Path(path)
        if not (self.path / "meta.json").exists():
            raise FileNotFoundError(f"no complete clip cache at {self.path} (meta.json is missing)")
        self.meta = json.loads((self.path / "meta.json").read_text())
        self.clips = np.load(self.path / "clips.npy", mmap_mode="r")
        self.latents = np.load(self.path / "latents.npy", mmap_mode="r") if latents else None
        self.attributes = _optional(self.path / "attributes.npy")
        self.motions = _optional(self.path / "motions.npy")
        self.attribute_names = CELEBA_ATTRIBUTES if self.attributes is not None else None

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def frames(self) -> int:
        return self.clips.shape[1]

    def batch(self, indices: np.ndarray | torch.Tensor, flip: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if self.latents is not None:
            which = torch.zeros(len(indices), dtype=torch.long) if flip is None else flip.long()
            clip = self.rows(self.latents, indices, which).float()
        else:
            clip = to_model_range(self.rows(self.clips, indices))
            if flip is not None:
                clip = torch.where(flip.to(clip.device)[:, None, None, None, None], clip.flip(-1), clip)
        fields = {"image": clip}
        if self.attributes is not None:
            fields["attributes"] = self.rows(self.attributes, indices).float()
        return fields


def _optional(path: Path) -> np.ndarray | None:
    return np.load(path, mmap_mode="r") if path.exists() else None


def clip_cache_path(settings: dict[str, Any], cache_dir: str | None = None) -> Path:
    digest = sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    return (
        cache_root(cache_dir) / f"clips-{settings['source']}-{settings['frames']}f-{settings['image_size']}px-{digest}"
    )


def draw_motion(
    rng: np.random.Generator, pan: float, zoom: float, rotation: float, pan_angle: float | None = None
) -> np.ndarray:
    """One clip's constant motion per frame: a pan of up to ``pan`` pixels in a uniform direction (or, with
    ``pan_angle`` in degrees, exactly ``pan`` pixels in that direction: every clip the same motion), a zoom and a
    rotation each uniform in [-max, max]."""
    speed, angle = rng.uniform(0, pan), rng.uniform(0, 2 * math.pi)  # drawn either way: the same zooms, rotations
    if pan_angle is not None:
        speed, angle = pan, math.radians(pan_angle)
    return np.array(
        [speed * math.cos(angle), speed * math.sin(angle), rng.uniform(-zoom, zoom), rng.uniform(-rotation, rotation)],
        dtype=np.float32,
    )


def camera_frames(photo: torch.Tensor, motion: np.ndarray, frames: int, size: int, view: float = VIEW) -> torch.Tensor:
    """Frames [T, 3, size, size] (float in the photo's range) of ``photo`` [3, H, W] seen by a camera centred on
    CelebA's crop at frame (T-1)/2 and moving by ``motion`` (``MOTION_FIELDS``) per frame; sampled at twice the
    size and averaged 2x2 (antialiased); outside the photo the pixels are mirrored."""
    pan_x, pan_y, zoom, rotation = (float(v) for v in motion)
    _, height, width = photo.shape
    side = view * min(width, 178)  # the camera's view in photo pixels at frame (T-1)/2
    centre_x, centre_y = width / 2, min(height / 2, 20 + 178 / 2)  # CelebA's crop rows 20..197
    thetas = []
    for k in range(frames):
        u = k - (frames - 1) / 2
        scale, turn = (1 + zoom) ** -u, math.radians(rotation * u)  # zooming in: the view shrinks
        cx, cy = centre_x + pan_x * u * side / size, centre_y + pan_y * u * side / size
        half = side * scale / 2  # grid coordinates are in [-1, 1] of the photo: (x - W/2) / (W/2)
        cos, sin = math.cos(turn), math.sin(turn)
        thetas.append(
            [
                [cos * half / (width / 2), -sin * half / (width / 2), (cx - width / 2) / (width / 2)],
                [sin * half / (height / 2), cos * half / (height / 2), (cy - height / 2) / (height / 2)],
            ]
        )
    theta = torch.tensor(thetas, dtype=torch.float32)
    grid = F.affine_grid(theta, [frames, 3, 2 * size, 2 * size], align_corners=False)
    source = photo.float()[None]
    factor = 2 * size / side  # samples per photo pixel: shrink first (antialiased), so bilinear sampling never aliases
    if factor < 1:  # the grid is in relative units: it holds for the shrunk photo
        source = F.interpolate(source, scale_factor=factor, mode="bicubic", antialias=True, align_corners=False)
    source = source.expand(frames, -1, -1, -1)
    sampled = F.grid_sample(source, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return F.avg_pool2d(sampled, 2)


def render_camera_motion(
    kind: str,
    root: str,
    split: str,
    frames: int,
    size: int,
    pan: float,
    zoom: float,
    rotation: float,
    max_images: int | None = None,
    seed: int = 0,
    cache_dir: str | None = None,
    view: float = VIEW,
    pan_angle: float | None = None,
) -> ClipCache:
    """The camera-motion clip cache of a photo dataset (one clip per photo), rendered on first use."""
    root = str(data_path(root))
    settings = dict(
        source=f"{kind}-camera", root=root, split=split, frames=frames, image_size=size, pan=pan, zoom=zoom,
        rotation=rotation, max_images=max_images, seed=seed, view=view, format=CLIPS_FORMAT,
    )  # fmt: skip
    if pan_angle is not None:  # only then: the caches rendered before the option keep their names
        settings["pan_angle"] = pan_angle
    path = clip_cache_path(settings, cache_dir)
    if (path / "meta.json").exists():
        return ClipCache(path)
    dataset = build_dataset(kind, root, split, size, crop="auto", max_images=max_images)
    rng = np.random.default_rng(seed)
    with atomic_folder(path) as tmp:
        clips = preallocated_npy(tmp / "clips.npy", np.uint8, (len(dataset), frames, 3, size, size))
        motions = np.zeros((len(dataset), len(MOTION_FIELDS)), np.float32)
        for i, name in enumerate(tqdm(dataset.filenames, desc="rendering camera-motion clips", unit="clip")):
            photo = torch.from_numpy(np.array(load_photo(Path(dataset.image_dir) / name))).permute(2, 0, 1)
            motions[i] = draw_motion(rng, pan, zoom, rotation, pan_angle)
            clip = camera_frames(photo, motions[i], frames, size, view)
            clips[i] = clip.round().clamp(0, 255).to(torch.uint8).numpy()
        clips.flush()
        np.save(tmp / "motions.npy", motions)
        if dataset.attributes is not None:
            np.save(tmp / "attributes.npy", np.asarray(dataset.attributes))
        write_meta(tmp, settings, len(dataset))
    return ClipCache(path)


def write_meta(folder: Path, settings: dict[str, Any], count: int) -> None:
    """Last: a folder with meta.json is complete."""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    meta = {
        **settings,
        "count": count,
        "motion_fields": MOTION_FIELDS,
        "created": created,
        "facegen_version": __version__,
    }
    atomic_write_json(folder / "meta.json", meta)


@torch.no_grad()
def encode_clips(cache: ClipCache, autoencoder, batch_size: int = 64) -> ClipCache:
    """The same cache with ``latents.npy`` (every frame and its mirror encoded once), built on first use."""
    cache = ClipCache(cache.path)  # its meta as it is now: another call may have encoded it since ``cache`` was read
    if (cache.path / "latents.npy").exists() and autoencoder.encodes_like(cache.meta.get("autoencoder")):
        return ClipCache(cache.path, latents=True)
    device = next(iter(autoencoder.parameters()), torch.zeros(())).device
    n, frames = len(cache), cache.frames
    latents = None
    per_batch = max(1, batch_size // frames)
    tmp = cache.path / "latents.npy.tmp"
    for start in tqdm(range(0, n, per_batch), desc=f"encoding clips with {autoencoder.name}", unit="batch"):
        clip = cache.batch(np.arange(start, min(n, start + per_batch)))["image"].to(device).flatten(0, 1)
        pair = torch.stack([autoencoder.encode(clip), autoencoder.encode(clip.flip(-1))], dim=1)
        pair = pair.unflatten(0, (-1, frames)).transpose(1, 2)  # [B, 2, T, C, h, w]
        if latents is None:
            latents = preallocated_npy(tmp, np.float16, (n, *pair.shape[1:]))
        latents[start : start + len(pair)] = pair.cpu().numpy()
    latents.flush()
    del latents
    tmp.with_suffix("").unlink(missing_ok=True)
    tmp.rename(cache.path / "latents.npy")
    atomic_write_json(cache.path / "meta.json", {**cache.meta, "autoencoder": autoencoder.describe()})
    return ClipCache(cache.path, latents=True)
