"""Wall time to make faces with a pretrained model (default: the bundled faces128) on this device.

    python benchmarks/sample_speed.py [--model faces128] [--num-samples 16] [--steps 4 8 16] [--repeats 3] [--compile]
        [--guide none|MODEL]

Reports, per step count, the median seconds for ``--num-samples`` faces with the model already loaded, and once
the time to load the model (weights + autoencoder), so "load included" = load + generate. ``--compile`` samples
through ``torch.compile`` (the warm-up, untimed, compiles; its seconds are reported). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from facegen.pipeline import FacePipeline
from facegen.utils.hardware import configure_cpu_threads, describe_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="faces128")
    parser.add_argument("--num-samples", type=int, default=16)
    parser.add_argument("--steps", type=int, nargs="+", default=[None], help="default: the model's own")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--guide", help="autoguidance by this model, or none (default: the model's sampler.guide)")
    args = parser.parse_args()
    threads = configure_cpu_threads() if (args.device or "cpu") == "cpu" and not torch.cuda.is_available() else None
    start = time.perf_counter()
    pipe = FacePipeline.from_pretrained(args.model, device=args.device, compile=args.compile, guide=args.guide is None)
    pipe = pipe.guided_as(args.guide)
    load_s = time.perf_counter() - start
    for steps in args.steps:
        start = time.perf_counter()
        pipe.generate(args.num_samples, steps=steps, seed=0, progress=False)  # warm-up: allocator, kernels, compile
        warmup_s = time.perf_counter() - start
        times = []
        for repeat in range(args.repeats):
            if pipe.device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            pipe.generate(args.num_samples, steps=steps, seed=repeat, progress=False)
            if pipe.device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        record = {
            "model": args.model,
            "num_samples": args.num_samples,
            "sampler": pipe.config.sampler.name,
            "steps": steps or pipe.config.sampler.steps,
            "cfg_scale": pipe.config.sampler.cfg_scale,
            "guide": None if pipe.guide is None else {"model": pipe.guide.name, "weight": pipe.guide.weight},
            "generate_s": round(median, 2),
            "load_s": round(load_s, 2),
            "load_and_generate_s": round(load_s + median, 2),
            "compile": args.compile,
            "warmup_s": round(warmup_s, 2),
            "device": str(pipe.device),
            "threads": threads,
            "cpu": describe_cpu() if pipe.device.type == "cpu" else None,
            "torch": torch.__version__,
        }
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
