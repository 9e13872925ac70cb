"""The user-facing generator: one checkpoint -> model + objective + sampler, ready to make faces.

    pipe = FacePipeline.from_checkpoint("runs/celeba32_tiny")      # best, else latest; EMA weights
    images = pipe.generate(num_samples=16, steps=50, sampler="heun", seed=0)   # [-1, 1], [16, 3, H, W]
    pipe.save(images, "out/")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from facegen.builders import model_from_config, objective_from_config
from facegen.conditioning import Condition
from facegen.config import Config
from facegen.objectives import RectifiedFlow
from facegen.samplers import sample_ode
from facegen.training.checkpoint import load_checkpoint
from facegen.utils.images import grid, save_gif, save_png, trajectory_frames


def sample(
    net: nn.Module,
    objective: RectifiedFlow,
    noise: torch.Tensor,
    sampler: str = "euler",
    steps: int = 50,
    cond: Condition | None = None,
    return_trajectory: bool = False,
    rtol: float = 1e-4,
    atol: float = 1e-4,
    progress: bool = False,
):
    """Noise -> images through the objective's field and an ODE sampler (the one sampling path)."""
    field = objective.field(net, cond)
    return sample_ode(field, noise, sampler, steps, rtol, atol, return_trajectory=return_trajectory, progress=progress)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class FacePipeline:
    net: nn.Module
    objective: RectifiedFlow
    config: Config
    device: torch.device
    checkpoint: Path | None = None

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device | None = None, use_ema: bool = True
    ) -> "FacePipeline":
        """``path``: a checkpoint folder, or a run folder (its best checkpoint, else its latest)."""
        ckpt = load_checkpoint(path)
        net = model_from_config(ckpt.config)
        net.load_state_dict(ckpt.weights(ema=use_ema))
        device = torch.device(device) if device is not None else default_device()
        net.to(device).eval().requires_grad_(False)
        return cls(net, objective_from_config(ckpt.config), ckpt.config, device, ckpt.path)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        size = self.config.data.image_size
        return (3, size, size)

    @torch.no_grad()
    def generate(
        self,
        num_samples: int = 16,
        steps: int | None = None,
        sampler: str | None = None,
        seed: int = 0,
        batch_size: int = 64,
        return_trajectory: bool = False,
        progress: bool = True,
    ):
        """Images in [-1, 1]; with ``return_trajectory`` also the list of states from noise to image."""
        steps = steps or self.config.sampler.steps
        sampler = sampler or self.config.sampler.name
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(num_samples, *self.image_shape, generator=generator)  # CPU: same faces on any device
        images, trajectories = [], []
        autocast = torch.autocast("cuda", torch.bfloat16, enabled=self.device.type == "cuda")
        for start in tqdm(range(0, num_samples, batch_size), desc="generating", disable=not progress):
            chunk = noise[start : start + batch_size].to(self.device)
            with autocast:
                out = sample(
                    self.net, self.objective, chunk, sampler, steps, None, return_trajectory,
                    self.config.sampler.rtol, self.config.sampler.atol,
                )
            final, states = out if return_trajectory else (out, None)
            images.append(final.float().clamp(-1, 1).cpu())
            if states is not None:
                trajectories.append([s.float().clamp(-1, 1).cpu() for s in states])
        images = torch.cat(images)
        if not return_trajectory:
            return images
        return images, [torch.cat(parts) for parts in zip(*trajectories)]

    @staticmethod
    def save(images: torch.Tensor, out_dir: str | Path, trajectory: list[torch.Tensor] | None = None) -> Path:
        """``out_dir/grid.png``, one ``NNNN.png`` per image, and ``trajectory.gif`` when a trajectory is given."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        save_png(grid(images), out_dir / "grid.png")
        for i, image in enumerate(images):
            save_png(image, out_dir / f"{i:04d}.png")
        if trajectory is not None:
            save_gif(trajectory_frames(trajectory), out_dir / "trajectory.gif")
        return out_dir
