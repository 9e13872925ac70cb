"""Does the model copy its training faces? Each generated face's nearest CelebA train face, against the same for
real test faces the model never saw.

    python benchmarks/nearest_train.py --model faces128 --num-faces 256 --out docs/faces128_nearest_train.jpg

The bundled model has seen each of the 9,989 train faces (and its mirror) about 40 times, so copying is the
failure to rule out. Distance: root mean square difference of 32x32 pixels in [0, 1], a face and its mirror both
tried. Copies would sit far below the test faces' distances (real faces that are nobody in the train split); a
model that makes new faces sits at or above them. Prints JSON (median and 5th percentile of both, and how many
generated faces are nearer their nearest train face than the nearest 1% of test faces are); ``--out`` shows the
16 generated faces nearest the train split, each beside its nearest train face.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np
import torch
import torch.nn.functional as F

from facegen.builders import cache_from_config
from facegen.pipeline import FacePipeline
from facegen.utils.images import grid, save_picture

SIDE = 32  # small enough to ignore texture, large enough to tell two people apart


def small(images: torch.Tensor) -> torch.Tensor:
    """[B, 3, S, S] in [-1, 1] -> [B, 3 * SIDE * SIDE] in [0, 1]."""
    return F.interpolate((images.float() + 1) / 2, size=(SIDE, SIDE), mode="area").flatten(1)


def uint8_faces(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array)).float() / 127.5 - 1


def summary(distances: torch.Tensor) -> dict:
    return {"n": len(distances), "median": distances.median().item(), "p05": torch.quantile(distances, 0.05).item()}


def nearest(queries: torch.Tensor, train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RMS distance to, and index of, each query's nearest row of ``train`` (rows of both already ``small``)."""
    dist = torch.cdist(queries, train) / queries.shape[1] ** 0.5
    best, index = dist.min(dim=1)
    return best, index


def with_split(cfg, split: str):
    """The model's data section pointed at another split of the same dataset."""
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, split=split))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="a training run (default: --model)")
    parser.add_argument("--model", help="a pretrained model name or folder (default: faces128)")
    parser.add_argument("--num-faces", type=int, default=256)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out", help="PNG/JPEG of the 16 nearest pairs")
    args = parser.parse_args()

    pipe = FacePipeline.load(args.checkpoint, args.model)
    data = pipe.config.data
    caches = {split: cache_from_config(with_split(pipe.config, split)) for split in ("train", "test")}
    train_images = uint8_faces(caches["train"].images)
    train = torch.cat([small(train_images), small(train_images.flip(-1))])
    test_dist, _ = nearest(small(uint8_faces(caches["test"].images)), train)
    faces = pipe.generate(args.num_faces, seed=args.seed)
    gen_dist, gen_index = nearest(small(faces), train)
    threshold = torch.quantile(test_dist, 0.01)
    report = {
        "model": str(pipe.checkpoint),
        "train_faces": len(caches["train"]),
        "image_size": data.image_size,
        "generated": summary(gen_dist),
        "test": summary(test_dist),
        "generated_nearer_than_test_p01": int((gen_dist < threshold).sum()),
    }
    if args.out:
        order = gen_dist.argsort()[:16]
        index = gen_index[order] % len(train_images)
        flip = gen_index[order] >= len(train_images)
        matches = torch.stack([train_images[i].flip(-1) if f else train_images[i] for i, f in zip(index, flip)])
        pairs = torch.stack([faces[order].cpu(), matches], dim=1).flatten(0, 1)
        save_picture(grid(pairs, nrow=8), args.out)
        report["out"] = args.out
    print(json.dumps(report))


if __name__ == "__main__":
    main()
