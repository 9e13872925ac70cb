"""A picture of attribute control: for each attribute a row "off" and a row "on", same noise in every column.

    python benchmarks/attribute_grid.py --checkpoint runs/celeba32_attr_tiny --out docs/celeba32_attr_grid.png

Prints, as JSON, how often the shipped CelebA attribute classifier sees each attribute in the "on" and "off" rows
(when the evaluation package and its weights are present), so the picture comes with a number.
"""

from __future__ import annotations

import argparse
import json

import torch

from facegen.pipeline import FacePipeline
from facegen.utils.images import grid, save_picture

ATTRIBUTES = ("Smiling", "Eyeglasses", "Male", "Blond_Hair")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="a training run (default: --model)")
    parser.add_argument("--model", help="a pretrained model name or folder (default: faces128)")
    parser.add_argument("--attributes", nargs="+", default=list(ATTRIBUTES))
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--cfg-scale", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    pipe = FacePipeline.load(args.checkpoint, args.model)
    noise = pipe.noise(args.columns, args.seed)
    rows, report = [], {}
    for name in args.attributes:
        pair = []
        for value in (0, 1):
            faces = pipe.generate(
                args.columns,
                steps=args.steps,
                attributes={name: value},
                cfg_scale=args.cfg_scale,
                noise=noise,
                progress=False,
            )
            rows.append(faces)
            pair.append(faces)
        report[name] = attribute_rates(name, pair)
    save_picture(grid(torch.cat(rows), nrow=args.columns), args.out)
    report["rows"] = [f"{name}={value}" for name in args.attributes for value in (0, 1)]
    print(json.dumps(report, indent=2))


def attribute_rates(name: str, pair: list[torch.Tensor]) -> dict[str, float] | None:
    """Fraction of faces the attribute classifier calls ``name`` in the off and on rows (None without it)."""
    try:
        from facegen.evaluation import load_attribute_classifier
    except ImportError:
        return None
    from facegen.data import CELEBA_ATTRIBUTES

    classifier = load_attribute_classifier()
    index = CELEBA_ATTRIBUTES.index(name)
    with torch.no_grad():
        off, on = ((classifier(faces)[:, index] > 0).float().mean().item() for faces in pair)
    return {"off": round(off, 3), "on": round(on, 3)}


if __name__ == "__main__":
    main()
