"""Clips from a video model (``video.frames`` in its config): ``facegen sample --frames T``.

clips = sample_clips(pipe, num_clips=4, frames=16, seed=0)                   # [N, T, 3, S, S] in [-1, 1]
clips = sample_clips(pipe, num_clips=2, first_frame="photo.jpg")             # image-to-video
save_clips(clips, "out/", fps=8, suffix=".mp4")                               # clip_000.mp4 ... and clips.png

Image-to-video is **replacement along the ODE** (rectified flow): frame 0 is held on the straight path from its
noise to the encoded photo (its velocity is replaced by the exact ``photo - noise``), so it ends on the photo's
encoding while the other frames are generated around it; the temporal layers see it at every step. It needs no
training of its own, and is only as good as the temporal layers' coupling of frames.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from facegen.autoencoders import decode_clips
from facegen.builders import model_from_config
from facegen.config import resolved_sampler
from facegen.data.transforms import load_face
from facegen.pipeline import FacePipeline, checked
from facegen.utils.bounds import Bound
from facegen.utils.hardware import autocast_dtype, resolve_precision
from facegen.utils.images import grid, save_picture, to_uint8_hwc
from facegen.utils.video import write_video

MAX_FRAMES = 64


def is_video(pipe: FacePipeline) -> bool:
    return pipe.config.video.frames is not None


def with_frames(pipe: FacePipeline, frames: int) -> FacePipeline:
    """The same video model built for clips of ``frames`` frames (its weights do not depend on the count)."""
    if not is_video(pipe):
        raise ValueError(
            f"{pipe.checkpoint}: an image model (its config has no video.frames); clips need a video model"
        )
    frames = checked("frames", frames, int, Bound(2, MAX_FRAMES))
    if frames == pipe.config.video.frames:
        return pipe
    config = replace(pipe.config, video=replace(pipe.config.video, frames=frames))
    net = model_from_config(config, pipe.autoencoder)
    net.load_state_dict(pipe.net.state_dict())
    return replace(pipe, net=net.to(pipe.device).eval().requires_grad_(False), config=config)


class FirstFrameFixed(nn.Module):
    """``net`` with frame 0 of every clip held on the straight path from ``noise`` [B, C, h, w] to ``target``
    [1 or B, C, h, w]: its prediction is replaced by what that path asks for (velocity ``target - noise``, or the
    clean ``target``). Guidance calls it on the clips twice over, [x, x]: the noise repeats to match."""

    def __init__(self, net: nn.Module, target: torch.Tensor, noise: torch.Tensor, prediction: str) -> None:
        super().__init__()
        self.net, self.target, self.noise, self.prediction = net, target, noise, prediction

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        out = self.net(x, t, cond).clone()
        noise = self.noise.repeat(len(x) // len(self.noise), 1, 1, 1)
        target = self.target.expand_as(noise)
        out[:, 0] = target - noise if self.prediction == "velocity" else target
        return out


class FirstFrameGiven(nn.Module):
    """``net`` (trained with ``video.given_first_frame``) with frame 0 of every clip given clean: ``target``
    [1 or B, C, h, w] at t = 1, as in training, whatever the sampler holds there. Its output for frame 0 is not the
    net's (velocity 0, or the clean ``target``: nothing untrained enters the state); ``sample_clips`` sets frame 0
    to the target at the end."""

    def __init__(self, net: nn.Module, target: torch.Tensor, prediction: str) -> None:
        super().__init__()
        self.net, self.target, self.prediction = net, target, prediction

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        target = self.target.expand(len(x), *self.target.shape[1:]).to(x.dtype)
        x = torch.cat([target[:, None], x[:, 1:]], dim=1)
        times = t[:, None].repeat(1, x.shape[1])
        times[:, 0] = 1
        out = self.net(x, times, cond).clone()
        out[:, 0] = 0 if self.prediction == "velocity" else target
        return out


def sample_clips(
    pipe: FacePipeline,
    num_clips: int = 4,
    frames: int | None = None,
    seed: int = 0,
    steps: int | None = None,
    sampler: str | None = None,
    cfg_scale: float | None = None,
    attributes=None,
    first_frame=None,
    batch_size: int = 4,
    progress: bool = True,
) -> torch.Tensor:
    """Clips [N, T, 3, S, S] in [-1, 1]; ``first_frame`` (a photo, cropped as CelebA, or a [3, S, S] frame in
    [-1, 1]): every clip starts on it, given clean to a model trained so (``video.given_first_frame``), else held
    on its straight path (replacement along the ODE)."""
    pipe = with_frames(pipe, frames or pipe.config.video.frames)
    num_clips = checked("num_clips", num_clips, int, Bound(1))
    batch_size = checked("batch_size", batch_size, int, Bound(1))
    steps, guidance = pipe.sampling_settings(steps, cfg_scale)
    method = resolved_sampler(pipe.config, sampler)
    prediction = getattr(pipe.objective, "prediction", None)
    if first_frame is not None and pipe.config.objective.name != "rectified_flow":
        objective = pipe.config.objective.name
        raise ValueError(f"--first-frame: image-to-video follows the rectified-flow ODE; this model is {objective}")
    frames = pipe.config.video.frames
    generator = torch.Generator().manual_seed(checked("seed", seed, int, Bound(0, 2**63 - 1)))
    noise = pipe.objective.noise((num_clips, frames, *pipe.latent_shape), generator=generator)
    cond = pipe.condition(attributes, num_clips)
    start_latent = None
    if first_frame is not None:
        face = load_face(first_frame, pipe.config.data.image_size).to(pipe.device)
        start_latent = pipe.autoencoder.encode(face).float()
    dtype = autocast_dtype(resolve_precision("auto", pipe.device))
    out = []
    with torch.no_grad(), tqdm(total=num_clips, desc="clips", unit="clip", disable=not progress) as bar:
        for begin in range(0, num_clips, batch_size):
            chunk = noise[begin : begin + batch_size].to(pipe.device)
            part = None if cond is None else cond.map(lambda v: v[begin : begin + batch_size].to(pipe.device))
            net = pipe.net
            if start_latent is not None and pipe.config.video.given_first_frame:
                net = FirstFrameGiven(pipe.net, start_latent, prediction)
            elif start_latent is not None:  # replacement along the ODE: any video model, no training of its own
                net = FirstFrameFixed(pipe.net, start_latent, chunk[:, 0], prediction)
            with torch.autocast(pipe.device.type, dtype=dtype, enabled=dtype is not None):
                clips = pipe.objective.sample(net, chunk, method, steps, cond=part, guidance=guidance)
            if start_latent is not None:
                clips[:, 0] = start_latent  # the ODE ends there up to rounding: make it exact
            out.append(decode_clips(pipe.autoencoder, clips).cpu())
            bar.update(len(chunk))
    return torch.cat(out)


def save_clips(clips: torch.Tensor, folder: str | Path, fps: int, suffix: str = ".mp4", overwrite: bool = False):
    """``clip_000.mp4`` ... (one video per clip) and ``clips.png`` (a row of frames per clip) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, clip in enumerate(clips):
        write_video(list(to_uint8_hwc(clip).numpy()), folder / f"clip_{index:03d}{suffix}", fps, overwrite)
    save_picture(grid(clips.flatten(0, 1), nrow=clips.shape[1]), folder / "clips.png")
    return folder
