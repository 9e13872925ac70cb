"""Do edits of real photos do what was asked, and what do they keep? Curves over strength and guidance.

    python benchmarks/edit_locality.py --faces celeba celebamask ffhq --num-faces 12 \
        --strength 0.8 1.0 --cfg-scale 3 6 --from-source 1 --out edits.jsonl
    python benchmarks/edit_locality.py --checkpoint runs/celeba32_attr_tiny --faces celeba   # a training run

Each photo goes through `facegen.photo_edit.edit_photo`, as `facegen edit --paste-back` runs it: CelebA test
photos (178x218, already aligned; their CelebA labels are the source attributes), CelebAMask-HQ 512x512 photos
and FFHQ 128x128 thumbnails (aligned with dlib; the shipped classifier's reading is the source). Each edit flips
one attribute (default Smiling, Eyeglasses, Blond_Hair, Male, Young). Per attribute, photo set and setting:

- success: fraction of edits the shipped attribute classifier reads with the target value (the model's face);
- identity_kept: fraction under dlib's same-person threshold 0.6 (input face -> edited face), and the distance
  (the faces extra; as edit.json reports it);
- kept_psnr: PSNR of the edited face against the input outside the attribute's region (Male, Young: no region);
- photo_psnr: PSNR of the pasted photo against the photo, over the face's footprint outside the attribute's region;
- detail: Laplacian energy of the pasted photo in dlib's face box over the photo's own (1 = all its fine detail).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import torch

from facegen.data import CELEBA_ATTRIBUTES, build_dataset
from facegen.evaluation.classifier import predicted_attributes
from facegen.faces.align import align_if_needed, apply_transform, frame_transform
from facegen.photo_edit import edit_photo
from facegen.pipeline import FacePipeline

# Regions as fractions (top, bottom, left, right) of the 178x178 aligned CelebA crop.
REGIONS = {
    "Smiling": (0.64, 0.86, 0.28, 0.72),  # mouth
    "Eyeglasses": (0.40, 0.62, 0.18, 0.82),  # eye band
    "Blond_Hair": (0.0, 0.30, 0.0, 1.0),  # top of the head
    "Male": None,  # global: the whole face changes
    "Young": None,
}
SHARED = Path("../shared/data")
FOLDERS = {"celebamask": "celebamask-hq-512", "ffhq": "ffhq-thumbnails-128"}


def region_mask(name: str, size: int) -> torch.Tensor:
    """Pixels of the attribute's region (none for global attributes: everything counts as "outside")."""
    mask = torch.zeros(size, size, dtype=torch.bool)
    if REGIONS[name] is not None:
        top, bottom, left, right = (round(f * size) for f in REGIONS[name])
        mask[top:bottom, left:right] = True
    return mask


def psnr(a: torch.Tensor, b: torch.Tensor, where: torch.Tensor | None = None) -> float:
    """PSNR of [-1, 1] images (peak-to-peak 2) over the pixels ``where`` (default all)."""
    error = (a - b).square().mean(dim=0)  # [S, S]
    mse = error[where].mean() if where is not None else error.mean()
    return (10 * torch.log10(4 / mse.clamp_min(1e-12))).item()


def laplacian_energy(pixels: np.ndarray) -> float:
    """Mean squared 4-neighbour Laplacian of the grey image: the fine detail a blur removes."""
    grey = pixels.astype(np.float64).mean(axis=2)
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(np.mean(lap**2))


def photo_scores(result, name: str, size: int) -> dict[str, float]:
    """photo_psnr and detail of the pasted photo (see the module's docstring)."""
    photo, pasted = (np.asarray(im, dtype=np.float64) for im in (result.photo, result.pasted))
    face = result.alignment
    ys, xs = np.mgrid[: photo.shape[0], : photo.shape[1]] + 0.5
    to_crop = np.linalg.inv(np.vstack([frame_transform((size, size)), [0, 0, 1]]))[:2] @ np.vstack(
        [face.transform, [0, 0, 1]]
    )
    u, v = apply_transform(to_crop, np.stack([xs.ravel(), ys.ravel()], 1)).T.reshape(2, *xs.shape) / size
    where = (u >= 0) & (u < 1) & (v >= 0) & (v < 1)
    if REGIONS[name] is not None:
        top, bottom, left, right = REGIONS[name]
        where &= ~((v >= top) & (v < bottom) & (u >= left) & (u < right))
    mse = ((pasted - photo) ** 2).mean(axis=2)[where].mean()
    left, top, right, bottom = face.box if face.box is not None else (0, 0, photo.shape[1], photo.shape[0])
    box = (slice(max(top, 0), bottom), slice(max(left, 0), right))
    return {
        "photo_psnr": 10 * np.log10(255**2 / max(mse, 1e-12)),
        "detail": laplacian_energy(pasted[box]) / laplacian_energy(photo[box]),
    }


def photo_set(kind: str, count: int) -> list[tuple[Path, torch.Tensor | None]]:
    """(photo, CelebA labels or None) for the first ``count`` photos of a set."""
    if kind == "celeba":
        ds = build_dataset("celeba", SHARED / "celeba", "test", image_size=64, max_images=count)
        return [(ds.image_dir / f, torch.as_tensor(ds.attributes[i]).float()) for i, f in enumerate(ds.filenames)]
    return [(p, None) for p in sorted((SHARED / FOLDERS[kind]).iterdir())[:count]]


def scores(pipe, photos, name: str, setting: dict, steps: int | None) -> dict[str, float]:
    index = CELEBA_ATTRIBUTES.index(name)
    size = pipe.config.data.image_size
    mask = region_mask(name, size)
    rows = []
    for path, labels, face in photos:
        source = labels if labels is not None else predicted_attributes(face.input)[0]
        target = -source[index].item()  # flip the attribute the face has or lacks
        result = edit_photo(
            pipe,
            path,
            {name: int(target > 0)},
            steps=steps,
            source_attributes=source,
            alignment=face.alignment,
            **setting,
        )
        x, edited = result.faces["input"][0], result.faces["edited"][0]
        row = {
            "success": float(predicted_attributes(edited[None])[0, index].item() == target),
            "kept_psnr": psnr(edited, x, ~mask),
            **photo_scores(result, name, size),
        }
        row |= {k: result.report[k] for k in ("identity_distance", "identity_kept") if k in result.report}
        rows.append(row)
    return {key: round(float(np.mean([r[key] for r in rows])), 4) for key in rows[0]}


class _Face:
    """A photo aligned once, and its face as the model sees it (for the classifier's reading of the source)."""

    def __init__(self, path: Path, size: int):
        from facegen.pipeline import load_face

        self.alignment = align_if_needed(path)
        self.input = load_face(self.alignment.image, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", help="a training run (default: the bundled --model)")
    parser.add_argument("--model", default="faces128")
    parser.add_argument("--faces", nargs="+", choices=["celeba", *FOLDERS], default=["celeba"])
    parser.add_argument("--attributes", nargs="+", choices=list(REGIONS), default=list(REGIONS))
    parser.add_argument("--num-faces", type=int, default=12)
    parser.add_argument("--strength", type=float, nargs="+", default=[None])
    parser.add_argument("--cfg-scale", type=float, nargs="+", default=[None])
    parser.add_argument("--from-source", type=int, nargs="+", choices=[0, 1], default=[1], help="guide from source")
    parser.add_argument("--inversion-steps", type=int, nargs="+", default=[None])
    parser.add_argument("--steps", type=int)
    parser.add_argument("--out", help="also append every row as a JSON line here")
    args = parser.parse_args()

    pipe = FacePipeline.load(checkpoint=args.checkpoint, model=None if args.checkpoint else args.model)
    size = pipe.config.data.image_size
    grid = itertools.product(args.strength, args.cfg_scale, args.from_source, args.inversion_steps)
    settings = [dict(strength=s, cfg_scale=g, guide_from_source=bool(f), inversion_steps=i) for s, g, f, i in grid]
    for kind in args.faces:
        photos = [(path, labels, _Face(path, size)) for path, labels in photo_set(kind, args.num_faces)]
        for setting in settings:
            for name in args.attributes:
                row = {"faces": kind, "attribute": name, **setting, "photos": len(photos)}
                row |= scores(pipe, photos, name, setting, args.steps)
                print(json.dumps(row), flush=True)
                if args.out:
                    with open(args.out, "a") as handle:
                        handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
