"""What the trainer calls besides training, every ``every`` steps: the interface, and the sample grid it logs.

Evaluation is a callback too, but it scores through the pipeline, so it lives in ``facegen.run``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch

from facegen.autoencoders import decode_clips, latent_shape
from facegen.config import resolved_sampler
from facegen.objectives.base import guidance_options
from facegen.utils.images import grid, save_gif, save_picture, trajectory_frames, trajectory_strip

if TYPE_CHECKING:
    from facegen.training.trainer import TrainState


class Callback(Protocol):
    every: int  # steps between calls; 0 = never
    at_end: bool  # also called when training stops, unless it was just called at that step

    def __call__(self, state: TrainState) -> None: ...


class SampleLogger:
    """EMA samples from fixed noise (and, for conditional models, the conditions of the first training faces), so
    grids of successive steps are comparable: a grid and a noise-to-face trajectory, to disk and TensorBoard."""

    at_end = True

    def __init__(self, every: int, num_images: int, seed: int) -> None:
        self.every, self.num_images, self.seed = every, num_images, seed
        self.noise: torch.Tensor | None = None
        self.cond = None

    def _fix_inputs(self, state: TrainState) -> None:
        frames = state.cfg.video.frames  # a video model: clips of that many frames
        shape = (min(self.num_images, state.num_faces), *([frames] if frames else []))
        shape += latent_shape(state.autoencoder, state.cfg.data.image_size)
        self.noise = torch.randn(shape, generator=torch.Generator().manual_seed(self.seed + 1))
        self.cond = state.first_conditions(len(self.noise))

    @torch.no_grad()
    def __call__(self, state: TrainState) -> None:
        if not state.is_main:
            return
        if self.noise is None:
            self._fix_inputs(state)
        cfg = state.cfg
        if cfg.video.frames:
            self._log_clips(state)
            return
        with state.autocast():
            _, states = state.objective.sample(
                state.ema,
                self.noise.to(state.device),
                resolved_sampler(cfg),
                cfg.sampler.steps,
                cond=self.cond,
                guidance=cfg.sampler.cfg_scale,
                return_trajectory=True,
                **guidance_options(cfg.sampler.guidance_interval),
            )
        states = [state.autoencoder.decode(s.float()).clamp(-1, 1).cpu() for s in states]
        image, name = grid(states[-1]), f"step_{state.step:08d}"
        save_picture(image, state.run_dir / "samples" / f"{name}.png")
        save_gif(trajectory_frames(states), state.run_dir / "gifs" / f"{name}.gif")
        state.logger.image(state.step, "samples/ema", image)
        state.logger.image(state.step, "samples/trajectory", trajectory_strip(states))

    def _log_clips(self, state: TrainState) -> None:
        """A video model's samples: one clip per row, its frames left to right; and a GIF of them playing."""
        cfg = state.cfg
        with state.autocast():
            clips = state.objective.sample(
                state.ema, self.noise.to(state.device), resolved_sampler(cfg), cfg.sampler.steps, cond=self.cond,
                guidance=cfg.sampler.cfg_scale,
            )  # fmt: skip
        clips = decode_clips(state.autoencoder, clips).cpu()
        image, name = grid(clips.flatten(0, 1), nrow=clips.shape[1]), f"step_{state.step:08d}"
        save_picture(image, state.run_dir / "samples" / f"{name}.png")
        save_gif([grid(clips[:, k]) for k in range(clips.shape[1])], state.run_dir / "gifs" / f"{name}.gif", 125, 125)
        state.logger.image(state.step, "samples/ema", image)
