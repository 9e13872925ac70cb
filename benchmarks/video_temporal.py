"""Temporal layers against the image model they wrap, on the camera-motion task (docs/VIDEO.md, "Temporal layers").

Clips from one noise tensor [N, T, C, H, W] (the video model's prior: independent frames, or correlated by
``video.noise_correlation``, moving with ``video.noise_shift``) made three ways: the **temporal** video model; the
**image** model per frame on the same noise (what the untrained video model makes); the image model with
**shared** noise (frame 0's noise for every frame); all with the video model's sampler, steps and guidance, and
for an attribute-conditioned model the attributes of the real photos below (unconditional otherwise). The
camera-motion clips of real photos it trained on are measured the same way as a reference.

Per clip, in 8-bit levels on frames area-averaged to 32x32 (the pixel metrics of the first, 32 px demo):
  flicker   mean |x[k+1] - 2 x[k] + x[k-1]|   (0 for motion at constant speed)
  change    mean |x[k+1] - x[k]|
  shift     the integer translation (|dx|, |dy| <= 4 at 32 px) best matching consecutive frames, in pixels at 32 px;
            "steady": the share of pairs whose shift is the clip's most common one; "explained": error after that
            shift / error without it
  drift     frame k against frame 0 after the best translation, mean over k: a pixel proxy of identity over frames
  identity  (64 px and more, with the faces extra) dlib's face descriptor distance between consecutive frames and
            between the first and last frame (same person under 0.6), and the share of frames with a face detected

With ``--i2v N``, image-to-video from the first frames of N camera-motion clips of CelebA **test** photos (never
trained on): each clip continued by the video model (``sample_clips(first_frame=...)``), scored by PSNR against
the true clip's frames 1..T-1, next to "static" (frame 0 held still: what a model that learned no motion gets).

    OMP_NUM_THREADS=1 python benchmarks/video_temporal.py --video runs/celeba32_camera_video \
        --image runs/celeba32_camera_image_model --steps 10 --strip docs/video_temporal_strip.png
    OMP_NUM_THREADS=1 python benchmarks/video_temporal.py --video ~/facegen-runs/video/faces128_camera_video \
        --image faces128 --clips 12 --strip docs/video_temporal_faces128_strip.jpg
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from facegen.autoencoders import decode_clips
from facegen.builders import clips_from_config
from facegen.clips import sample_clips
from facegen.config import resolved_sampler
from facegen.data.clips import ClipCache
from facegen.pipeline import FacePipeline
from facegen.utils.hardware import autocast_dtype, describe_cpu, resolve_precision
from facegen.utils.images import grid, to_pil

REACH = 4
METRIC_SIZE = 32


def levels(clips: torch.Tensor) -> np.ndarray:
    """Frames [N, T, 3, S, S] in [-1, 1] -> 8-bit levels, area-averaged to METRIC_SIZE."""
    frames = F.adaptive_avg_pool2d(clips.flatten(0, 1).float(), METRIC_SIZE).unflatten(0, clips.shape[:2])
    return ((frames.clamp(-1, 1) + 1) * 127.5).numpy().astype(np.float64)


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


def identity_summary(clips: torch.Tensor) -> dict[str, float] | None:
    """dlib descriptor distances: consecutive frames and first-to-last (mean over clips); None without dlib."""
    from facegen.faces.identity import FaceIdentity

    try:
        meter = FaceIdentity()
    except ImportError:
        return None
    embeddings, found = meter.embed(clips.flatten(0, 1))
    embeddings = embeddings.unflatten(0, clips.shape[:2])
    return {
        "consecutive": meter.distance(embeddings[:, 1:], embeddings[:, :-1]).mean().item(),
        "first-last": meter.distance(embeddings[:, 0], embeddings[:, -1]).mean().item(),
        "found": found.float().mean().item(),
    }


@torch.no_grad()
def image_clips(pipe: FacePipeline, noise: torch.Tensor, steps: int | None, attributes: torch.Tensor | None):
    """The image model on every frame's noise: [N, T, ...] -> frames [N, T, 3, S, S], sampled as sample_clips
    samples (the config's sampler and guidance, autocast); ``attributes`` [N, 40] per clip, or None."""
    steps, guidance = pipe.sampling_settings(steps)
    flat = noise.flatten(0, 1)
    per_frame = None if attributes is None else attributes.repeat_interleave(noise.shape[1], dim=0)
    cond = pipe.condition(per_frame, len(flat))
    dtype = autocast_dtype(resolve_precision("auto", pipe.device))
    with torch.autocast(pipe.device.type, dtype=dtype, enabled=dtype is not None):
        frames = pipe.objective.sample(
            pipe.net, flat, resolved_sampler(pipe.config), steps, cond=cond, guidance=guidance
        )
    return decode_clips(pipe.autoencoder, frames.unflatten(0, noise.shape[:2]))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean over frames of the PSNR (dB) between frames [..., 3, S, S] in [-1, 1]."""
    mse = (a.clamp(-1, 1) - b.clamp(-1, 1)).pow(2).flatten(-3).mean(-1) / 4  # in [0, 1] units
    return (10 * torch.log10(1 / mse.clamp_min(1e-10))).mean().item()


def image_to_video(video: FacePipeline, count: int, steps: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Continue the first frames of ``count`` test-photo clips (the run's camera motion) and score the rest."""
    vc = video.config.video
    test = replace(video.config, data=replace(video.config.data, split="test", max_images=count))
    real = ClipCache(clips_from_config(test).path).batch(np.arange(count))  # the pixel clips, also of a latent run
    attributes = real.get("attributes") if video.conditional else None
    made = torch.cat([
        sample_clips(video, 1, seed=seed + i, steps=steps, first_frame=clip[0], progress=False,
                     attributes=None if attributes is None else attributes[i : i + 1])
        for i, clip in enumerate(real["image"])
    ])  # fmt: skip
    static = real["image"][:, :1].expand_as(real["image"])
    given = "given clean (video.given_first_frame)" if vc.given_first_frame else "replacement along the ODE"
    print(f"image-to-video, {count} test photos, frame 0 {given}; PSNR (dB) of frames 1..{vc.frames - 1} vs truth")
    header = ["PSNR", "shift", "steady", "explained"]
    print(f"{'clips':<30}" + "".join(f"{h:>10}" for h in header))
    for name, clips in [("true clips", real["image"]), ("static (frame 0 held)", static), ("model", made)]:
        values = summary(clips) | {"PSNR": psnr(clips[:, 1:], real["image"][:, 1:])}
        print(f"{name:<30}" + "".join(f"{values[h]:>10.3f}" for h in header))
    return real["image"], made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, help="the video run (or checkpoint)")
    parser.add_argument("--image", required=True, help="the image model it started from (a folder or a name)")
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--steps", type=int, help="sampler steps (default: the video model's sampler.steps)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strip", help="a picture (.png, .jpg): real, temporal, image, shared rows for two clips")
    parser.add_argument("--i2v", type=int, default=0, help="image-to-video from N test photos' first frames")
    parser.add_argument("--i2v-strip", help="a picture: true and continued clips of the first four test photos")
    args = parser.parse_args()

    video = FacePipeline.from_checkpoint(args.video, device="cpu")
    image = FacePipeline.from_pretrained(args.image, device="cpu")
    frames = video.config.video.frames
    shape = (args.clips, frames, *video.latent_shape)
    noise = video.objective.noise(shape, generator=torch.Generator().manual_seed(args.seed))  # as sample_clips

    real = ClipCache(clips_from_config(video.config).path)  # the pixel clips, also of a latent run
    batch = real.batch(np.arange(args.clips))
    real_clips, attributes = batch["image"], batch.get("attributes") if video.conditional else None

    started = time.perf_counter()
    temporal = sample_clips(
        video,
        args.clips,
        seed=args.seed,
        steps=args.steps,
        attributes=attributes,
        batch_size=args.clips,
        progress=False,
    )
    temporal_s = (time.perf_counter() - started) / args.clips
    started = time.perf_counter()
    same_noise = image_clips(image, noise, args.steps, attributes)
    image_s = (time.perf_counter() - started) / args.clips
    shared = image_clips(image, noise[:, :1].expand_as(noise).contiguous(), args.steps, attributes)

    print(f"{describe_cpu()}; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    steps, guidance = video.sampling_settings(args.steps)
    sampler = resolved_sampler(video.config)
    conditions = "the real clips' attributes" if attributes is not None else "unconditional"
    print(f"{args.clips} clips of {frames} frames, {steps} {sampler} steps, cfg {guidance}")
    print(f"seed {args.seed}; conditions: {conditions}")
    header = ["flicker", "change", "shift", "steady", "explained", "drift"]
    sets = [
        ("real camera-motion clips", real_clips),
        ("temporal (video model)", temporal),
        (f"image, same noise (c={video.objective.frame_correlation:g})", same_noise),
        ("image, shared noise", shared),
    ]
    print(f"{'clips':<30}" + "".join(f"{h:>10}" for h in header))
    for name, clips in sets:
        values = summary(clips)
        print(f"{name:<30}" + "".join(f"{values[h]:>10.3f}" for h in header))
    if video.config.data.image_size >= 64 and identity_summary(real_clips[:1, :2]) is not None:
        print(f"{'dlib identity distance':<30}{'consecutive':>12}{'first-last':>12}{'face found':>12}")
        for name, clips in sets:
            values = identity_summary(clips)
            print(f"{name:<30}{values['consecutive']:>12.3f}{values['first-last']:>12.3f}{values['found']:>12.0%}")
    print(f"seconds per clip: temporal {temporal_s:.2f}, image per frame {image_s:.2f}")
    params = sum(p.numel() for p in video.net.parameters())
    temporal_params = sum(p.numel() for p in video.net.temporal_parameters())
    print(f"parameters: {params / 1e6:.2f}M, of which temporal {temporal_params / 1e6:.2f}M")
    print(f"peak resident memory of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    alphas = [video.net.image.get_submodule(n).mixer.alpha.item() for n in video.net.site_names]
    print(f"alpha (spatial weight) per temporal layer: {' '.join(f'{a:.2f}' for a in alphas)}")
    if args.i2v:
        truth, made = image_to_video(video, args.i2v, args.steps, args.seed)
        if args.i2v_strip:
            rows = [c[i] for i in range(min(4, args.i2v)) for c in (truth, made)]
            to_pil(grid(torch.cat(rows), nrow=frames, padding=1)).save(args.i2v_strip)
            print(f"i2v strip: {args.i2v_strip} (per photo: the true clip, the model's; frames left to right)")
    if args.strip:
        rows = [c[i] for i in range(2) for c in (real_clips, temporal, same_noise, shared)]
        to_pil(grid(torch.cat(rows), nrow=frames, padding=1)).save(args.strip)  # PNG or JPEG by the extension
        print(f"strip: {args.strip} (per clip: real, temporal, image same noise, image shared; frames left to right)")


if __name__ == "__main__":
    main()
