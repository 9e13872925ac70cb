"""The CelebA landmark template of facegen.data.align: dlib's 5 landmarks, averaged over aligned CelebA photos.

    python benchmarks/celeba_landmark_template.py [--celeba ../shared/data/celeba] [--count 300]

Runs align's own detector and landmark model over the first ``count`` train-split photos (by id) of the shared
CelebA subset (178x218, already aligned by CelebA) and prints the mean of each landmark (the TEMPLATE constant) with
its spread, and how far held-out test-split photos lie from it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from facegen.faces.detect import NoFaceError, detect_landmarks


def split_files(celeba: Path, split: int, count: int) -> list[Path]:
    """The first ``count`` photos (by id) of a split (0 train, 1 valid, 2 test) present in the subset."""
    rows = (line.split() for line in (celeba / "list_eval_partition.txt").read_text().splitlines() if line.strip())
    names = sorted(name for name, part in rows if int(part) == split)
    files = [celeba / "img_align_celeba" / name for name in names]
    return [f for f in files if f.is_file()][:count]


def landmarks_of(files: list[Path]) -> np.ndarray:
    """[N, 5, 2] landmarks of the photos where a face is found."""
    found = []
    for file in files:
        try:
            found.append(detect_landmarks(Image.open(file).convert("RGB"), str(file))[0])
        except NoFaceError:
            continue
    return np.stack(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--celeba", type=Path, default=Path("../shared/data/celeba"))
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    points = landmarks_of(split_files(args.celeba, 0, args.count))
    template = points.mean(0)
    print(f"{len(points)} of {args.count} train photos with a face")
    print("TEMPLATE = np.array([" + ", ".join(f"[{x:.2f}, {y:.2f}]" for x, y in template) + "])")
    print("spread (std, px) per landmark:", " ".join(f"{s:.2f}" for s in np.linalg.norm(points.std(0), axis=1)))
    held_out = landmarks_of(split_files(args.celeba, 2, 100))
    errors = np.linalg.norm(held_out - template, axis=2).mean(1)
    print(
        f"held-out test photos ({len(held_out)}): mean landmark error {errors.mean():.2f} px, 95th pct "
        f"{np.percentile(errors, 95):.2f} px, max {errors.max():.2f} px"
    )


if __name__ == "__main__":
    main()
