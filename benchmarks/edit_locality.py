"""How local are attribute edits? Mean pixel change inside the edited attribute's region vs outside it.

    python benchmarks/edit_locality.py --checkpoint runs/celeba32_attr_tiny --num-faces 32 [--out docs/edit_example.png]

On shared CelebA test faces (aligned, so eyes and mouth sit at fixed places), each face is edited to flip one
attribute (Smiling, Eyeglasses, Blond_Hair) with its true labels as source attributes. A good edit changes its
region much more than the rest of the face: the ratio inside/outside is printed per attribute, as JSON.
"""

from __future__ import annotations

import argparse
import json

import torch

from facegen.conditioning.attributes import create_attribute_vector
from facegen.data import CELEBA_ATTRIBUTES, build_dataset
from facegen.pipeline import FacePipeline
from facegen.utils.images import grid, save_png

# Regions as fractions (top, bottom, left, right) of the 178x178 aligned CelebA crop.
REGIONS = {
    "Smiling": (0.64, 0.86, 0.28, 0.72),  # mouth
    "Eyeglasses": (0.40, 0.62, 0.18, 0.82),  # eye band
    "Blond_Hair": (0.0, 0.30, 0.0, 1.0),  # top of the head
}


def region_mask(name: str, size: int) -> torch.Tensor:
    top, bottom, left, right = (round(f * size) for f in REGIONS[name])
    mask = torch.zeros(size, size, dtype=torch.bool)
    mask[top:bottom, left:right] = True
    return mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--celeba-root", default="../shared/data/celeba")
    parser.add_argument("--num-faces", type=int, default=32)
    parser.add_argument("--strength", type=float, default=0.6)
    parser.add_argument("--cfg-scale", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--out", help="also write a picture: rows of input / reconstruction / each edit")
    args = parser.parse_args()

    pipe = FacePipeline.from_checkpoint(args.checkpoint)
    size = pipe.config.data.image_size
    faces = build_dataset("celeba", root=args.celeba_root, split="test", image_size=size, max_images=args.num_faces)
    report, rows = {}, []
    for name in REGIONS:
        index = CELEBA_ATTRIBUTES.index(name)
        mask = region_mask(name, size)
        inside, outside = [], []
        for i in range(len(faces)):
            item = faces[i]
            target = -item["attributes"][index].item()  # flip the attribute the face has or lacks
            result = pipe.edit(
                item["image"],
                create_attribute_vector({name: int(target > 0)}),
                strength=args.strength,
                steps=args.steps,
                cfg_scale=args.cfg_scale,
                source_attributes=item["attributes"],
            )
            change = (result["edited"][0] - result["reconstruction"][0]).abs().mean(dim=0)  # [S, S]
            inside.append(change[mask].mean().item())
            outside.append(change[~mask].mean().item())
            if i < 4:
                rows.append((name, result))
        mean_in, mean_out = sum(inside) / len(inside), sum(outside) / len(outside)
        report[name] = {
            "inside": round(mean_in, 4),
            "outside": round(mean_out, 4),
            "ratio": round(mean_in / mean_out, 2),
        }
    report["protocol"] = {
        "checkpoint": str(pipe.checkpoint),
        "faces": len(faces),
        "split": "test",
        "strength": args.strength,
        "cfg_scale": args.cfg_scale,
        "steps": args.steps,
        "change": "mean |edited - reconstruction| over RGB in [-1, 1]",
    }
    print(json.dumps(report, indent=2))
    if args.out:
        tiles = [torch.cat([r["input"], r["reconstruction"], r["edited"]]) for _, r in rows]
        save_png(grid(torch.cat(tiles), nrow=12), args.out)


if __name__ == "__main__":
    main()
