"""The README's edit examples: the first CelebA test photos, one row per attribute flipped, each photo as input /
reconstruction / edit (the model's 128 px faces), with the shipped per-attribute defaults, as `facegen edit` runs.

    python benchmarks/edit_examples.py --num-faces 4 --out docs/faces128_edits.png

The source attributes are the photos' CelebA labels; each edit flips the one its row names.
"""

from __future__ import annotations

import argparse

import torch
from edit_locality import REGIONS, photo_set

from facegen.data import CELEBA_ATTRIBUTES
from facegen.photo_edit import edit_photo
from facegen.pipeline import FacePipeline
from facegen.utils.images import grid, to_pil


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="faces128")
    parser.add_argument("--attributes", nargs="+", choices=list(REGIONS), default=list(REGIONS))
    parser.add_argument("--num-faces", type=int, default=4)
    parser.add_argument("--out", required=True, help="a .png or .jpg")
    args = parser.parse_args()
    pipe = FacePipeline.from_pretrained(args.model)
    photos = photo_set("celeba", args.num_faces)
    tiles = []
    for name in args.attributes:
        index = CELEBA_ATTRIBUTES.index(name)
        for path, labels in photos:
            target = int(labels[index] < 0)  # labels are -1 / 1: flip the one this row names
            result = edit_photo(pipe, path, {name: target}, source_attributes=labels)
            tiles += [result.faces[key][0] for key in ("input", "reconstruction", "edited")]
            print(path.name, name, "->", target, result.report.get("identity_distance"))
    to_pil(grid(torch.stack(tiles), nrow=3 * len(photos), padding=2)).save(args.out)
    print(f"wrote {args.out}: rows {', '.join(args.attributes)}; each photo input / reconstruction / edit")


if __name__ == "__main__":
    main()
