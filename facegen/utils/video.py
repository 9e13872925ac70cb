"""Frames -> a video file: MP4 (H.264, yuv420p) and WebM (VP9) through imageio-ffmpeg (the ``video`` extra), GIF
through Pillow. The file's extension picks the format; sizes are made even (yuv420p halves the colour planes) by
repeating the last row or column.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

# extension -> ffmpeg writer options; the GIF needs none of ffmpeg
FFMPEG_FORMATS = {
    ".mp4": dict(codec="libx264", pixelformat="yuv420p", output_params=["-crf", "18", "-movflags", "+faststart"]),
    ".webm": dict(codec="libvpx-vp9", pixelformat="yuv420p", output_params=["-crf", "32", "-b:v", "0"]),
}
VIDEO_FORMATS = (*FFMPEG_FORMATS, ".gif")
MAX_FPS = 120


def video_suffix(path: str | Path, option: str = "--out") -> str:
    """The format ``path`` asks for by its extension, or a one-line ValueError naming ``option``."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_FORMATS:
        raise ValueError(f"{option} {path}: write a {', '.join(VIDEO_FORMATS)} file (the extension picks the format)")
    return suffix


def check_fps(fps, option: str = "fps") -> int:
    if isinstance(fps, bool) or not isinstance(fps, int) or not 1 <= fps <= MAX_FPS:
        raise ValueError(f"{option} must be an integer from 1 to {MAX_FPS}, got {fps!r}")
    return fps


def even_frame(frame: Image.Image | np.ndarray) -> np.ndarray:
    """An RGB uint8 array [H, W, 3] with even H and W (the last row / column repeated where odd)."""
    array = np.asarray(frame.convert("RGB") if isinstance(frame, Image.Image) else frame, dtype=np.uint8)
    pad = ((0, array.shape[0] % 2), (0, array.shape[1] % 2), (0, 0))
    return np.pad(array, pad, mode="edge") if any(p[1] for p in pad) else array


def encode_video(frames: list[Image.Image | np.ndarray], fps: int, suffix: str = ".mp4") -> bytes:
    """The bytes of a ``suffix`` video (``.mp4``, ``.webm`` or ``.gif``) showing ``frames`` at ``fps``."""
    check_fps(fps)
    if not frames:
        raise ValueError("a video needs at least one frame")
    arrays = [even_frame(frame) for frame in frames]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError("the frames of a video must all have one size")
    if suffix == ".gif":
        import io

        pictures = [Image.fromarray(a) for a in arrays]
        buffer = io.BytesIO()
        duration = max(20, round(1000 / fps))  # GIF delays are hundredths of a second; browsers clamp under 20 ms
        pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=duration, loop=0)
        return buffer.getvalue()
    from facegen.extras import require

    require("video", f"writing {suffix} videos")
    import imageio.v2 as imageio

    options = FFMPEG_FORMATS[suffix]
    with tempfile.TemporaryDirectory(prefix="facegen-video-") as folder:
        path = os.path.join(folder, f"clip{suffix}")
        writer = imageio.get_writer(
            path,
            format="FFMPEG",
            mode="I",
            fps=fps,
            quality=None,
            macro_block_size=1,  # the sizes are even already: no resizing by imageio
            ffmpeg_log_level="error",
            **options,
        )
        try:
            for array in arrays:
                writer.append_data(array)
        finally:
            writer.close()
        return Path(path).read_bytes()


def write_video(frames: list[Image.Image | np.ndarray], path: str | Path, fps: int, overwrite: bool = False) -> Path:
    """Write ``frames`` to ``path`` (format by extension) whole or not at all; an existing file is replaced only
    with ``overwrite`` (FileExistsError otherwise)."""
    from facegen.utils.io import atomic_write_bytes, check_output_file

    path = check_output_file(path, overwrite)
    atomic_write_bytes(path, encode_video(frames, fps, video_suffix(path)), replace=overwrite)
    return path
