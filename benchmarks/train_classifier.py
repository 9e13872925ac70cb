"""Train the CelebA attribute classifier that evaluation ships (facegen/assets/), and print its test accuracy.

    nice -n 10 python benchmarks/train_classifier.py --celeba-root ../shared/data/celeba \
        --time-budget-minutes 14.5 --num-threads 1

One thread when other jobs share the machine: two threads that wait on each other measured 16x slower there.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facegen.evaluation.classifier import SHIPPED_WEIGHTS
from facegen.evaluation.classifier_training import train_attribute_classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--celeba-root", type=Path, default=Path("../shared/data/celeba"))
    parser.add_argument("--out", type=Path, default=SHIPPED_WEIGHTS)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=None, help="default: as many as the time budget allows")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-budget-minutes", type=float, default=15.0)
    parser.add_argument("--num-threads", type=int, default=2)
    args = parser.parse_args()
    if not (args.celeba_root / "list_attr_celeba.txt").exists():
        sys.exit(f"CelebA not found at {args.celeba_root} (expected list_attr_celeba.txt there)")
    report = train_attribute_classifier(
        args.celeba_root,
        args.out,
        image_size=args.image_size,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        seed=args.seed,
        time_budget_minutes=args.time_budget_minutes,
        num_threads=args.num_threads,
    )
    test, training = report["test"], report["training"]
    print(
        f"{training['steps']} steps in {training['total_minutes']} min; test mean accuracy "
        f"{test['mean_accuracy']:.4f} (majority baseline {test['majority_baseline']:.4f}); wrote {args.out}"
    )


if __name__ == "__main__":
    main()
