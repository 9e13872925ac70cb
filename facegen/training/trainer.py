"""The training loop: cached faces -> objective loss -> AdamW + EMA, with checkpoints and logs. Sample grids and
evaluation come in as callbacks (``facegen.run`` wires them), so this package never imports the pipeline.

Single process, ``torchrun --nproc_per_node N`` and ``accelerate launch`` all go through accelerate (DDP).

Exact resume: the data order and flips are a pure function of (seed, step, rank) and every step reseeds the RNG
from (seed, step, rank), so a run stopped and resumed from a checkpoint draws the same batches, noise and times as an
uninterrupted one; on CPU in fp32 it logs the same losses.

On CUDA: the caches live on the device when they fit (a batch is a gather there; otherwise a thread prepares pinned
batches ahead and copies them without blocking), fused AdamW, autotuned cuDNN,
channels-last UNets, DDP gradients as views of its buckets. The CPU path keeps memory maps and the default AdamW.
"""

from __future__ import annotations

import contextlib
import math
import time
import weakref
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from tqdm.auto import tqdm

from facegen.builders import (
    autoencoder_from_config,
    cache_from_config,
    encoded_cache_from_config,
    model_from_config,
    objective_from_config,
)
from facegen.checkpoint import claim_run_dir, load_checkpoint, prune_checkpoints, save_checkpoint
from facegen.conditioning import Condition
from facegen.conditioning.attributes import hide_attributes
from facegen.conditioning.text import drop_text
from facegen.config import Config, save_config
from facegen.data.prefetch import Prefetcher
from facegen.models import count_parameters
from facegen.training.callbacks import Callback
from facegen.training.ema import EMA
from facegen.training.logging import RunLogger
from facegen.utils.hardware import compile_options, configure_cpu_threads, describe_cpu, resolve_precision
from facegen.utils.io import atomic_write_json, path_lock
from facegen.utils.signals import reworded


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


def ddp_options(grad_accum: int, compile: bool) -> DistributedDataParallelKwargs:
    """Gradients as views of DDP's buckets (no copy); a static graph (every step uses the same parameters, as
    tests/test_builders.py checks for every backbone) lets DDP skip its per-step search for unused ones. Not with
    micro-batches: static_graph with no_sync skips gradient all-reduces (pytorch/pytorch#187732, open); not with
    compile until a GPU run shows dynamo's DDP graph splitting works with it (reports differ: pytorch#109261)."""
    return DistributedDataParallelKwargs(gradient_as_bucket_view=True, static_graph=grad_accum == 1 and not compile)


def optimizer_options(device: torch.device) -> dict:
    """Fused AdamW on CUDA: one kernel for all parameters instead of a loop of small ones per step."""
    return {"fused": True} if device.type == "cuda" else {}


class Trainer:
    """``Trainer(cfg, resume, overwrite, callbacks).train(stop_at)``; ``callbacks`` run every ``callback.every``
    steps (sample grids, evaluation: see ``facegen.run``)."""

    def __init__(
        self, cfg: Config, resume: str | None = None, overwrite: bool = False, callbacks: tuple[Callback, ...] = ()
    ) -> None:
        self.cfg, self.callbacks = cfg, tuple(callbacks)
        tc = cfg.train
        device = "cuda" if torch.cuda.is_available() else "cpu"
        self.precision = resolve_precision(tc.mixed_precision, device)
        self.threads = configure_cpu_threads(tc.num_threads) if device == "cpu" else None
        self.accelerator = Accelerator(
            mixed_precision={"fp32": "no"}.get(self.precision, self.precision),
            cpu=device == "cpu",
            kwargs_handlers=[ddp_options(tc.grad_accum, tc.compile)],
        )
        acc = self.accelerator
        acc.print(
            f"precision {self.precision} (train.mixed_precision={tc.mixed_precision})"
            + (f", {self.threads} CPU thread(s); {describe_cpu()}" if self.threads else "")
        )
        if acc.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True  # the same shapes every step: autotuned convolutions pay off
        self.run_dir = cfg.run_dir
        # Every way into a run folder (facegen train, facegen.run.train, a Trainer made in Python) holds its lock
        # from before the folder is claimed until close() or the Trainer is collected: a second is refused instead of
        # interleaving (or deleting) the first's checkpoints and logs. The ranks of one job share it: rank 0 holds it.
        self._lock = contextlib.ExitStack()
        weakref.finalize(self, self._lock.close)
        if acc.is_main_process:
            self._lock.enter_context(path_lock(self.run_dir, "another training run"))
        try:
            self._build(resume, overwrite)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Let the run folder go: another Trainer may train there now."""
        self._lock.close()

    def _build(self, resume: str | None, overwrite: bool) -> None:
        cfg, tc, acc = self.cfg, self.cfg.train, self.accelerator
        self.ckpt_root = self.run_dir / "checkpoints"
        claim_run_dir(self.run_dir, resume, overwrite, writer=acc.is_main_process)  # before any work or write
        self.autoencoder = autoencoder_from_config(cfg, device=acc.device)
        with acc.main_process_first():  # rank 0 builds the caches; the others then open them
            self.data = self._open_data()
        if cfg.conditioning.type == "attributes" and self.data.attributes is None:
            raise ValueError(
                f"conditioning.type=attributes needs a dataset with attributes; {cfg.data.dataset} has none"
            )
        self.prefetcher = None
        if self.data.to(acc.device):
            acc.print(f"data on {acc.device}: {self.data.nbytes() / 2**20:.0f} MiB")
        elif acc.device.type == "cuda":  # too big for the device: pinned copies prepared ahead on a thread
            self.prefetcher = Prefetcher(self.data, self.plan, acc.device)
            acc.print(f"data ({self.data.nbytes() / 2**20:.0f} MiB) stays on the host, prefetched to {acc.device}")
        self.order = BatchOrder(
            len(self.data), tc.batch_size, acc.process_index, acc.num_processes, cfg.seed, self.data.device
        )
        if self.order.local % tc.grad_accum:
            raise ValueError(
                f"train.grad_accum={tc.grad_accum} must divide the per-process batch {self.order.local} "
                f"(train.batch_size={tc.batch_size} over {acc.num_processes} processes)"
            )

        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        model = model_from_config(cfg, self.autoencoder)
        cuda = acc.device.type == "cuda"
        self.memory_format = torch.channels_last if cuda and model.channels_last else torch.contiguous_format
        init_meta = self._init_from(model) if tc.init_from and not resume else None
        model.to(acc.device, memory_format=self.memory_format)  # before the optimizer: fused AdamW checks devices
        self.ema = EMA(model, tc.ema_decay)
        if init_meta:  # the source's weights are already an average: keep averaging at full decay from the start
            self.ema.num_updates = int(init_meta.get("step") or 0)
        optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=tc.lr,
            betas=(tc.beta1, tc.beta2),
            weight_decay=tc.weight_decay,
            **optimizer_options(acc.device),
        )
        # Stepped by us once per optimizer step (accelerate would step a prepared scheduler once per process).
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, warmup_cosine(tc.warmup_steps, tc.max_steps, tc.min_lr / tc.lr, tc.lr_schedule)
        )
        self.model, self.optimizer = acc.prepare(model, optimizer)
        self.objective = objective_from_config(cfg)
        self.loss_fn = self._compiled_loss() if tc.compile else self.objective.loss
        self.num_params = count_parameters(model)
        self.step = 0
        self._saved: tuple[int, Path | None] = (-1, None)  # (step, checkpoint) of the last save
        self.auxiliary_terms: dict[str, torch.Tensor] = {}  # the backbone's auxiliary loss terms, for the logs
        if resume:
            self._resume(resume)
        if acc.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.run_dir / "config.yaml")
            self.logger = RunLogger(self.run_dir, resume_step=self.step if resume else None)

    def _init_from(self, model: torch.nn.Module) -> dict:
        """Load ``train.init_from``'s weights into the freshly built model; returns the source's meta."""
        from facegen.pretrained import init_weights

        state, meta = init_weights(self.cfg)
        model.load_state_dict(state)
        self.accelerator.print(f"initialised from {self.cfg.train.init_from} (its step {meta.get('step')})")
        return meta

    def _compiled_loss(self):
        """``objective.loss`` compiled: one process compiles the whole forward (noise and time draws, the net,
        the MSE) as one graph; under DDP the wrapped net is compiled alone, so DDP's bucketing splits the graph."""
        options = compile_options(self.accelerator.device)
        if self.accelerator.num_processes == 1:  # the model is not wrapped
            return torch.compile(self.objective.loss, **options)
        compiled_model = torch.compile(self.model, **options)
        return lambda model, images, cond, **kw: self.objective.loss(compiled_model, images, cond, **kw)

    def plan(self, step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The rows and mirror flags of ``step``: a pure function of the step (the prefetch thread runs it ahead),
        so the flips come from their own seeded generator, not the global RNG."""
        indices = self.order.indices(step)
        if not self.cfg.data.flip:
            return indices, None
        seed = step_seed(self.cfg.seed, step, self.accelerator.process_index, FLIP_STREAM)
        # drawn on the CPU whatever the cache's device: CPU and CUDA generators differ, and where the cache lives
        # depends on free memory at start-up, so a resume elsewhere must still draw the same flips
        flip = torch.rand(len(indices), generator=torch.Generator().manual_seed(seed)) < 0.5
        return indices, flip.to(indices.device, non_blocking=True)

    @property
    def conditional(self) -> bool:
        return self.cfg.conditioning.type != "none"

    @property
    def semantic(self) -> bool:
        return self.cfg.conditioning.semantic_dim > 0

    def _open_data(self):
        """The uint8 image cache, or for latent / text training the encoded cache built from it: both serve
        ``batch(indices, flip)``."""
        cfg = self.cfg
        if cfg.autoencoder.name == "identity" and cfg.conditioning.type != "text":
            return cache_from_config(cfg)
        return encoded_cache_from_config(cfg, self.accelerator.device, self.autoencoder)

    def condition(self, batch: dict, train: bool = True) -> Condition | None:
        """The batch's condition on the training device, with training-time hiding / dropout when ``train``."""
        cc, device = self.cfg.conditioning, self.accelerator.device
        if cc.type == "attributes":
            attributes = batch["attributes"]
            if train:
                with torch.device(attributes.device):  # its random draws on the data's device: no host round trip
                    attributes = hide_attributes(attributes, cc.cfg_dropout, cc.max_mask_rate)
            return Condition(attributes=attributes.to(device, non_blocking=True))
        if cc.type == "text":
            names = ("text_tokens", "text_mask", "text_pooled")
            cond = Condition(**{k: batch[k].to(device, non_blocking=True) for k in names})
            return drop_text(cond, cc.cfg_dropout) if train else cond
        return None

    @property
    def unwrapped(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def _resume(self, resume: str) -> None:
        ckpt = load_checkpoint(self.ckpt_root if resume == "auto" else resume, prefer=("latest",))
        self.unwrapped.load_state_dict(ckpt.weights(ema=False))
        self.ema.module.load_state_dict(ckpt.weights(ema=True))
        state = ckpt.training_state()
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.ema.num_updates = int(state["ema_n_averaged"])
        torch.set_rng_state(state["rng_cpu"])
        self.step = int(state["step"])
        self.accelerator.print(f"resumed from {ckpt.path} at step {self.step}")

    def _training_state(self) -> dict:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema_n_averaged": torch.tensor(self.ema.num_updates),  # the key older checkpoints use
            "rng_cpu": torch.get_rng_state(),
        }

    def save(self) -> Path | None:
        """Checkpoint this step (once: after a callback saved it, the path it saved); the path on rank 0."""
        if self._saved[0] == self.step:
            return self._saved[1]
        self.accelerator.wait_for_everyone()
        path = None
        if self.accelerator.is_main_process:
            path = save_checkpoint(
                self.ckpt_root,
                self.step,
                self.cfg,
                self.unwrapped.state_dict(),
                self.ema.module.state_dict(),
                self._training_state(),
                extra_meta={"num_parameters": self.num_params},
            )
            prune_checkpoints(self.ckpt_root, self.cfg.train.keep_every)
        self.accelerator.wait_for_everyone()
        self._saved = (self.step, path)
        return path

    def train(self, stop_at: int | None = None) -> dict:
        """Train until ``stop_at`` (default ``train.max_steps``) or ``train.max_minutes``; returns a summary."""
        cfg, tc, acc = self.cfg, self.cfg.train, self.accelerator
        stop_at = min(stop_at or tc.max_steps, tc.max_steps)
        deadline = time.monotonic() + 60 * tc.max_minutes if tc.max_minutes else math.inf
        acc.print(
            f"training {cfg.model.name}-{cfg.model.size} ({self.num_params / 1e6:.2f}M params) on {len(self.data)} "
            f"images at {cfg.data.image_size}px, {acc.num_processes} process(es) on {acc.device}, "
            f"run dir {self.run_dir}"
        )
        bar = tqdm(total=stop_at, initial=self.step, desc="train", disable=not acc.is_main_process, dynamic_ncols=True)
        window_loss, window_count, window_start = torch.zeros((), device=acc.device), 0, time.perf_counter()
        started, start_step = time.perf_counter(), self.step
        try:
            while self.step < stop_at and time.monotonic() < deadline:
                lr = self.scheduler.get_last_lr()[0]  # the rate this step trains with
                loss = self._train_step()
                window_loss += loss.detach()
                window_count += 1
                self.step += 1
                if self.step % tc.log_every == 0 or self.step == stop_at:
                    mean_loss = acc.reduce(window_loss, "mean").item() / window_count
                    if not math.isfinite(mean_loss):
                        raise FloatingPointError(
                            f"loss is {mean_loss} at step {self.step}: lower train.lr or raise train.warmup_steps; "
                            + (
                                f"the last good checkpoint is {self.ckpt_root}/latest"
                                if (self.ckpt_root / "latest").exists()
                                else "no checkpoint was saved before it"
                            )
                        )
                    elapsed = time.perf_counter() - window_start
                    rate = window_count * tc.batch_size / elapsed
                    if acc.is_main_process:
                        scalars = {"loss": mean_loss, "lr": lr, "images_per_sec": rate}
                        scalars.update({k: v.item() for k, v in self.auxiliary_terms.items()})  # last step's
                        self.logger.scalars(self.step, scalars)
                        bar.set_postfix(loss=f"{mean_loss:.4f}", img_s=f"{rate:.1f}", lr=f"{lr:.2e}")
                    window_loss.zero_()
                    window_count, window_start = 0, time.perf_counter()
                bar.update(1)
                for callback in self.callbacks:
                    if callback.every and self.step % callback.every == 0:
                        callback(self)
                if self.step % tc.ckpt_every == 0:
                    self.save()  # nothing to do when a callback (evaluation) saved this step
        except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM / SIGHUP (facegen.utils.signals)
            acc.print(f"\ninterrupted at step {self.step}: saving a checkpoint before exiting")
            self.save()
            message = f"checkpoint of step {self.step} saved in {self.ckpt_root}; continue with --resume auto"
            raise reworded(err, message) from None
        finally:
            bar.close()
            if self.prefetcher:
                self.prefetcher.close()
        self.save()
        for callback in self.callbacks:
            if callback.at_end and callback.every and self.step % callback.every != 0:
                callback(self)
        return self._finish(time.perf_counter() - started, self.step - start_step)

    def _train_step(self) -> torch.Tensor:
        """One optimizer step over ``train.batch_size`` faces, in ``train.grad_accum`` micro-batches."""
        cfg, acc, accum = self.cfg, self.accelerator, self.cfg.train.grad_accum
        torch.manual_seed(step_seed(cfg.seed, self.step, acc.process_index))
        batch = self.prefetcher.get(self.step) if self.prefetcher else self.data.batch(*self.plan(self.step))
        images = batch["image"].to(acc.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        cond = self.condition(batch)
        if self.semantic:  # the clean faces ride along for the semantic encoder, inside the model's forward
            cond = replace(cond, reference=images)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        micro = len(images) // accum
        total = torch.zeros((), device=acc.device)
        for k in range(accum):
            part = slice(k * micro, (k + 1) * micro)
            # DDP all-reduces gradients on the last micro-batch only
            with acc.no_sync(self.model) if k < accum - 1 else contextlib.nullcontext():
                with acc.autocast():
                    part_cond = None if cond is None else cond.map(lambda v: v[part])
                    loss, self.auxiliary_terms = self.loss_fn(self.model, images[part], part_cond, return_parts=True)
                    loss = loss / accum
                acc.backward(loss)
            total += loss.detach()
        if cfg.train.grad_clip > 0:
            acc.clip_grad_norm_(self.model.parameters(), cfg.train.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.ema.update(self.unwrapped)
        return total

    def _finish(self, seconds: float, steps: int) -> dict:
        """Check that every rank ended with the same weights, and write ``train_summary.json``."""
        acc = self.accelerator
        checksum = torch.stack([p.detach().double().sum() for p in self.unwrapped.parameters()]).sum()
        sums = acc.gather(checksum.reshape(1)).cpu().tolist()
        summary = {
            "step": self.step,
            "steps_this_run": steps,
            "seconds": round(seconds, 2),
            "images_per_sec": round(steps * self.cfg.train.batch_size / max(seconds, 1e-9), 2),
            "num_processes": acc.num_processes,
            "ranks_in_sync": all(s == sums[0] for s in sums),
            "rank_checksums": sums,
        }
        if acc.is_main_process:
            atomic_write_json(self.run_dir / "train_summary.json", summary)
            self.logger.close()
        acc.wait_for_everyone()
        return summary
