"""Quality against sampling cost: FD_attr / KID_attr of a model's samples for each sampler and step count.

    python benchmarks/nfe_quality.py --model faces128 --num-samples 500 --settings euler:4 euler:8 heun:4 heun:8

NFE counts network evaluations per face (Heun spends two per step but the last; with classifier-free guidance
each evaluation runs the conditional and unconditional branch in one batch). Attribute rows come from celeba:test,
as in ``facegen eval``; the same seed and noise for every setting. Prints one JSON line per setting and a table.
"""

from __future__ import annotations

import argparse
import json
import time

from facegen.pipeline import FacePipeline
from facegen.scoring import score
from facegen.utils.hardware import describe_cpu

NFE_PER_STEPS = {"euler": lambda n: n, "heun": lambda n: 2 * n - 1, "ddim": lambda n: n, "dpm++": lambda n: n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="pretrained name or folder (default: faces128)")
    parser.add_argument("--checkpoint", default=None, help="or a training run")
    parser.add_argument("--settings", nargs="+", default=["euler:4", "euler:8", "euler:16", "heun:4", "heun:8"])
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--cfg-scale", type=float, default=None, help="default: the model's")
    parser.add_argument("--celeba-root", default="../shared/data/celeba")
    args = parser.parse_args()
    pipe = FacePipeline.load(args.checkpoint, args.model)
    rows = []
    for setting in args.settings:
        sampler, steps = setting.split(":")
        pipe.config.sampler.name = sampler
        start = time.perf_counter()
        report = score(
            pipe,
            ["fd_attr", "kid_attr"],
            args.num_samples,
            "celeba:test",
            args.celeba_root,
            steps=int(steps),
            cfg_scale=args.cfg_scale,
            progress=False,
        )
        row = {
            "sampler": sampler,
            "steps": int(steps),
            "nfe": NFE_PER_STEPS[sampler](int(steps)),
            "fd_attr": round(report["metrics"]["fd_attr"], 2),
            "kid_attr": round(report["metrics"]["kid_attr"], 4),
            "seconds": round(time.perf_counter() - start, 1),
            "num_samples": args.num_samples,
            "cfg_scale": report["protocol"]["cfg_scale"],
            "cpu": describe_cpu(),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| sampler | steps | NFE | FD_attr | KID_attr | seconds |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['sampler']} | {r['steps']} | {r['nfe']} | {r['fd_attr']} | {r['kid_attr']} | {r['seconds']} |")


if __name__ == "__main__":
    main()
