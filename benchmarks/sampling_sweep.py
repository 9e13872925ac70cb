"""Quality against sampling cost: a model's samples scored (fd_face, FD_attr, ...) for each sampler setting.

    python benchmarks/sampling_sweep.py --model faces128 --num-samples 500 \
        --settings heun:4 heun:8 euler:8 heun:4:cfg=3 heun:4:cfg=3:interval=0.3-1

A setting is ``sampler:steps`` with optional ``:cfg=SCALE`` (default: the model's), ``:interval=LO-HI``
(guidance only from LO to HI of the way from noise to data, ``sampler.guidance_interval``; default: the model's)
``:guide=FOLDER`` (autoguidance: also push away from a weaker model; ``none``: without; default: the model's
``sampler.guide``) and ``:gw=WEIGHT`` (that push's weight; default: the model's ``sampler.guide_weight``).
NFE counts network evaluations per face (Heun spends two per step, the last included); ``passes`` counts each
push too (CFG's unconditional branch, the guide's prediction), where guidance is applied. Attribute rows come from
celeba:test, as in ``facegen eval``; the same seed and noise for every setting. Prints one JSON line per setting
and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import time

from facegen.pipeline import FacePipeline
from facegen.scoring import score
from facegen.utils.hardware import describe_cpu

NFE_PER_STEPS = {"euler": lambda n: n, "heun": lambda n: 2 * n, "ddim": lambda n: n, "dpm++": lambda n: n}


def parse_setting(text: str) -> dict:
    """``heun:4:cfg=3:interval=0.3-1:gw=1.5`` -> {"sampler", "steps", "cfg_scale", "interval", "guide",
    "guide_weight"} ("model" or None: the model's; guide "none": without)."""
    sampler, steps, *options = text.split(":")
    setting = {"sampler": sampler, "steps": int(steps), "cfg_scale": None, "interval": "model", "guide": None}
    setting["guide_weight"] = None
    for option in options:
        key, _, value = option.partition("=")
        if key == "cfg":
            setting["cfg_scale"] = float(value)
        elif key == "interval":
            setting["interval"] = None if value == "none" else [float(v) for v in value.split("-")]
        elif key == "guide":
            setting["guide"] = value
        elif key == "gw":
            setting["guide_weight"] = float(value)
        else:
            raise SystemExit(
                f"setting {text!r}: unknown option {key!r} (cfg=, interval=LO-HI or none, guide=DIR or none, gw=)"
            )
    return setting


def guided_passes(sampler: str, steps: int, pushes: int, interval: list[float] | None) -> int:
    """Network passes per face: the evaluations at times inside the interval count 1 + pushes times."""
    import torch

    times = torch.linspace(0, 1, steps + 1)[:-1].tolist()
    if sampler == "heun":  # each step evaluates at its start and at its end
        times = times + torch.linspace(0, 1, steps + 1)[1:].tolist()
    inside = sum(1 for t in times if interval is None or interval[0] <= t <= interval[1])
    return len(times) + inside * pushes


def pushes(cfg_scale: float, guide) -> int:
    """Extra passes per guided evaluation: CFG's unconditional branch, the guide's prediction."""
    return int(cfg_scale != 1.0) + int(guide is not None and guide.weight != 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="pretrained name or folder (default: faces128)")
    parser.add_argument("--checkpoint", default=None, help="or a training run")
    parser.add_argument("--settings", nargs="+", default=["heun:4", "heun:8", "euler:8"])
    parser.add_argument("--metrics", default="fd_face,fd_attr")
    parser.add_argument("--num-samples", type=int, default=500)
    parser.add_argument("--celeba-root", default="../shared/data/celeba")
    parser.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = parser.parse_args()
    metrics = args.metrics.split(",")
    settings = [parse_setting(s) for s in args.settings]  # every setting checked before any work
    base = FacePipeline.load(args.checkpoint, args.model)
    model_interval = base.config.sampler.guidance_interval
    rows = []
    for setting in settings:
        pipe = base.guided_as(setting["guide"], setting["guide_weight"])
        pipe.config.sampler.name = setting["sampler"]
        interval = model_interval if setting["interval"] == "model" else setting["interval"]
        pipe.config.sampler.guidance_interval = interval
        start = time.perf_counter()
        report = score(
            pipe, metrics, args.num_samples, "celeba:test", args.celeba_root, steps=setting["steps"],
            cfg_scale=setting["cfg_scale"], progress=False,
        )  # fmt: skip
        guidance = report["protocol"]["cfg_scale"]
        row = {
            "sampler": setting["sampler"],
            "steps": setting["steps"],
            "cfg_scale": guidance,
            "interval": interval,
            "guide": None if pipe.guide is None else pipe.guide.name,
            "guide_weight": None if pipe.guide is None else pipe.guide.weight,
            "nfe": NFE_PER_STEPS[setting["sampler"]](setting["steps"]),
            "passes": guided_passes(setting["sampler"], setting["steps"], pushes(guidance, pipe.guide), interval),
            **{m: round(report["metrics"][m], 4) for m in metrics},
            "seconds": round(time.perf_counter() - start, 1),
            "num_samples": args.num_samples,
            "model": str(pipe.checkpoint or args.model or "faces128"),
            "cpu": describe_cpu(),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    print(f"\n| sampler | steps | cfg | interval | guide | weight | NFE | passes | {' | '.join(metrics)} | seconds |")
    print("|---" * (9 + len(metrics)) + "|")
    for r in rows:
        values = " | ".join(str(r[m]) for m in metrics)
        print(f"| {r['sampler']} | {r['steps']} | {r['cfg_scale']} | {r['interval']} | {r['guide']} | "
              f"{r['guide_weight']} | {r['nfe']} | "
              f"{r['passes']} | "
              f"{values} | {r['seconds']} |")  # fmt: skip


if __name__ == "__main__":
    main()
