"""How well does facegen.data.align align any photo like CelebA? Detection rate, accuracy, time per photo.

    python benchmarks/alignment.py [--shared ../shared] [--count 50] [--parts template shifted ffhq hq]

- template: the TEMPLATE constant, and how far held-out aligned CelebA test photos' landmarks lie from it;
- shifted CelebA: ``count`` test photos rotated (+-15 deg), rescaled (0.7-2.5x) and placed at a random spot of a
  bigger grey canvas, then aligned: how far each original pixel lands from its place in the original crop
  (mean over the 178x178 crop's corners and the 5 landmarks), the mean absolute pixel difference from the original
  crop (0-255, the 178x178 square facegen uses), and the same after paste-back into the canvas (over the face box);
- detection rate and time per photo on the 113 FFHQ thumbnails (128 px) and on ``2 * count`` CelebAMask-HQ faces
  (512 px), and how far their landmarks lie from the template before alignment (why they count as not aligned).
  Time is CPU seconds of this process (reading, detecting, aligning), so a busy machine does not inflate it.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from facegen.faces.align import (
    ALIGNED_SIZE,
    CROP_TOP,
    TEMPLATE,
    align_face,
    apply_transform,
    frame_transform,
    landmark_error,
)
from facegen.faces.detect import NoFaceError, detect_landmarks

PARTS = ["template", "shifted", "ffhq", "hq"]


def test_files(celeba: Path, count: int) -> list[Path]:
    rows = (line.split() for line in (celeba / "list_eval_partition.txt").read_text().splitlines() if line.strip())
    names = sorted(name for name, part in rows if part == "2")
    return [celeba / "img_align_celeba" / n for n in names if (celeba / "img_align_celeba" / n).is_file()][:count]


def place(photo: Image.Image, rng: np.random.Generator, canvas: int = 600) -> tuple[Image.Image, np.ndarray]:
    """The photo rotated, rescaled and moved into a grey canvas; returns it and the 2x3 original -> canvas."""
    angle, scale = np.deg2rad(rng.uniform(-15, 15)), rng.uniform(0.7, 2.5)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    centre = np.array(photo.size) / 2
    shift = rng.uniform(0.35, 0.65, size=2) * canvas - rotation @ centre
    forward = np.hstack([rotation, shift[:, None]])
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    out = photo.transform(
        (canvas, canvas),
        Image.Transform.AFFINE,
        tuple(inverse.ravel()),
        Image.Resampling.BICUBIC,
        fillcolor=(128, 128, 128),
    )
    return out, forward


def shifted_celeba(files: list[Path], rng: np.random.Generator) -> dict[str, float]:
    crop = np.array([[0, CROP_TOP], [178, CROP_TOP], [0, CROP_TOP + 178], [178, CROP_TOP + 178]], dtype=float)
    consistent, moved, pixels, missed = [], [], [], 0
    for file in files:
        original = Image.open(file).convert("RGB")
        canvas, forward = place(original, rng)
        try:
            face = align_face(canvas, str(file))
        except NoFaceError:
            missed += 1
            continue
        direct = align_face(original)  # the original photo aligned itself: what the canvas should give back
        points = np.vstack([crop, direct.landmarks])
        composite = face.transform @ np.vstack([forward, [0, 0, 1]])  # original pixel -> aligned pixel
        landed = apply_transform(composite, points)
        consistent.append(np.linalg.norm(landed - apply_transform(direct.transform, points), axis=1).mean())
        moved.append(np.linalg.norm(landed - points, axis=1).mean())
        box = (0, CROP_TOP, 178, CROP_TOP + 178)
        a, b = (np.asarray(im.crop(box), dtype=float) for im in (face.image, original))
        pixels.append(np.abs(a - b).mean())
    numbers = {
        "consistency_px": consistent,
        "displacement_px": moved,
        "pixel_diff": pixels,
    }
    summary = {"photos": len(files), "missed": missed}
    for name, values in numbers.items():
        summary |= {name: round(float(np.mean(values)), 2), f"{name}_max": round(float(np.max(values)), 2)}
    return summary


def detection(files: list[Path]) -> dict[str, float]:
    """Success rate, seconds per photo (aligned) and landmark distance to the template in the photo's own frame."""
    found, errors, start = 0, [], time.process_time()
    for file in files:
        try:
            face = align_face(file)
        except NoFaceError:
            continue
        found += 1
        errors.append(landmark_error(apply_transform(frame_transform(Image.open(file).size), face.landmarks)))
    seconds = (time.process_time() - start) / len(files)
    return {
        "photos": len(files),
        "found": found,
        "cpu_seconds_per_photo": round(seconds, 3),
        "landmark_error": round(float(np.mean(errors)), 2),
        "landmark_error_min": round(float(np.min(errors)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared"))
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="what to measure")
    args = parser.parse_args()
    data = args.shared / "data"
    files = test_files(data / "celeba", args.count)
    if "template" in args.parts:
        print("template:", " ".join(f"({x:.2f}, {y:.2f})" for x, y in TEMPLATE), f"in the {ALIGNED_SIZE} frame")
        held_out = [landmark_error(detect_landmarks(Image.open(f).convert("RGB"))[0]) for f in files]
        print(
            f"held-out CelebA test photos ({len(files)}): landmark error {np.mean(held_out):.2f} px "
            f"(95th pct {np.percentile(held_out, 95):.2f}, max {np.max(held_out):.2f})"
        )
    if "shifted" in args.parts:
        print("shifted CelebA:", shifted_celeba(files, np.random.default_rng(0)))
    if "ffhq" in args.parts:
        print("FFHQ thumbnails:", detection(sorted((data / "ffhq-thumbnails-128").glob("*.png"))))
    if "hq" in args.parts:
        print("CelebAMask-HQ:", detection(sorted((data / "celebamask-hq-512").glob("*.jpg"))[: 2 * args.count]))


if __name__ == "__main__":
    main()
