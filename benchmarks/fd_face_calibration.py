"""Does fd_face rank face sets as an eye would? Real faces, degraded real faces and models, all against celeba:test.

    python benchmarks/fd_face_calibration.py --models faces128 /path/to/older/faces128 --num-faces 500

Sets: ``real`` (random CelebA train faces: the floor), ``blurred`` and ``scrambled`` (the same faces degraded,
facegen.evaluation.distortions), then each model at its default settings. One JSON line per set: fd_face, the
face-detection rate, FD_attr, and seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from facegen.data import load_or_build_cache
from facegen.evaluation import evaluate
from facegen.evaluation.distortions import blurred, scrambled
from facegen.pipeline import FacePipeline
from facegen.scoring import score

METRICS = ["fd_face", "fd_attr"]
DEGRADED = {"real": lambda x: x, "blurred": blurred, "scrambled": scrambled}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--celeba-root", default="../shared/data/celeba")
    parser.add_argument("--models", nargs="*", default=["faces128"], help="pretrained model names or folders")
    parser.add_argument("--num-faces", type=int, default=500)
    parser.add_argument("--ref", default="celeba:test")
    parser.add_argument("--sets", nargs="*", default=list(DEGRADED), help="real-face sets (none: models only)")
    args = parser.parse_args()

    if args.sets:
        train = load_or_build_cache("celeba", args.celeba_root, "train", 128, 178)
        rows = np.sort(np.random.default_rng(0).choice(len(train), args.num_faces, replace=False))
        real = torch.from_numpy(np.asarray(train.images[rows]))
    for name in args.sets:
        degrade = DEGRADED[name]
        start = time.perf_counter()
        report = evaluate(degrade(real), METRICS, ref=args.ref, celeba_root=args.celeba_root)
        print(json.dumps({"set": name, **report["metrics"], "seconds": round(time.perf_counter() - start)}))
    for model in args.models:
        start = time.perf_counter()
        report = score(FacePipeline.load(model=model), METRICS, args.num_faces, args.ref, args.celeba_root)
        print(json.dumps({"set": model, **report["metrics"], "seconds": round(time.perf_counter() - start)}))


if __name__ == "__main__":
    main()
