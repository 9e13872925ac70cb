"""How much of a face does its semantic code carry? Variations of a reference face vs plain samples.

    python benchmarks/reference_variations.py --checkpoint runs/celeba32_attr_semantic_tiny --num-faces 32 \
        --variations 8 [--out variations.png]

For each shared CelebA test face, ``variations`` samples conditioned on its semantic code (no attributes given)
are compared with the same number of plain samples from the same noise:

- attr_agreement: fraction of the 40 attributes the shipped classifier reads the same in sample and reference;
- psnr: PSNR of sample against reference (identity and pose kept, not only attributes);
- feature_cos: cosine similarity of the classifier's 256-d features of sample and reference.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from facegen.autoencoders.quality import psnr
from facegen.data import build_dataset
from facegen.evaluation import load_attribute_classifier
from facegen.pipeline import FacePipeline
from facegen.utils.images import grid, save_picture


@torch.no_grad()
def scores(classifier, samples: torch.Tensor, reference: torch.Tensor) -> dict[str, float]:
    features = classifier.features(torch.cat([reference[None], samples]))
    read = classifier.head(features) > 0
    return {
        "attr_agreement": (read[1:] == read[0]).float().mean().item(),
        "psnr": psnr(reference.expand_as(samples), samples).mean().item(),
        "feature_cos": F.cosine_similarity(features[1:], features[:1]).mean().item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--celeba-root", default="../shared/data/celeba")
    parser.add_argument("--num-faces", type=int, default=32)
    parser.add_argument("--variations", type=int, default=8)
    parser.add_argument("--cfg-scale", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--picture-faces", type=int, default=6)
    parser.add_argument("--out", help="also write a picture: per face, the reference then its variations")
    args = parser.parse_args()

    pipe = FacePipeline.from_checkpoint(args.checkpoint)
    classifier = load_attribute_classifier()
    faces = build_dataset("celeba", args.celeba_root, "test", image_size=pipe.config.data.image_size)
    totals, rows = {}, []
    for i in range(args.num_faces):
        reference = faces[i]["image"]
        options = dict(steps=args.steps, seed=i, cfg_scale=args.cfg_scale, progress=False)
        for method, extra in (("reference", {"reference": reference}), ("plain", {})):
            samples = pipe.generate(args.variations, **options, **extra)
            for key, value in scores(classifier, samples, reference).items():
                totals[f"{method}_{key}"] = totals.get(f"{method}_{key}", 0.0) + value / args.num_faces
            if method == "reference" and i < args.picture_faces:
                rows.append(torch.cat([reference[None], samples]))
    protocol = {"faces": args.num_faces, "variations": args.variations, "cfg_scale": args.cfg_scale}
    print(json.dumps({"checkpoint": args.checkpoint, **protocol, **{k: round(v, 4) for k, v in totals.items()}}))
    if args.out:
        save_picture(grid(torch.cat(rows), nrow=args.variations + 1), args.out)


if __name__ == "__main__":
    main()
