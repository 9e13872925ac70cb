"""How well do attribute edits work, and what do they keep? Inversion alone vs. with the face's semantic code.

    python benchmarks/edit_locality.py --checkpoint runs/celeba32_attr_tiny \
        --checkpoint runs/celeba32_attr_semantic_tiny --num-faces 32 --strength 0.6 1.0 [--out edits.png]
    python benchmarks/edit_locality.py --model faces128 --faces ffhq --num-faces 32   # the bundled model, FFHQ

On shared CelebA test faces (aligned, so eyes and mouth sit at fixed places; their true labels are the source
attributes) or FFHQ thumbnails (aligned differently; the shipped classifier's reading is the source), each face is
edited to flip one attribute (default Smiling, Eyeglasses, Blond_Hair, Male, Young). Every model is edited by
inversion alone; one with a semantic encoder also with its code of the face ("semantic"). Male and Young change the
whole face, so they have no region: their kept PSNR is over the whole image. Per attribute:

- recon_psnr: PSNR of the reconstruction (inversion + regeneration, same attributes) against the input;
- ratio: mean change (edited vs reconstruction) inside the attribute's region over the change outside it;
- kept_psnr: PSNR of the edit against the input outside the region: how much of the rest of the face survives;
- success: fraction of edits the shipped attribute classifier reads with the target value;
- others_kept: fraction of the other 39 attributes whose classifier reading the edit leaves unchanged;
- identity_distance / identity_kept (with the faces extra): dlib face-descriptor distance input -> edit, and the
  fraction of edits still under dlib's same-person threshold 0.6.
"""

from __future__ import annotations

import argparse
import json

import torch

from facegen.conditioning.attributes import create_attribute_vector
from facegen.data import CELEBA_ATTRIBUTES, build_dataset
from facegen.pipeline import FacePipeline, predicted_attributes
from facegen.utils.images import grid, save_png

# Regions as fractions (top, bottom, left, right) of the 178x178 aligned CelebA crop.
REGIONS = {
    "Smiling": (0.64, 0.86, 0.28, 0.72),  # mouth
    "Eyeglasses": (0.40, 0.62, 0.18, 0.82),  # eye band
    "Blond_Hair": (0.0, 0.30, 0.0, 1.0),  # top of the head
    "Male": None,  # global: the whole face changes
    "Young": None,
}
FACE_SOURCES = {"celeba": "../shared/data/celeba", "ffhq": "../shared/data/ffhq-thumbnails-128"}


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


def identity_meter():
    """dlib's face descriptor when the faces extra is installed, else None (the columns are left out)."""
    try:
        from facegen.evaluation.identity import FaceIdentity

        return FaceIdentity()
    except ImportError:
        return None


def edit_scores(pipe: FacePipeline, faces, name: str, strength: float, args, use_semantic: bool, identity=None):
    """Mean scores over the faces for one attribute, plus the first faces' results for the picture."""
    index = CELEBA_ATTRIBUTES.index(name)
    mask = region_mask(name, pipe.config.data.image_size)
    others = torch.arange(len(CELEBA_ATTRIBUTES)) != index
    totals, examples = {}, []
    for i in range(len(faces)):
        item = faces[i]
        labels = item.get("attributes")
        if labels is None:  # unlabelled photos: the classifier's reading is the source
            labels = predicted_attributes(item["image"][None])[0]
        target = -labels[index].item()  # flip the attribute the face has or lacks
        result = pipe.edit(
            item["image"],
            create_attribute_vector({name: int(target > 0)}),
            strength=strength,
            steps=args.steps,
            cfg_scale=args.cfg_scale,
            source_attributes=labels,
            use_semantic=use_semantic,
        )
        source, recon, edited = result["input"][0], result["reconstruction"][0], result["edited"][0]
        change = (edited - recon).abs().mean(dim=0)
        read_input, read_edit = predicted_attributes(torch.stack([source, edited]))
        scores = {
            "recon_psnr": psnr(recon, source),
            "inside": change[mask].mean().item() if mask.any() else float("nan"),
            "outside": change[~mask].mean().item(),
            "kept_psnr": psnr(edited, source, ~mask),
            "success": float(read_edit[index].item() == target),
            "others_kept": (read_edit[others] == read_input[others]).float().mean().item(),
        }
        if identity is not None:
            scores.update(identity.compare(source[None], edited[None]))
        for key, value in scores.items():
            totals[key] = totals.get(key, 0.0) + value / len(faces)
        if i < args.picture_faces:
            examples.append(torch.stack([source, recon, edited]))
    totals["ratio"] = totals["inside"] / totals["outside"]
    return {k: round(v, 4) for k, v in totals.items()}, examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="append", default=[], help="a training run; repeat to compare")
    parser.add_argument("--model", action="append", default=[], help="a pretrained model name or folder")
    parser.add_argument("--faces", choices=list(FACE_SOURCES), default="celeba")
    parser.add_argument("--attributes", nargs="+", choices=list(REGIONS), default=list(REGIONS))
    parser.add_argument("--num-faces", type=int, default=32)
    parser.add_argument("--strength", type=float, nargs="+", default=[0.6])
    parser.add_argument("--cfg-scale", type=float, default=3.0)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--picture-faces", type=int, default=4)
    parser.add_argument("--out", help="also write a picture: per method, input / reconstruction / edit triples")
    args = parser.parse_args()

    sources = [("checkpoint", c) for c in args.checkpoint] + [("model", m) for m in args.model]
    if not sources:
        parser.error("give at least one --checkpoint or --model")
    rows, tiles = [], []
    identity = identity_meter()
    for kind, checkpoint in sources:
        pipe = FacePipeline.load(**{kind: checkpoint})
        size = pipe.config.data.image_size
        root = FACE_SOURCES[args.faces]
        if args.faces == "celeba":
            faces = build_dataset("celeba", root, "test", image_size=size, max_images=args.num_faces)
        else:
            faces = build_dataset("folder", root, image_size=size, crop=None, max_images=args.num_faces)
        for use_semantic in [False, True] if pipe.semantic else [False]:
            method = "semantic" if use_semantic else "inversion"
            for strength in args.strength:
                for name in args.attributes:
                    scores, examples = edit_scores(pipe, faces, name, strength, args, use_semantic, identity)
                    rows.append({"checkpoint": checkpoint, "method": method, "strength": strength, "attribute": name})
                    rows[-1].update(scores)
                    print(json.dumps(rows[-1]), flush=True)
                    if strength == args.strength[-1]:
                        tiles.extend(examples)
    protocol = {
        "faces": args.num_faces,
        "faces_from": args.faces,
        "cfg_scale": args.cfg_scale,
        "steps": args.steps,
        "source_attributes": "CelebA labels" if args.faces == "celeba" else "classifier reading",
    }
    print(json.dumps({"protocol": protocol}))
    print(
        "\n| model | method | strength | attribute | recon PSNR | ratio | kept PSNR | success | others kept | "
        "identity distance | identity kept |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['checkpoint']} | {r['method']} | {r['strength']} | {r['attribute']} | {r['recon_psnr']:.2f} | "
            f"{r['ratio']:.2f} | {r['kept_psnr']:.2f} | {r['success']:.2f} | {r['others_kept']:.3f} | "
            f"{r.get('identity_distance', '-')} | {r.get('identity_kept', '-')} |"
        )
    if args.out:
        save_png(grid(torch.cat(tiles), nrow=3 * args.picture_faces), args.out)


if __name__ == "__main__":
    main()
