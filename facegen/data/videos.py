"""Aligned face clips from a folder of real videos (MP4, WebM, MOV, AVI, MKV; read by imageio-ffmpeg, the ``video``
extra): the clip cache of ``facegen.data.clips`` for users who have face videos.

Every ``stride``-th frame is aligned as a CelebA photo is (``faces.align_face``: 5 dlib landmarks, a similarity to
the CelebA template), with the transforms averaged over a few neighbouring frames so the landmark detector's jitter
does not shake the clip; then cropped and resized as CelebA (178 crop, bicubic). A run of frames with a face is cut
into clips of ``frames`` frames; frames without one end a run (no clip spans them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from facegen.config import CELEBA_CROP
from facegen.data.clips import ClipCache, clip_cache_path, write_meta
from facegen.data.transforms import preprocess
from facegen.utils.io import atomic_folder

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v")
SMOOTHING = 5  # frames averaged into each alignment transform


def video_files(folder: str | Path) -> list[Path]:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"video.videos: no folder at {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
    if not files:
        raise ValueError(f"video.videos: {folder} holds no video ({', '.join(VIDEO_EXTENSIONS)})")
    return files


def read_frames(path: Path, stride: int) -> list[Image.Image]:
    """Every ``stride``-th frame of a video, as RGB images."""
    from facegen.extras import require

    require("video", f"reading {path.suffix} videos")
    import imageio.v2 as imageio

    try:
        reader = imageio.get_reader(str(path), format="FFMPEG")
    except (OSError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: not a readable video ({err})") from None
    with reader:
        return [Image.fromarray(frame).convert("RGB") for i, frame in enumerate(reader) if i % stride == 0]


def smoothed(transforms: list[np.ndarray], window: int = SMOOTHING) -> list[np.ndarray]:
    """Each 2x3 transform averaged with its neighbours (``window`` frames, fewer at the ends)."""
    stack, half = np.stack(transforms), window // 2
    return [stack[max(0, i - half) : i + half + 1].mean(axis=0) for i in range(len(stack))]


def face_runs(frames: list[Image.Image]) -> list[list[np.ndarray]]:
    """The alignment transforms of each run of consecutive frames with a face: [(frame index, transform)]."""
    from facegen.faces import NoFaceError, align_face

    runs, current = [], []
    for index, frame in enumerate(frames):
        try:
            current.append((index, align_face(frame).transform))
        except NoFaceError:
            if current:
                runs.append(current)
            current = []
    return runs + ([current] if current else [])


def aligned_clips(frames: list[Image.Image], length: int, size: int) -> list[np.ndarray]:
    """Clips uint8 [length, 3, size, size] of aligned faces from one video's frames."""
    from facegen.faces.align import warp

    clips = []
    for run in face_runs(frames):
        transforms = smoothed([transform for _, transform in run])
        faces = [preprocess(warp(frames[i], m), size, CELEBA_CROP).numpy() for (i, _), m in zip(run, transforms)]
        clips += [np.stack(faces[s : s + length]) for s in range(0, len(faces) - length + 1, length)]
    return clips


def video_clips(
    folder: str, frames: int, size: int, stride: int = 1, max_clips: int | None = None, cache_dir: str | None = None
) -> ClipCache:
    """The clip cache of a folder of face videos, built on first use (or when a video changed)."""
    files = video_files(folder)
    stamps = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    settings = dict(source="videos", files=stamps, frames=frames, image_size=size, stride=stride, max_clips=max_clips)
    path = clip_cache_path(settings, cache_dir)
    if (path / "meta.json").exists():
        return ClipCache(path)
    clips: list[np.ndarray] = []
    for file in tqdm(files, desc="aligning video frames", unit="video"):
        clips += aligned_clips(read_frames(file, stride), frames, size)
        if max_clips and len(clips) >= max_clips:
            break
    clips = clips[:max_clips]
    if not clips:
        raise ValueError(f"video.videos: no run of {frames} frames with a face in {folder} (stride {stride})")
    with atomic_folder(path) as tmp:
        np.save(tmp / "clips.npy", np.stack(clips))
        write_meta(tmp, settings, len(clips))
    return ClipCache(path)
