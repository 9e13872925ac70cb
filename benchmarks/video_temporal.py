"""Temporal layers against the image model they wrap, on the camera-motion task (docs/VIDEO.md, "Temporal layers").

Clips from one noise tensor [N, T, C, H, W] made three ways: the **temporal** video model; the **image** model per
frame on the same noise (independent noise per frame); the image model with **shared** noise (frame 0's noise for
every frame). The camera-motion clips of real photos it trained on are measured the same way as a reference.

Per clip, in 8-bit levels on [0, 255] frames:
  flicker   mean |x[k+1] - 2 x[k] + x[k-1]|   (0 for motion at constant speed)
  change    mean |x[k+1] - x[k]|
  shift     the integer translation (|dx|, |dy| <= 4) best matching consecutive frames; "steady": the share of pairs
            whose shift is the clip's most common one; "explained": error after that shift / error without it
  drift     frame k against frame 0 after the best translation, mean over k: a pixel proxy of identity over frames
            (dlib's face descriptor cannot read 32 px faces)

    OMP_NUM_THREADS=1 python benchmarks/video_temporal.py --video runs/celeba32_camera_video \
        --image runs/celeba32_camera_image_model --strip docs/video_temporal_strip.png
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter

import numpy as np
import torch

from facegen.clips import sample_clips
from facegen.config import resolved_sampler
from facegen.pipeline import FacePipeline
from facegen.utils.hardware import describe_cpu
from facegen.utils.images import grid, save_png

REACH = 4


def levels(clips: torch.Tensor) -> np.ndarray:
    return ((clips.clamp(-1, 1) + 1) * 127.5).numpy().astype(np.float64)


def best_translation(a: np.ndarray, b: np.ndarray) -> tuple[tuple[int, int], float, float]:
    """(dy, dx) with b[y, x] ~ a[y + dy, x + dx] on the interior; its error and the error without moving."""
    r, h, w = REACH, a.shape[-2], a.shape[-1]
    inner = b[..., r : h - r, r : w - r]
    errors = {
        (dy, dx): np.abs(a[..., r + dy : h - r + dy, r + dx : w - r + dx] - inner).mean()
        for dy in range(-r, r + 1)
        for dx in range(-r, r + 1)
    }
    best = min(errors, key=errors.get)
    return best, errors[best], errors[(0, 0)]


def clip_metrics(clip: np.ndarray) -> dict[str, float]:
    pairs = [best_translation(clip[k], clip[k + 1]) for k in range(len(clip) - 1)]
    shifts = [p[0] for p in pairs]
    common = Counter(shifts).most_common(1)[0][0]
    drift = [best_translation(clip[0], clip[k])[1] for k in range(1, len(clip))]
    return {
        "flicker": np.abs(clip[2:] - 2 * clip[1:-1] + clip[:-2]).mean(),
        "change": np.abs(clip[1:] - clip[:-1]).mean(),
        "shift": float(np.mean([np.hypot(*s) for s in shifts])),
        "steady": float(np.mean([s == common for s in shifts])),
        "explained": float(np.mean([p[1] / max(p[2], 1e-9) for p in pairs])),
        "drift": float(np.mean(drift)),
    }


def summary(clips: torch.Tensor) -> dict[str, float]:
    rows = [clip_metrics(c) for c in levels(clips)]
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


@torch.no_grad()
def image_clips(pipe: FacePipeline, noise: torch.Tensor, steps: int) -> torch.Tensor:
    """The image model on every frame's noise: [N, T, ...] -> frames [N, T, 3, S, S]."""
    flat = noise.flatten(0, 1)
    frames = pipe.objective.sample(pipe.net, flat, resolved_sampler(pipe.config), steps)
    return pipe.autoencoder.decode(frames.float()).clamp(-1, 1).unflatten(0, noise.shape[:2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, help="the video run (or checkpoint)")
    parser.add_argument("--image", required=True, help="the image model folder it started from")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strip", help="write a PNG: real, temporal, image, shared rows for two clips")
    args = parser.parse_args()

    video = FacePipeline.from_checkpoint(args.video, device="cpu")
    image = FacePipeline.from_pretrained(args.image, device="cpu")
    frames = video.config.video.frames
    shape = (args.clips, frames, *video.latent_shape)
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(args.seed))  # what sample_clips draws

    started = time.perf_counter()
    temporal = sample_clips(video, args.clips, seed=args.seed, steps=args.steps, batch_size=args.clips, progress=False)
    temporal_s = (time.perf_counter() - started) / args.clips
    started = time.perf_counter()
    independent = image_clips(image, noise, args.steps)
    image_s = (time.perf_counter() - started) / args.clips
    shared = image_clips(image, noise[:, :1].expand_as(noise).contiguous(), args.steps)

    from facegen.builders import clips_from_config

    real = clips_from_config(video.config)
    real_clips = real.batch(np.arange(args.clips))["image"]

    print(f"{describe_cpu()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(
        f"{args.clips} clips of {frames} frames, {args.steps} {resolved_sampler(video.config)} steps, seed {args.seed}"
    )
    header = ["flicker", "change", "shift", "steady", "explained", "drift"]
    print(f"{'clips':<30}" + "".join(f"{h:>10}" for h in header))
    for name, clips in [
        ("real camera-motion clips", real_clips),
        ("temporal (video model)", temporal),
        ("image, independent noise", independent),
        ("image, shared noise", shared),
    ]:
        values = summary(clips)
        print(f"{name:<30}" + "".join(f"{values[h]:>10.3f}" for h in header))
    print(f"seconds per clip: temporal {temporal_s:.2f}, image per frame {image_s:.2f}")
    params = sum(p.numel() for p in video.net.parameters())
    temporal_params = sum(p.numel() for p in video.net.temporal_parameters())
    print(f"parameters: {params / 1e6:.2f}M, of which temporal {temporal_params / 1e6:.2f}M")
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    alphas = [video.net.image.get_submodule(n).mixer.alpha.item() for n in video.net.site_names]
    print(f"alpha (spatial weight) per temporal layer: {' '.join(f'{a:.2f}' for a in alphas)}")
    if args.strip:
        rows = [c[i] for i in range(2) for c in (real_clips, temporal, independent, shared)]
        save_png(grid(torch.cat(rows), nrow=frames, padding=1), args.strip)
        print(f"strip: {args.strip} (per clip: real, temporal, image independent, image shared; frames left to right)")


if __name__ == "__main__":
    main()
