"""CPU training throughput by precision, thread count and OpenMP wait policy, alone and beside a busy process.

    python benchmarks/cpu_threads.py --config configs/faces128.yaml [--steps 8] [key=value ...]

Each case runs ``benchmarks/train_throughput.py`` in a fresh process (the OpenMP wait policy is read once, when
the runtime starts). "busy" starts one niced process doing single-thread matrix products beside it, the situation
of a laptop doing something else or a second training run. Prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUSY = "import torch; torch.set_num_threads(1); a = torch.randn(512, 512)\nwhile True: a = (a @ a).tanh()"
CASES = [  # (precision, threads, OMP_WAIT_POLICY or None = the runtime's default)
    ("bf16", 1, None),
    ("fp32", 1, None),
    ("bf16", 2, None),
    ("fp32", 2, None),
    ("bf16", 2, "PASSIVE"),
    ("fp32", 2, "PASSIVE"),
]


def run_case(config: str, overrides: list[str], precision: str, threads: int, policy: str | None, steps: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    command = [
        sys.executable,
        str(HERE / "train_throughput.py"),
        "--config",
        config,
        *overrides,
        f"train.mixed_precision={precision}",
        f"train.num_threads={threads}",
        "--steps",
        str(steps),
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    for load in ("alone", "busy"):
        busy = subprocess.Popen(["nice", "-n", "10", sys.executable, "-c", BUSY]) if load == "busy" else None
        try:
            if busy:
                time.sleep(2)
            for precision, threads, policy in CASES:
                result = run_case(args.config, args.overrides, precision, threads, policy, args.steps)
                keep = ("model", "batch_size", "step_ms", "images_per_sec", "cpu", "torch")
                row = {"load": load, "precision": precision, "threads": threads, "omp_wait_policy": policy or "default"}
                print(json.dumps({**row, **{k: result[k] for k in keep}}), flush=True)
        finally:
            if busy:
                busy.kill()


if __name__ == "__main__":
    main()
