"""Which noise seed gives `facegen interpolate` a face in every frame? Picks the default of `interpolate --seed`.

    OMP_NUM_THREADS=1 python benchmarks/interpolate_seeds.py --seeds 32 [--model faces128]

For each seed, the README's morph (``--from-attributes "Male=1,Smiling=0" --to-attributes "Male=0,Smiling=1"``,
8 frames, the model's default steps and guidance) is scored by dlib's frontal face detector (the ``faces`` extra):
a frame's score is its best detection score (HOG + SVM margin, upsampled once; -2 when nothing is found), a
seed's score the worst frame's. Prints the seeds best first; the strips of the best and of seed 0 are written to
``--out`` to look at.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from facegen.pipeline import FacePipeline
from facegen.utils.images import grid, save_picture
from facegen.utils.pixels import to_uint8

ENDS = ("Male=1,Smiling=0", "Male=0,Smiling=1")
NOT_FOUND = -2.0


def worst_frame_score(detector, frames) -> float:
    scores = []
    for array in to_uint8(frames).permute(0, 2, 3, 1).numpy():
        _, found, _ = detector.run(np.ascontiguousarray(array), 1, -1.0)
        scores.append(max(found, default=NOT_FOUND))
    return min(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces128")
    parser.add_argument("--seeds", type=int, default=32, help="score seeds 0 .. N-1")
    parser.add_argument("--out", default="interpolate_seeds")
    args = parser.parse_args()
    import dlib

    detector = dlib.get_frontal_face_detector()
    pipe = FacePipeline.from_pretrained(args.model, device="cpu")
    strips, scores = {}, {}
    for seed in range(args.seeds):
        frames = pipe.interpolate(attributes=ENDS, seed=seed, num_frames=8)
        strips[seed], scores[seed] = frames, worst_frame_score(detector, frames)
        print(f"seed {seed}: worst frame {scores[seed]:.3f}", flush=True)
    ranked = sorted(scores, key=scores.get, reverse=True)
    print("best first:", ", ".join(f"{s} ({scores[s]:.2f})" for s in ranked[:8]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for seed in {ranked[0], 0}:
        save_picture(grid(strips[seed], nrow=len(strips[seed])), out / f"seed{seed}.png")


if __name__ == "__main__":
    main()
