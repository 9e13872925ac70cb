"""Does personalization learn the person? Textual inversion, LoRA and DreamBooth on people the base never saw.

    OMP_NUM_THREADS=1 python benchmarks/personalization.py --identities 3 --steps 200 --json /tmp/person.json \
        --picture docs/personalization.jpg

For each CelebA identity with >= 8 photos, all in valid/test (the base model trained on train only): train on the
first 5 photos, hold the rest out. Each method and the base model generate ``--samples`` faces (default 32) under
the same conditions: half under the 5 photos' majority attributes, a quarter with Smiling=1 and a quarter with
Eyeglasses=1 on top; the same seeds for all. The picture shows, per person (side by side), a row of the 5 training
photos, then a row each for the base and each method: two plain samples, one Smiling=1 and one Eyeglasses=1.

- identity_distance / same_person: mean dlib descriptor distance between a sample and a held-out photo (all
  pairs), and the fraction of pairs under dlib's 0.6. The base model's samples (same attributes, no person) are
  the floor; the real training photos against the held-out ones are the ceiling.
- smiling / eyeglasses: fraction of the Smiling=1 (Eyeglasses=1) samples the shipped classifier reads so.
- diversity: mean pairwise identity distance among the samples (copying one training photo would make it small).
- file_kib, cpu_min: the subject file's size and the CPU time of training (encoding, class images, steps).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from facegen.data import CELEBA_ATTRIBUTES, read_identity_file, read_partition_file
from facegen.data.transforms import load_face
from facegen.evaluation.classifier import predicted_attributes
from facegen.faces.identity import SAME_PERSON, FaceIdentity
from facegen.personalization import PersonalizeOptions, personalize
from facegen.personalization.subject import METHODS
from facegen.pipeline import FacePipeline
from facegen.utils.images import grid, image_format, save_picture

TRAIN_PHOTOS = 5
CONTROLS = ("Smiling", "Eyeglasses")


def unseen_people(celeba: Path, minimum: int = 8) -> list[list[Path]]:
    """Photo lists of identities with >= ``minimum`` photos, all in valid/test, in identity order."""
    split = read_partition_file(celeba / "list_eval_partition.txt")
    people: dict[int, list[str]] = {}
    for name, person in read_identity_file(celeba / "identity_CelebA.txt").items():
        people.setdefault(person, []).append(name)
    found = []
    for person in sorted(people):
        names = sorted(people[person])
        files = [celeba / "img_align_celeba" / n for n in names]
        if len(names) >= minimum and all(split.get(n, 0) > 0 for n in names) and all(f.is_file() for f in files):
            found.append(files)
    return found


def conditions(attributes: torch.Tensor, samples: int) -> torch.Tensor:
    """[samples, 40]: half the photos' majority attributes, a quarter with Smiling=1, a quarter Eyeglasses=1."""
    majority = torch.where(attributes.mean(0) > 0, 1.0, -1.0)
    rows = [majority.expand(samples // 2, -1)]
    for name in CONTROLS:
        changed = majority.clone()
        changed[CELEBA_ATTRIBUTES.index(name)] = 1.0
        rows.append(changed.expand(samples // 4, -1))
    return torch.cat(rows)


def identity_scores(ident: FaceIdentity, faces: torch.Tensor, held: torch.Tensor) -> dict[str, float]:
    plain, each = len(faces) // 2, len(faces) // 4
    emb = ident.embed(faces)[0]
    to_held = torch.cdist(emb, held)
    pairwise = torch.cdist(emb, emb)[torch.triu(torch.ones(len(emb), len(emb), dtype=torch.bool), 1)]
    read = predicted_attributes(faces)
    control = {
        name.lower(): (read[plain + i * each : plain + (i + 1) * each, CELEBA_ATTRIBUTES.index(name)] > 0)
        .float()
        .mean()
        .item()
        for i, name in enumerate(CONTROLS)
    }
    return {
        "identity_distance": to_held.mean().item(),
        "same_person": (to_held < SAME_PERSON).float().mean().item(),
        **control,
        "diversity": pairwise.mean().item(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="faces128", help="the base: a pretrained model name or folder")
    parser.add_argument("--checkpoint", help="the base: a training run or checkpoint instead of --model")
    parser.add_argument("--celeba", default="../shared/data/celeba")
    parser.add_argument("--identities", type=int, default=10)
    parser.add_argument("--skip", type=int, default=0, help="start at this identity (to add people to a run)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--samples", type=int, default=32, help="faces per person and method (a multiple of 4)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: OMP_NUM_THREADS / all)")
    parser.add_argument("--json", help="write the per-identity results here")
    parser.add_argument("--picture", help="PNG or JPEG: per person, training photos | base | each method's samples")
    args = parser.parse_args()
    if args.picture:
        image_format(args.picture)  # a wrong suffix fails now, not after the training
    if args.threads:
        torch.set_num_threads(args.threads)
    pipe = FacePipeline.load(args.checkpoint, None if args.checkpoint else args.model, device="cpu")
    ident = FaceIdentity()
    people = unseen_people(Path(args.celeba))[args.skip : args.skip + args.identities]
    results, blocks = [], []
    shown = [0, 1, args.samples // 2, args.samples * 3 // 4]  # two plain samples, one Smiling=1, one Eyeglasses=1
    with tempfile.TemporaryDirectory() as work:
        for person, files in enumerate(people):
            train, held = files[:TRAIN_PHOTOS], files[TRAIN_PHOTOS:]
            photos = torch.cat([load_face(f, pipe.config.data.image_size) for f in train])
            held_emb = ident.embed(torch.cat([load_face(f, pipe.config.data.image_size) for f in held]))[0]
            cond = conditions(predicted_attributes(photos), args.samples)
            seed = 1000 + args.skip + person
            base = pipe.generate(len(cond), attributes=cond, seed=seed, progress=False)
            real = ident.embed(photos)[0]
            entry = {
                "person": files[0].name,
                "held_out": len(held),
                "real": {
                    "identity_distance": torch.cdist(real, held_emb).mean().item(),
                    "same_person": (torch.cdist(real, held_emb) < SAME_PERSON).float().mean().item(),
                },
                "base": identity_scores(ident, base, held_emb),
            }
            block = [photos, base[shown]]
            for method in args.methods:
                out = Path(work) / f"{person}-{method}.safetensors"
                options = PersonalizeOptions(method=method, steps=args.steps, batch_size=args.batch_size, preview=0)
                began = time.process_time()
                subject = personalize(pipe, train, f"person{person}", out, options, progress=False)
                cpu = time.process_time() - began
                faces = pipe.with_subject(subject).generate(len(cond), attributes=cond, seed=seed, progress=False)
                entry[method] = identity_scores(ident, faces, held_emb) | {
                    "file_kib": out.stat().st_size / 1024,
                    "cpu_min": cpu / 60,
                }
                block.append(faces[shown])
                print(json.dumps({"person": entry["person"], method: entry[method]}), flush=True)
            results.append(entry)
            blocks.append(block)
            write(args, results, blocks)  # after each person: a long run stopped early still leaves its results


def picture(blocks: list[list[torch.Tensor]]) -> torch.Tensor:
    """People side by side; in each, one row per source (training photos, base, methods), blank-padded."""
    width = max(len(part) for block in blocks for part in block) + 1  # + a blank column between people
    tiles = []
    for source in range(len(blocks[0])):
        for block in blocks:
            part = block[source]
            tiles += [part, torch.ones(width - len(part), *part.shape[1:])]
    return grid(torch.cat(tiles), nrow=width * len(blocks))


def write(args: argparse.Namespace, results: list[dict], blocks: list[list[torch.Tensor]]) -> None:
    summary = {
        key: {metric: sum(r[key][metric] for r in results) / len(results) for metric in results[0][key]}
        for key in ["real", "base", *args.methods]
    }
    report = {"protocol": vars(args), "people": results, "mean": summary, "torch_threads": torch.get_num_threads()}
    print(json.dumps(summary), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    if args.picture:
        save_picture(picture(blocks), args.picture)


if __name__ == "__main__":
    main()
