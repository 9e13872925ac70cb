"""Training throughput of a config on this device: images/s, step time and peak memory, printed as JSON.

    python benchmarks/train_throughput.py --config configs/celeba32_tiny.yaml [key=value ...] [--steps 20]

Runs the real objective, model and AdamW step on random inputs of the model's input shape (pixels, or the
autoencoder's latents, which training reads from the encoded cache), so it needs no data,
after a few warm-up steps that absorb allocation and ``torch.compile`` time.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import torch

from facegen.autoencoders import latent_shape
from facegen.builders import autoencoder_from_config, model_from_config, objective_from_config
from facegen.config import load_config
from facegen.models import count_parameters
from facegen.utils.hardware import autocast_dtype, configure_cpu_threads, describe_cpu, resolve_precision


def measure(cfg, steps: int, warmup: int, device: torch.device) -> dict:
    torch.manual_seed(0)
    autoencoder = autoencoder_from_config(cfg)
    model = model_from_config(cfg, autoencoder).to(device)
    forward = torch.compile(model) if cfg.train.compile else model
    objective = objective_from_config(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    batch = cfg.train.batch_size
    shape = latent_shape(autoencoder, cfg.data.image_size)  # training reads cached latents: no encoder per step
    images = torch.randn(batch, *shape, device=device)
    precision = resolve_precision(cfg.train.mixed_precision, device)
    dtype = autocast_dtype(precision)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = objective(forward, images)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device.type == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # process peak RSS, KiB on Linux
    )
    return {
        "model": f"{cfg.model.name}-{cfg.model.size}" + (f"/{cfg.model.patch_size}" if cfg.model.name == "dit" else ""),
        "params_m": round(count_parameters(model) / 1e6, 2),
        "image_size": cfg.data.image_size,
        "autoencoder": cfg.autoencoder.name,
        "model_input": list(shape),
        "batch_size": batch,
        "mixed_precision": precision,
        "mixed_precision_requested": cfg.train.mixed_precision,
        "compile": cfg.train.compile,
        "step_ms": round(seconds * 1000, 1),
        "images_per_sec": round(batch / seconds, 1),
        "peak_memory_mib": round(peak, 1),
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads(),
        "cpu": describe_cpu() if device.type == "cpu" else None,
        "torch": torch.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    cfg = load_config(args.config, args.overrides)
    if args.device == "cpu":
        configure_cpu_threads(cfg.train.num_threads)
    print(json.dumps(measure(cfg, args.steps, args.warmup, torch.device(args.device))))


if __name__ == "__main__":
    main()
