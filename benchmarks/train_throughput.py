"""Throughput of the real training step (facegen's Trainer: data gather, flips, conditioning, loss, backward,
clipping, fused/foreach AdamW, EMA) on this device, printed as JSON with MFU.

    python benchmarks/train_throughput.py --config configs/celeba64_dit_base.yaml [key=value ...] [--steps 20]
        [--without ema fused device-data] [--bare] [--sdpa flash|efficient|cudnn|math]

The data are synthetic (random uint8 faces, or random latents of each face and its mirror, and random attributes)
in the same cache classes training reads, so it needs no dataset; on CUDA they sit on the device as in training.
After warm-up steps (allocation, cuDNN autotuning, ``torch.compile``), each step is timed on its own (with a
device sync), so the median and p90 are of whole steps.

MFU = model FLOPs per step (forward + backward, from ``torch.utils.flop_counter.FlopCounterMode`` over one step)
/ step time / peak. On CUDA the peak is the device's dense bf16 tensor-core rate from a small table (None for an
unknown device); on a CPU it is a measured matmul rate in the run's precision, since CPUs publish no such peak
and sustained vector throughput depends on the clock under load (the JSON says which).

Ablations: ``--without`` drops the EMA update, fused AdamW (foreach instead) or the cache on the device;
``--bare`` times only loss, backward and optimizer step on one fixed batch (the upper bound the real step is held
to); ``--sdpa`` pins the attention kernel.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import facegen.training.trainer as trainer_module
from facegen.autoencoders import latent_shape
from facegen.config import load_config
from facegen.data.cache import ImageCache
from facegen.data.encoded import EncodedCache
from facegen.data.rows import CachedArrays
from facegen.training.trainer import Trainer
from facegen.utils.hardware import autocast_dtype, describe_cpu

# Dense bf16 tensor-core peaks (FLOP/s, no sparsity) from the vendors' data sheets; the first match wins.
CUDA_BF16_PEAKS = (
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("H200", 989e12),
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
)


class SyntheticTrainer(Trainer):
    """The Trainer on random data of the config's shape, held in its own cache classes."""

    num_images = 2048

    def _open_data(self):
        cfg, n = self.cfg, self.num_images
        rng = np.random.default_rng(0)
        attributes = rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, 40))
        if cfg.autoencoder.name == "identity" and cfg.conditioning.type != "text":
            images = rng.integers(0, 256, (n, 3, cfg.data.image_size, cfg.data.image_size), dtype=np.uint8)
            return ImageCache(None, images, attributes, None, [], {})
        cache = EncodedCache.__new__(EncodedCache)
        shape = latent_shape(self.autoencoder, cfg.data.image_size)
        cache.latents = rng.standard_normal((n, 2, *shape), dtype=np.float32).astype(np.float16)
        cache.attributes, cache.captions, cache.meta = attributes, None, {}
        cache.text_tokens = cache.text_mask = cache.text_pooled = None
        if cfg.conditioning.type == "text":
            length, width = cfg.conditioning.max_text_length, cfg.conditioning.text_dim or 384
            cfg.conditioning.text_dim = width
            cache.text_tokens = rng.standard_normal((n, length, width), dtype=np.float32).astype(np.float16)
            cache.text_mask = np.ones((n, length), dtype=bool)
            cache.text_pooled = rng.standard_normal((n, width), dtype=np.float32).astype(np.float16)
        return cache


def ablate(without: list[str]) -> None:
    """Switch engine pieces off before the trainer is built."""
    if "fused" in without:
        trainer_module.optimizer_options = lambda device: {"foreach": True}
    if "device-data" in without:
        CachedArrays.to = lambda self, device: False


def bare_step(trainer: Trainer):
    """Loss, backward and optimizer step on one fixed batch: no data, flips, conditioning, clipping or EMA."""
    images = trainer.data.batch(trainer.order.indices(0))["image"].to(trainer.accelerator.device)

    def step() -> None:
        with trainer.accelerator.autocast():
            loss = trainer.loss_fn(trainer.model, images, None)
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer.accelerator.backward(loss)
        trainer.optimizer.step()

    return step


def step_flops(trainer: Trainer) -> int:
    """FLOPs of one training step (matmuls, convolutions, attention; forward and backward), counted eagerly."""
    compiled, trainer.loss_fn = trainer.loss_fn, trainer.objective.loss
    with FlopCounterMode(display=False) as counter:
        trainer._train_step()
    trainer.loss_fn = compiled
    trainer.step += 1
    return counter.get_total_flops()


def measured_matmul_peak(device: torch.device, dtype: torch.dtype, size: int = 2048, repeats: int = 5) -> float:
    """The best of a few large square matmuls, in FLOP/s: what this CPU sustains for the model's main op."""
    a, b = torch.randn(size, size, device=device, dtype=dtype), torch.randn(size, size, device=device, dtype=dtype)
    a @ b
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


def peak_flops(device: torch.device, precision: str) -> tuple[float | None, str]:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        peak = next((value for key, value in CUDA_BF16_PEAKS if key in name), None)
        return peak, f"data-sheet dense bf16 peak of {name}" if peak else f"{name} is not in CUDA_BF16_PEAKS"
    dtype = autocast_dtype(precision) or torch.float32
    return measured_matmul_peak(device, dtype), f"measured {str(dtype).removeprefix('torch.')} 2048^3 matmul"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(trainer: Trainer, steps: int, warmup: int) -> dict:
    cfg, device = trainer.cfg, trainer.accelerator.device
    for _ in range(warmup):
        trainer._train_step()
        trainer.step += 1
    flops = step_flops(trainer)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        trainer._train_step()
        synchronize(device)
        times.append(time.perf_counter() - start)
        trainer.step += 1
    median, p90 = statistics.median(times), float(np.percentile(times, 90))
    peak, peak_source = peak_flops(device, trainer.precision)
    memory = (
        torch.cuda.max_memory_allocated(device) / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS (KiB on Linux)
    )
    batch = cfg.train.batch_size
    return {
        "model": f"{cfg.model.name}-{cfg.model.size}"
        + (f"/{cfg.model.dit.patch_size}" if cfg.model.name == "dit" else ""),
        "params_m": round(trainer.num_params / 1e6, 2),
        "image_size": cfg.data.image_size,
        "autoencoder": cfg.autoencoder.name,
        "conditioning": cfg.conditioning.type,
        "objective": cfg.objective.name,
        "batch_size": batch,
        "grad_accum": cfg.train.grad_accum,
        "mixed_precision": trainer.precision,
        "compile": cfg.train.compile,
        "data_device": str(trainer.data.device),  # cuda when the cache fits there; memory maps otherwise
        "steps": steps,
        "images_per_sec": round(batch / median, 1),
        "step_ms_median": round(median * 1000, 2),
        "step_ms_p90": round(p90 * 1000, 2),
        "peak_memory_mib": round(memory, 1),
        "memory_kind": "max_memory_allocated" if device.type == "cuda" else "process peak RSS",
        "gflop_per_step": round(flops / 1e9, 2),
        "achieved_tflops": round(flops / median / 1e12, 3),
        "peak_tflops": round(peak / 1e12, 2) if peak else None,
        "peak_source": peak_source,
        "mfu": round(flops / median / peak, 4) if peak else None,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else describe_cpu(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--without", nargs="*", choices=["ema", "fused", "device-data"], default=[])
    parser.add_argument("--bare", action="store_true", help="only loss, backward, optimizer step on a fixed batch")
    parser.add_argument("--sdpa", choices=["flash", "efficient", "cudnn", "math"], help="pin the attention kernel")
    args = parser.parse_args()
    ablate(args.without)
    kernels = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION}
    kernels |= {"cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}
    with tempfile.TemporaryDirectory() as out:
        logs = ["train.log_every=1000000", "train.sample_every=0", "eval.every=0", "exp_name=throughput"]
        cfg = load_config(args.config, [*args.overrides, *logs, f"output_dir={out}"])
        with contextlib.redirect_stdout(sys.stderr):  # the trainer's log lines: stdout is the JSON alone
            trainer = SyntheticTrainer(cfg)
        if "ema" in args.without:
            trainer.ema.update = lambda model: None
        if args.bare:
            trainer._train_step = bare_step(trainer)
        with sdpa_kernel(kernels[args.sdpa]) if args.sdpa else contextlib.nullcontext():
            result = measure(trainer, args.steps, args.warmup)
        if trainer.prefetcher:  # steps were called directly, not through train(), which would close it
            trainer.prefetcher.close()
        print(json.dumps(result | {"without": args.without, "bare": args.bare, "sdpa": args.sdpa}))


if __name__ == "__main__":
    main()
