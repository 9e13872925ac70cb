"""Is an animation one face moving smoothly? `facegen.animate` against independent sampling (fresh noise per frame).

    OMP_NUM_THREADS=1 python benchmarks/animate_consistency.py --frames 16 --strip docs/animate_strip.png
    python benchmarks/animate_consistency.py --checkpoint runs/celeba32_attr_tiny --photos 1 --json out.jsonl

Clips, each made twice (shared: as `facegen animate` makes it; independent: the same path, fresh noise per frame):

- photo: CelebA test photos (aligned, not smiling by their labels) -> "Smiling=1" (inverted once, as edits do);
- attributes: one generated face (seed), "Smiling=0" -> "Smiling=1";
- seeds: from one seed's face to the next (slerped noise).

Per clip: identity (dlib descriptor distance, the faces extra): mean over consecutive frames, the fraction of
consecutive pairs under dlib's same-person threshold 0.6, and first -> last; flicker: the mean absolute second
difference over time, |x[k+1] - 2 x[k] + x[k-1]|, in 8-bit levels (0 for a path moving at constant speed; the eased
path itself contributes a little), and the mean frame-to-frame change; reached: whether the shipped attribute
classifier reads the target attribute on the last frame; seconds per clip (model loaded, CPU threads as set).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from facegen.animate import animate
from facegen.data.roots import data_root
from facegen.evaluation.classifier import predicted_attributes
from facegen.faces.identity import SAME_PERSON, FaceIdentity
from facegen.pipeline import FacePipeline

SMILING = 31  # index of Smiling among the 40 CelebA attributes


def test_photos_not_smiling(celeba: Path, n: int) -> list[Path]:
    """The first ``n`` CelebA test photos here whose labels say not smiling."""
    split = dict(line.split() for line in (celeba / "list_eval_partition.txt").read_text().splitlines() if line)
    rows = (celeba / "list_attr_celeba.txt").read_text().splitlines()[2:]
    picked = []
    for row in rows:
        name, *values = row.split()
        if split.get(name) == "2" and int(values[SMILING]) == -1 and (celeba / "img_align_celeba" / name).exists():
            picked.append(celeba / "img_align_celeba" / name)
        if len(picked) == n:
            break
    return picked


def measure(frames: torch.Tensor, identity: FaceIdentity | None, target: int | None) -> dict[str, float]:
    levels = frames.float() * 127.5  # [-1, 1] -> 8-bit levels
    out = {
        "flicker": round((levels[2:] - 2 * levels[1:-1] + levels[:-2]).abs().mean().item(), 2),
        "change": round((levels[1:] - levels[:-1]).abs().mean().item(), 2),
    }
    if identity is not None:
        descriptors, _ = identity.embed(frames)
        steps = identity.distance(descriptors[1:], descriptors[:-1])
        out |= {
            "id_step": round(steps.mean().item(), 3),
            "id_step_kept": round((steps < SAME_PERSON).float().mean().item(), 3),
            "id_first_last": round(identity.distance(descriptors[:1], descriptors[-1:]).item(), 3),
        }
    if target is not None:
        out["reached"] = int(predicted_attributes(frames[-1:])[0, SMILING].item() == target)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces128")
    parser.add_argument("--checkpoint")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, help="sampler steps (default: the model's)")
    parser.add_argument("--photos", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[20, 21], help="attribute clips: one per seed")
    parser.add_argument("--seed-pairs", default="1,2;3,4", help="seed clips: 'a,b;c,d'")
    parser.add_argument("--strip", help="write a PNG strip: a photo clip, shared (top) and independent (bottom)")
    parser.add_argument("--json", help="append one JSON line per clip here")
    args = parser.parse_args()

    pipe = FacePipeline.load(args.checkpoint, None if args.checkpoint else args.model, device="cpu")
    try:
        identity = FaceIdentity()
    except ImportError:
        identity = None
    cases = [("photo", p.name, dict(image=p, to="Smiling=1"), 1) for p in test_photos_not_smiling(
        data_root() / "celeba", args.photos)]  # fmt: skip
    cases += [
        ("attributes", f"seed {s}", dict(from_attributes="Smiling=0", to="Smiling=1", seed=s), 1) for s in args.seeds
    ]
    for pair in args.seed_pairs.split(";"):
        seeds = [int(s) for s in pair.split(",")]
        cases.append(("seeds", pair, dict(seeds=seeds, seed=seeds[0]), None))
    rows, strip = [], []
    for kind, name, request, target in cases:
        for independent in (False, True):
            started = time.perf_counter()
            clip = animate(pipe, frames=args.frames, steps=args.steps, independent=independent, progress=False,
                           **request)  # fmt: skip
            seconds = time.perf_counter() - started
            row = {"kind": kind, "clip": name, "noise": "independent" if independent else "shared"}
            row |= measure(clip.frames, identity, target) | {"seconds": round(seconds, 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.strip and (kind, name) == cases[0][:2]:
                strip.append(clip.frames)
    if args.json:
        with open(args.json, "a") as handle:
            handle.writelines(json.dumps(r) + "\n" for r in rows)
    print("\n| clip | noise | id step (kept) | id first-last | flicker | change | reached | s/clip |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        kept = f"{r['id_step']} ({r['id_step_kept']:.0%})" if "id_step" in r else "-"
        print(
            f"| {r['kind']} {r['clip']} | {r['noise']} | {kept} | {r.get('id_first_last', '-')} | {r['flicker']} | "
            f"{r['change']} | {r.get('reached', '-')} | {r['seconds']} |"
        )
    for noise in ("shared", "independent"):
        for kind in ("photo", "attributes", "seeds"):
            chosen = [r for r in rows if r["noise"] == noise and r["kind"] == kind]
            if chosen:
                mean = {k: round(sum(r[k] for r in chosen) / len(chosen), 3) for k in chosen[0] if
                        isinstance(chosen[0][k], (int, float))}  # fmt: skip
                print(f"mean {kind:10s} {noise:11s} {json.dumps(mean)}")
    if args.strip and strip:
        from facegen.utils.images import grid, save_picture

        picked = sorted({round(i * (args.frames - 1) / 7) for i in range(min(8, args.frames))})  # first to last
        save_picture(grid(torch.cat([frames[picked] for frames in strip]), nrow=len(picked)), args.strip)
        print(f"wrote {args.strip}")


if __name__ == "__main__":
    main()
