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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from accelerate import Accelerator, DistributedDataParallelKwargs
from tqdm.auto import tqdm

from facegen.checkpoint import claim_run_dir, load_checkpoint, prune_checkpoints, save_checkpoint
from facegen.conditioning import Condition
from facegen.conditioning.kinds import kind_of
from facegen.config import Config, save_config
from facegen.training.build import (  # noqa: F401  (BatchOrder, step_seed, warmup_cosine: names users import here)
    FLIP_STREAM,
    BatchOrder,
    build_training,
    optimizer_options,
    step_seed,
    warmup_cosine,
)
from facegen.training.callbacks import Callback
from facegen.training.logging import RunLogger
from facegen.utils.hardware import configure_cpu_threads, describe_cpu, resolve_precision
from facegen.utils.io import atomic_write_json, path_lock
from facegen.utils.signals import reworded


def ddp_options(grad_accum: int, compile: bool) -> DistributedDataParallelKwargs:
    """Gradients as views of DDP's buckets (no copy); a static graph (every step uses the same parameters, as
    tests/test_builders.py checks for every backbone) lets DDP skip its per-step search for unused ones. Not with
    micro-batches: static_graph with no_sync skips gradient all-reduces (pytorch/pytorch#187732, open); not with
    compile until a GPU run shows dynamo's DDP graph splitting works with it (reports differ: pytorch#109261)."""
    return DistributedDataParallelKwargs(gradient_as_bucket_view=True, static_graph=grad_accum == 1 and not compile)


def make_accelerator(tc) -> tuple[Accelerator, str, int | None]:
    """accelerate for this machine, with the precision and CPU threads ``train.*`` ask for; backend flags set."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    precision = resolve_precision(tc.mixed_precision, device)
    threads = configure_cpu_threads(tc.num_threads) if device == "cpu" else None
    accelerator = Accelerator(
        mixed_precision={"fp32": "no"}.get(precision, precision),
        cpu=device == "cpu",
        kwargs_handlers=[ddp_options(tc.grad_accum, tc.compile)],
    )
    accelerator.print(
        f"precision {precision} (train.mixed_precision={tc.mixed_precision})"
        + (f", {threads} CPU thread(s); {describe_cpu()}" if threads else "")
    )
    if accelerator.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True  # the same shapes every step: autotuned cuDNN convolutions pay off
    return accelerator, precision, threads


@dataclass(frozen=True)
class TrainState:
    """What a callback sees of the run at one step (it never reaches into the Trainer)."""

    step: int
    cfg: Config  # the resolved config
    run_dir: Path
    device: torch.device
    is_main: bool  # rank 0: the one that writes
    ema: torch.nn.Module  # the averaged weights, in eval mode
    objective: Any
    autoencoder: Any
    num_faces: int
    first_conditions: Callable[[int], Condition | None]  # the conditions of the first n training faces
    save: Callable[[], Path | None]  # checkpoint this step (once); the path on rank 0
    logger: RunLogger | None  # rank 0's
    autocast: Callable[[], contextlib.AbstractContextManager]
    wait_for_everyone: Callable[[], None]

    @property
    def ckpt_root(self) -> Path:
        return self.run_dir / "checkpoints"


class Trainer:
    """``Trainer(cfg, resume, overwrite, callbacks).train(stop_at)``; ``callbacks`` run every ``callback.every``
    steps with a :class:`TrainState` (sample grids, evaluation: see ``facegen.run``)."""

    def __init__(
        self, cfg: Config, resume: str | None = None, overwrite: bool = False, callbacks: tuple[Callback, ...] = ()
    ) -> None:
        self.callbacks = tuple(callbacks)
        self.accelerator, self.precision, self.threads = make_accelerator(cfg.train)
        self.cfg, self.run_dir = cfg, cfg.run_dir
        # Every way into a run folder (facegen train, facegen.run.train, a Trainer made in Python) holds its lock
        # from before the folder is claimed until close() or the Trainer is collected: a second is refused instead of
        # interleaving (or deleting) the first's checkpoints and logs. The ranks of one job share it: rank 0 holds it.
        self._lock = contextlib.ExitStack()
        weakref.finalize(self, self._lock.close)
        if self.accelerator.is_main_process:
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
        acc = self.accelerator
        self.ckpt_root = self.run_dir / "checkpoints"
        claim_run_dir(self.run_dir, resume, overwrite, writer=acc.is_main_process)  # before any work or write
        init = self._init_from if self.cfg.train.init_from and not resume else None
        parts = build_training(self.cfg, acc, init)
        self.cfg = parts.cfg  # resolved: what the run saves
        self.autoencoder, self.data, self.plan = parts.autoencoder, parts.data, parts.plan
        self.prefetcher = parts.prefetcher
        self.model, self.unwrapped, self.ema = parts.model, parts.unwrapped, parts.ema
        self.optimizer, self.scheduler = parts.optimizer, parts.scheduler
        self.objective, self.loss_fn = parts.objective, parts.loss_fn
        self.num_params, self.memory_format = parts.num_params, parts.memory_format
        self.step = 0
        self._saved: tuple[int, Path | None] = (-1, None)  # (step, checkpoint) of the last save
        self.auxiliary_terms: dict[str, torch.Tensor] = {}  # the backbone's auxiliary loss terms, for the logs
        self.logger = None
        if resume:
            self._resume(resume)
        if acc.is_main_process:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.run_dir / "config.yaml")
            self.logger = RunLogger(self.run_dir, resume_step=self.step if resume else None)

    @property
    def order(self) -> BatchOrder:
        return self.plan.order

    def _init_from(self, model: torch.nn.Module) -> dict:
        """Load ``train.init_from``'s weights into the freshly built model; returns the source's meta."""
        from facegen.pretrained import init_weights

        state, meta = init_weights(self.cfg)
        model.load_initial_weights(state)  # a video model also takes its image model's weights
        self.accelerator.print(f"initialised from {self.cfg.train.init_from} (its step {meta.get('step')})")
        return meta

    @property
    def kind(self):
        """The config's conditioning kind (``facegen.conditioning.kinds``)."""
        return kind_of(self.cfg)

    @property
    def conditional(self) -> bool:
        return self.kind.conditional

    def condition(self, batch: dict, train: bool = True, images: torch.Tensor | None = None) -> Condition | None:
        """The batch's condition on the training device, with training-time hiding / dropout when ``train``
        (the conditioning kind's); ``images``: the clean faces, for kinds that condition on the face itself."""
        return self.kind.batch_condition(batch, self.accelerator.device, train, images)

    def _resume(self, resume: str) -> None:
        ckpt = load_checkpoint(self.ckpt_root if resume == "auto" else resume, prefer=("latest",))
        self.unwrapped.load_state_dict(ckpt.weights(ema=False))
        self.ema.module.load_state_dict(ckpt.weights(ema=True))
        state = ckpt.training_state()
        optimizer, scheduler = self._with_config_rates(state["optimizer"], state["scheduler"])
        self.optimizer.load_state_dict(optimizer)
        self.scheduler.load_state_dict(scheduler)
        self.ema.num_updates = int(state["ema_n_averaged"])
        torch.set_rng_state(state["rng_cpu"])
        self.step = int(state["step"])
        self.accelerator.print(f"resumed from {ckpt.path} at step {self.step}")

    def _with_config_rates(self, optimizer: dict, scheduler: dict) -> tuple[dict, dict]:
        """The saved optimizer and scheduler states with this config's train.lr, betas and weight decay: a run
        continued with new ones trains with them, as its config.yaml says (the saved states hold the old ones).
        Unchanged settings give back the saved values, so an exact resume stays exact."""
        tc = self.cfg.train
        lr = tc.lr * self.scheduler.lr_lambdas[0](scheduler["last_epoch"])  # the schedule is built from this config
        settings = {"lr": lr, "initial_lr": tc.lr, "betas": (tc.beta1, tc.beta2), "weight_decay": tc.weight_decay}
        groups = [group | settings for group in optimizer["param_groups"]]
        rates = [tc.lr] * len(groups)
        return optimizer | {"param_groups": groups}, scheduler | {"base_lrs": rates, "_last_lr": [lr] * len(groups)}

    def _training_state(self) -> dict:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "ema_n_averaged": torch.tensor(self.ema.num_updates),  # the key older checkpoints use
            "rng_cpu": torch.get_rng_state(),
        }

    def first_conditions(self, n: int) -> Condition | None:
        """The conditions of the first ``n`` training faces, as given (no hiding or dropout)."""
        if not self.conditional:
            return None
        return self.condition(self.data.batch(np.arange(n)), train=False)

    def state(self) -> TrainState:
        acc = self.accelerator
        return TrainState(
            self.step, self.cfg, self.run_dir, acc.device, acc.is_main_process, self.ema.module.eval(),
            self.objective, self.autoencoder, len(self.data), self.first_conditions, self.save, self.logger,
            acc.autocast, acc.wait_for_everyone,
        )  # fmt: skip

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
                        callback(self.state())
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
                callback(self.state())
        return self._finish(time.perf_counter() - started, self.step - start_step)

    def _train_step(self) -> torch.Tensor:
        """One optimizer step over ``train.batch_size`` faces, in ``train.grad_accum`` micro-batches."""
        cfg, acc, accum = self.cfg, self.accelerator, self.cfg.train.grad_accum
        torch.manual_seed(step_seed(cfg.seed, self.step, acc.process_index))
        batch = self.prefetcher.get(self.step) if self.prefetcher else self.data.batch(*self.plan(self.step))
        images = batch["image"].to(acc.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        cond = self.condition(batch, images=images)
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
