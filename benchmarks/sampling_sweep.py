"""Quality against sampling cost: a model's samples scored (fd_face, FD_attr, ...) for each sampler setting.

    python benchmarks/sampling_sweep.py --model faces128 --num-samples 500 \
        --settings heun:4 heun:8 euler:8 heun:4:cfg=3 heun:4:cfg=3:interval=0.3-1

A setting is ``sampler:steps`` with optional ``:cfg=SCALE`` (default: the model's), ``:interval=LO-HI``
(guidance only from LO to HI of the way from noise to data, ``sampler.guidance_interval``; default: the model's)
``:guide=FOLDER`` (autoguidance: also push away from a weaker model; ``none``: without; default: the model's
``sampler.guide``), ``:gw=WEIGHT`` (that push's weight; default: the model's ``sampler.guide_weight``) and
``:shift=S`` (rectified flow's ``sampler.time_shift``: S > 1 puts the steps nearer the noise; default: the model's).
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
    """``heun:4:cfg=3:interval=0.3-1:gw=1.5:shift=2`` -> {"sampler", "steps", "cfg_scale", "interval", "guide",
    "guide_weight", "time_shift"} ("model" or None: the model's; guide "none": without)."""
    sampler, steps, *options = text.split(":")
    setting = {"sampler": sampler, "steps": int(steps), "cfg_scale": None, "interval": "model", "guide": None}
    setting["guide_weight"] = setting["time_shift"] = None
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
        elif key == "shift":
            setting["time_shift"] = float(value)
        else:
            raise SystemExit(
                f"setting {text!r}: unknown option {key!r} (cfg=, interval=LO-HI or none, guide=DIR or none, gw=, "
                "shift=)"
            )
    return setting


def guided_passes(sampler: str, steps: int, pushes: int, interval: list[float] | None, shift: float = 1.0) -> int:
    """Network passes per face: the evaluations at times inside the interval count 1 + pushes times."""
    from facegen.samplers.ode import time_grid

    grid = time_grid(steps, shift=shift).tolist()
    times = grid[:-1]
    if sampler == "heun":  # each step evaluates at its start and at its end
        times = times + grid[1:]
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
    model_interval, model_shift = base.config.sampler.guidance_interval, base.config.sampler.time_shift
    rows = []
    for setting in settings:
        pipe = base.guided_as(setting["guide"], setting["guide_weight"])
        pipe.config.sampler.name = setting["sampler"]
        interval = model_interval if setting["interval"] == "model" else setting["interval"]
        pipe.config.sampler.guidance_interval = interval
        shift = model_shift if setting["time_shift"] is None else setting["time_shift"]
        pipe = pipe.with_time_shift(shift)
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
            "time_shift": shift,
            "guide": None if pipe.guide is None else pipe.guide.name,
            "guide_weight": None if pipe.guide is None else pipe.guide.weight,
            "nfe": NFE_PER_STEPS[setting["sampler"]](setting["steps"]),
            "passes": guided_passes(
                setting["sampler"], setting["steps"], pushes(guidance, pipe.guide), interval, shift
            ),
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
    columns = ["sampler", "steps", "cfg_scale", "interval", "time_shift", "guide", "guide_weight", "nfe", "passes"]
    columns += [*metrics, "seconds"]
    print("\n| " + " | ".join(columns) + " |\n" + "|---" * len(columns) + "|")
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in columns) + " |")


if __name__ == "__main__":
    main()
