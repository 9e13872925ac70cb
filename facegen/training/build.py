"""Everything a training run needs, built from one config: ``build_training(cfg, accelerator) -> TrainingParts``.

Values that are only known once something is opened (the text encoder's width) are resolved first, into a new
config (:func:`resolve_config`), and everything is then built from that one: nothing writes into a config later.
The Trainer only loops over what this returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch
from accelerate import Accelerator

from facegen.builders import (
    autoencoder_from_config,
    cache_from_config,
    clips_from_config,
    encoded_cache_from_config,
    model_from_config,
    objective_from_config,
    text_encoder_from_config,
)
from facegen.conditioning.kinds import kind_of
from facegen.config import Config
from facegen.data.prefetch import Prefetcher
from facegen.models import count_parameters
from facegen.training.ema import EMA
from facegen.utils.hardware import compile_options


def warmup_cosine(warmup: int, total: int, min_ratio: float, schedule: str):
    """LR multiplier: linear warmup, then cosine decay to ``min_ratio`` (or constant)."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class BatchOrder:
    """Which cache rows each rank trains on at each step: a seeded permutation per epoch, split across ranks.

    The permutation lives on ``device`` (the cache's), so a step's indices never cross from the host.
    """

    def __init__(
        self, num_items: int, global_batch: int, rank: int, world: int, seed: int, device: torch.device | str = "cpu"
    ) -> None:
        if global_batch % world:
            raise ValueError(f"train.batch_size={global_batch} must be divisible by the {world} processes")
        if num_items < global_batch:
            raise ValueError(f"the dataset has {num_items} images, fewer than train.batch_size={global_batch}")
        self.n, self.global_batch, self.local = num_items, global_batch, global_batch // world
        self.rank, self.seed, self.device = rank, seed, torch.device(device)
        self.steps_per_epoch = num_items // global_batch  # drop the ragged tail, as DataLoader(drop_last)
        self._epoch, self._perm = -1, None

    def indices(self, step: int) -> torch.Tensor:
        epoch, within = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            permutation = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._perm = torch.from_numpy(permutation).to(self.device)
        start = within * self.global_batch + self.rank * self.local
        return self._perm[start : start + self.local].sort().values  # sorted reads are kinder to a memory map


def step_seed(seed: int, step: int, rank: int, stream: int = 0) -> int:
    """The seed of one step's random draws; ``stream`` > 0 names an independent stream (the flips)."""
    return int(np.random.SeedSequence([seed, step, rank, *([stream] if stream else [])]).generate_state(1)[0])


FLIP_STREAM = 1


@dataclass
class BatchPlan:
    """The rows and mirror flags of each step: a pure function of the step (a prefetch thread runs it ahead), so
    the flips come from their own seeded generator, not the global RNG."""

    order: BatchOrder
    seed: int
    rank: int
    flip: bool

    def __call__(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        indices = self.order.indices(step)
        if not self.flip:
            return indices, None
        seed = step_seed(self.seed, step, self.rank, FLIP_STREAM)
        # drawn on the CPU whatever the cache's device: CPU and CUDA generators differ, and where the cache lives
        # depends on free memory at start-up, so a resume elsewhere must still draw the same flips
        flip = torch.rand(len(indices), generator=torch.Generator().manual_seed(seed)) < 0.5
        return indices, flip.to(indices.device, non_blocking=True)


def optimizer_options(device: torch.device) -> dict:
    """Fused AdamW on CUDA: one kernel for all parameters instead of a loop of small ones per step."""
    return {"fused": True} if device.type == "cuda" else {}


@dataclass
class TrainingParts:
    """What the loop trains: ``model`` and ``optimizer`` as accelerate prepared them, ``unwrapped`` the model
    itself; ``cfg`` is the resolved config (saved with the run)."""

    cfg: Config
    autoencoder: Any
    data: Any  # ImageCache or EncodedCache: both serve batch(indices, flip)
    plan: BatchPlan
    prefetcher: Prefetcher | None
    model: torch.nn.Module
    unwrapped: torch.nn.Module
    ema: EMA
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    objective: Any
    loss_fn: Callable
    num_params: int
    memory_format: torch.memory_format


def resolve_config(cfg: Config, text_encoder=None) -> Config:
    """A new config with what opening the parts reveals filled in: the text encoder's width."""
    if text_encoder is None or cfg.conditioning.text_dim == text_encoder.dim:
        return cfg
    return replace(cfg, conditioning=replace(cfg.conditioning, text_dim=text_encoder.dim))


def open_data(cfg: Config, device: torch.device, autoencoder, text_encoder):
    """The uint8 image cache, or for latent / text training the encoded cache built from it; a video run's clips."""
    if cfg.video.frames is not None:
        return clips_from_config(cfg, autoencoder)
    if cfg.autoencoder.name == "identity" and text_encoder is None:
        return cache_from_config(cfg)
    return encoded_cache_from_config(cfg, device, autoencoder, text_encoder)


def build_training(cfg: Config, accelerator: Accelerator, init_weights: Callable | None = None) -> TrainingParts:
    """The parts of a run; ``init_weights(model) -> source meta`` loads ``train.init_from`` (new runs only)."""
    acc, tc = accelerator, cfg.train
    autoencoder = autoencoder_from_config(cfg, device=acc.device)
    kind = kind_of(cfg)
    text = text_encoder_from_config(cfg, acc.device) if kind.uses_text_encoder else None
    cfg = resolve_config(cfg, text)
    with acc.main_process_first():  # rank 0 builds the caches; the others then open them
        data = open_data(cfg, acc.device, autoencoder, text)
    kind.check_data(data, cfg.data.dataset)
    on_device = data.to(acc.device)
    order = BatchOrder(len(data), tc.batch_size, acc.process_index, acc.num_processes, cfg.seed, data.device)
    plan = BatchPlan(order, cfg.seed, acc.process_index, cfg.data.flip)
    prefetcher = None
    if on_device:
        acc.print(f"data on {acc.device}: {data.nbytes() / 2**20:.0f} MiB")
    elif acc.device.type == "cuda":  # too big for the device: pinned copies prepared ahead on a thread
        prefetcher = Prefetcher(data, plan, acc.device)
        acc.print(f"data ({data.nbytes() / 2**20:.0f} MiB) stays on the host, prefetched to {acc.device}")
    if order.local % tc.grad_accum:
        raise ValueError(
            f"train.grad_accum={tc.grad_accum} must divide the per-process batch {order.local} "
            f"(train.batch_size={tc.batch_size} over {acc.num_processes} processes)"
        )

    torch.manual_seed(cfg.seed)  # identical initial weights on every rank
    model = model_from_config(cfg, autoencoder)
    cuda = acc.device.type == "cuda"
    memory_format = torch.channels_last if cuda and model.channels_last else torch.contiguous_format
    init_meta = init_weights(model) if init_weights else None
    model.to(acc.device, memory_format=memory_format)  # before the optimizer: fused AdamW checks devices
    ema = EMA(model, tc.ema_decay)
    if init_meta:  # the source's weights are already an average: keep averaging at full decay from the start
        ema.num_updates = int(init_meta.get("step") or 0)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],  # a video model's frozen image weights stay out
        lr=tc.lr,
        betas=(tc.beta1, tc.beta2),
        weight_decay=tc.weight_decay,
        **optimizer_options(acc.device),
    )
    # Stepped by the loop once per optimizer step (accelerate would step a prepared scheduler once per process).
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(tc.warmup_steps, tc.max_steps, tc.min_lr / tc.lr, tc.lr_schedule)
    )
    prepared, optimizer = acc.prepare(model, optimizer)
    objective = objective_from_config(cfg)
    loss_fn = compiled_loss(objective, prepared, acc) if tc.compile else objective.loss
    return TrainingParts(
        cfg, autoencoder, data, plan, prefetcher, prepared, model, ema, optimizer, scheduler, objective, loss_fn,
        count_parameters(model), memory_format,
    )  # fmt: skip


def compiled_loss(objective, model: torch.nn.Module, accelerator: Accelerator) -> Callable:
    """``objective.loss`` compiled: one process compiles the whole forward (noise and time draws, the net,
    the MSE) as one graph; under DDP the wrapped net is compiled alone, so DDP's bucketing splits the graph."""
    options = compile_options(accelerator.device)
    if accelerator.num_processes == 1:  # the model is not wrapped
        return torch.compile(objective.loss, **options)
    compiled_model = torch.compile(model, **options)
    return lambda model, images, cond, **kw: objective.loss(compiled_model, images, cond, **kw)
