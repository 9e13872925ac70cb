"""facegen's training step against the plain diffusers loop, on the same UNet, data and batch, in one process.

    python benchmarks/vs_diffusers.py [--data memory|jpeg] [--image-size 32] [--batch-size 32] [--rounds 3]
        [--steps 10] [key=value ...]

The plain loop is diffusers' ``examples/unconditional_image_generation/train_unconditional.py`` reduced to its
step: a DataLoader (``num_workers=0``, the example's default) over PIL faces through the example's torchvision
transforms (resize, centre crop, random flip, to-tensor, normalise), ``DDPMScheduler.add_noise``, ``UNet2DModel``,
MSE on the noise, ``accelerator.backward``, gradient clipping at 1, AdamW (its betas, weight decay and eps), the
cosine LR schedule, ``EMAModel`` (``--use_ema``: warm-up, power 3/4) and the loss logged with ``.item()``.

facegen's side is ``Trainer._train_step`` with ``model.name=unet`` (the same ``UNet2DModel`` inside, with the
plain loop's initial weights), ``objective.name=ddpm`` (eps), the same uint8 faces in an ``ImageCache``, the same
batch and the same mixed precision (facegen's ``auto`` choice, given to both). The two alternate in rounds, so a
busy machine slows both alike; images/s is over the timed steps of every round. Prints one JSON object.

``--data memory`` (default) hands both sides the same decoded faces held in memory (random pixels): the model-bound
comparison. ``--data jpeg`` is the loops as users run them on CelebA (``../shared/data/celeba``, train split): the
plain loop opens and decodes each JPEG per item, as the example's ``imagefolder`` dataset does, and facegen trains
from its uint8 cache, built once from the same files beforehand (that one-time build is reported, not timed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import DDPMScheduler, UNet2DModel
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from facegen.config import load_config
from facegen.data.cache import ImageCache
from facegen.data.celeba import CelebA
from facegen.training.trainer import Trainer
from facegen.utils.hardware import describe_cpu

CELEBA = "../shared/data/celeba"


class Faces(Dataset):
    """The example's dataset: PIL images (in memory, or JPEG files opened per item) through its augmentations."""

    def __init__(self, images: list, size: int) -> None:
        self.images = images
        self.augment = transforms.Compose(
            [
                transforms.Resize(size, interpolation=transforms.InterpolationMode.BILINEAR),
                transforms.CenterCrop(size),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                transforms.Normalize([0.5], [0.5]),
            ]
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict:
        image = self.images[index]
        if isinstance(image, Path):
            image = Image.open(image).convert("RGB")
        return {"input": self.augment(image)}


class PlainLoop:
    """The example's training step, state and all."""

    def __init__(self, unet: UNet2DModel, images: list, batch_size: int, precision: str, steps: int) -> None:
        self.accelerator = Accelerator(
            mixed_precision={"fp32": "no"}.get(precision, precision), cpu=not torch.cuda.is_available()
        )
        model = UNet2DModel.from_config(unet.config)
        model.load_state_dict(unet.state_dict())
        self.ema = EMAModel(model.parameters(), decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=3 / 4)
        self.noise_scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear")
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.95, 0.999), weight_decay=1e-6, eps=1e-8)
        loader = DataLoader(Faces(images, unet.config.sample_size), batch_size=batch_size, shuffle=True, drop_last=True)
        lr_scheduler = get_scheduler("cosine", optimizer, num_warmup_steps=500, num_training_steps=steps)
        self.model, self.optimizer, self.loader, self.lr_scheduler = self.accelerator.prepare(
            model, optimizer, loader, lr_scheduler
        )
        self.batches = iter(self.loader)

    def step(self) -> float:
        batch = next(self.batches, None)
        if batch is None:  # a new epoch
            self.batches = iter(self.loader)
            batch = next(self.batches)
        clean = batch["input"]
        noise = torch.randn(clean.shape, device=clean.device)
        timesteps = torch.randint(0, 1000, (clean.shape[0],), device=clean.device).long()
        noisy = self.noise_scheduler.add_noise(clean, noise, timesteps)
        with self.accelerator.autocast():
            output = self.model(noisy, timesteps).sample
        loss = F.mse_loss(output.float(), noise.float())
        self.accelerator.backward(loss)
        self.accelerator.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad()
        self.ema.step(self.model.parameters())
        return loss.detach().item()


class FacegenSide(Trainer):
    """facegen's Trainer reading the benchmark's faces from an in-memory ImageCache (``pixels``), or from its own
    cache of the configured dataset (``pixels`` None)."""

    pixels: np.ndarray | None = None

    def _open_data(self):
        if self.pixels is None:
            return super()._open_data()
        return ImageCache(None, self.pixels, None, None, [], {})


def timed(step, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=["memory", "jpeg"], default="memory")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--num-images", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10, help="timed steps of each side per round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="facegen config overrides (model.*)")
    args = parser.parse_args()
    size = args.image_size
    pixels = images = None
    if args.data == "memory":
        pixels = np.random.default_rng(0).integers(0, 256, (args.num_images, 3, size, size), dtype=np.uint8)
        images = [Image.fromarray(p.transpose(1, 2, 0)) for p in pixels]
    total_steps = args.rounds * args.steps + args.warmup
    with tempfile.TemporaryDirectory() as out:
        settings = {
            "exp_name": "vs_diffusers",
            "output_dir": out,
            "data.image_size": size,
            "model.name": "unet",
            "model.size": "tiny",
            "objective.name": "ddpm",
            "train.batch_size": args.batch_size,
            "train.max_steps": total_steps,
            "train.lr": 1e-4,
            "train.warmup_steps": 500,
            "train.grad_clip": 1.0,
            "train.ema_decay": 0.9999,
            "train.log_every": 1_000_000,
            "train.sample_every": 0,
        }
        if args.data == "jpeg":
            celeba = CelebA(CELEBA, "train", size, max_images=args.num_images)
            images = [celeba.image_dir / name for name in celeba.filenames]
            settings.update({"data.root": CELEBA, "data.max_images": args.num_images, "data.cache_dir": out})
        cfg = load_config(None, [*(f"{k}={v}" for k, v in settings.items()), *args.overrides])
        FacegenSide.pixels = pixels
        built = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # the trainer's log lines: stdout is the JSON alone
            facegen = FacegenSide(cfg)
        built = time.perf_counter() - built
        plain = PlainLoop(facegen.unwrapped.unet, images, args.batch_size, facegen.precision, total_steps)

        def facegen_step() -> None:
            facegen._train_step()
            facegen.step += 1

        timed(plain.step, args.warmup)
        timed(facegen_step, args.warmup)
        seconds = {"plain": 0.0, "facegen": 0.0}
        for _ in range(args.rounds):
            seconds["plain"] += timed(plain.step, args.steps)
            seconds["facegen"] += timed(facegen_step, args.steps)
    images = args.rounds * args.steps * args.batch_size
    rates = {name: images / s for name, s in seconds.items()}
    print(
        json.dumps(
            {
                "model": f"UNet2DModel {list(facegen.unwrapped.unet.config.block_out_channels)}",
                "params_m": round(facegen.num_params / 1e6, 2),
                "image_size": size,
                "data": args.data,
                **({"facegen_setup_sec_incl_cache_build": round(built, 1)} if args.data == "jpeg" else {}),
                "batch_size": args.batch_size,
                "mixed_precision": facegen.precision,
                "timed_steps_each": args.rounds * args.steps,
                "plain_diffusers_images_per_sec": round(rates["plain"], 2),
                "facegen_images_per_sec": round(rates["facegen"], 2),
                "speedup": round(rates["facegen"] / rates["plain"], 3),
                "device": torch.cuda.get_device_name() if torch.cuda.is_available() else describe_cpu(),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
