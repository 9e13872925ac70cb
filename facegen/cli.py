"""The ``facegen`` command: parses arguments and calls the library (no logic lives here).

facegen train --config configs/celeba32_tiny.yaml train.max_steps=2000 [--resume auto]
facegen sample --checkpoint runs/celeba32_tiny --num-samples 16 --steps 50 --sampler heun --out out/ --gif
facegen sample --checkpoint runs/celeba32_attr --attributes "Smiling=1,Eyeglasses=1" --cfg-scale 2.0 --out out/
facegen edit --checkpoint runs/celeba32_attr --image face.jpg --set "Smiling=1" --strength 0.6 --out edit/
facegen interpolate --checkpoint runs/celeba32_attr --from "Male=1,Smiling=0" --to "Male=0,Smiling=1" --out interp/
facegen data prepare --config configs/celeba32_tiny.yaml [--download]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (defaults apply to keys it leaves out)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.lr=1e-4")


def _generation_parser(sub, name: str, help: str, out: str | None) -> argparse.ArgumentParser:
    """A subcommand that loads a checkpoint and samples from it: the options they all share."""
    parser = sub.add_parser(name, help=help)
    parser.add_argument(
        "--checkpoint", help="a training run folder (best, else latest) or checkpoint folder (default: --model)"
    )
    parser.add_argument(
        "--model", help="a pretrained model name (`facegen models`) or exported folder; default: faces128, bundled"
    )
    parser.add_argument("--steps", type=int, help="sampler steps (default: the run's sampler.steps)")
    parser.add_argument("--cfg-scale", type=float, help="classifier-free guidance (1 = off; default: the run's)")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument("--out", default=out, help="output folder" if out else "write the JSON report here")
    return parser


def _config(args: argparse.Namespace):
    from facegen.config import load_config

    return load_config(args.config, args.overrides)


def cmd_train(args: argparse.Namespace) -> None:
    from facegen.training.trainer import train

    summary = train(_config(args), resume=args.resume)
    print(f"done: step {summary['step']}, {summary['images_per_sec']} images/s")


def cmd_sample(args: argparse.Namespace) -> None:
    from facegen.pipeline import FacePipeline

    pipe = FacePipeline.load(args.checkpoint, args.model, device=args.device, use_ema=not args.no_ema)
    out = pipe.generate(
        num_samples=args.num_samples,
        steps=args.steps,
        sampler=args.sampler,
        seed=args.seed,
        attributes=args.attributes,
        prompt=args.prompt,
        reference=args.reference,
        cfg_scale=args.cfg_scale,
        batch_size=args.batch_size,
        return_trajectory=args.gif,
    )
    images, trajectory = out if args.gif else (out, None)
    folder = pipe.save(images, args.out, trajectory)
    print(f"wrote {len(images)} samples from {pipe.checkpoint} to {folder}")


def cmd_edit(args: argparse.Namespace) -> None:
    import torch

    from facegen.pipeline import FacePipeline
    from facegen.utils.images import grid, save_png

    pipe = FacePipeline.load(args.checkpoint, args.model, device=args.device)
    result = pipe.edit(
        args.image,
        args.set,
        strength=args.strength,
        steps=args.steps,
        cfg_scale=args.cfg_scale,
        source_attributes=args.source,
        use_semantic=False if args.no_semantic else None,
        semantic_margin=args.semantic_margin,
    )
    out = Path(args.out)
    for name, image in result.items():
        save_png(image[0], out / f"{name}.png")
    save_png(grid(torch.cat(list(result.values())), nrow=3), out / "comparison.png")
    print(f"wrote input, reconstruction, edited and comparison.png to {out}")


def cmd_interpolate(args: argparse.Namespace) -> None:
    from facegen.pipeline import FacePipeline
    from facegen.utils.images import grid, save_gif, save_png

    pipe = FacePipeline.load(args.checkpoint, args.model, device=args.device)
    attributes = (args.start, args.end) if args.start is not None or args.end is not None else None
    seeds = tuple(args.seeds) if args.seeds else None
    frames = pipe.interpolate(
        attributes=attributes,
        seeds=seeds,
        num_frames=args.frames,
        seed=args.seed,
        steps=args.steps,
        cfg_scale=args.cfg_scale,
    )
    out = Path(args.out)
    save_png(grid(frames, nrow=len(frames)), out / "strip.png")
    save_gif(list(frames), out / "interpolation.gif", duration_ms=150, hold_last_ms=600)
    print(f"wrote strip.png and interpolation.gif ({len(frames)} frames) to {out}")


def cmd_eval(args: argparse.Namespace) -> None:
    import json

    from facegen.evaluation import format_report_table
    from facegen.pipeline import FacePipeline
    from facegen.scoring import score
    from facegen.utils.io import atomic_write_json

    pipe = FacePipeline.load(args.checkpoint, args.model, device=args.device)
    celeba_root = args.celeba_root or (pipe.config.data.root if pipe.config.data.dataset == "celeba" else None)
    report = score(
        pipe,
        [m.strip() for m in args.metrics.split(",") if m.strip()],
        args.num_samples,
        args.ref,
        celeba_root,
        seed=args.seed,
        steps=args.steps,
        cfg_scale=args.cfg_scale,
        batch_size=args.batch_size,
        inception_weights=args.inception_weights,
        clip_model=args.clip_model,
        max_reference_images=args.max_reference_images,
    )
    print(format_report_table(report))
    if args.out:
        atomic_write_json(args.out, report)
        print(f"report written to {args.out}")
    else:
        print(json.dumps(report["protocol"], indent=2))


def cmd_models(args: argparse.Namespace) -> None:
    from facegen.pretrained import list_models

    for row in list_models():
        status = (
            f"{row['size_mb']} MB, {row['parameters_m']}M params, {row['image_size']}px, {row['conditioning']}"
            if row["installed"]
            else "not installed"
        )
        print(f"{row['name']:<12} {status}\n             {row['summary']}")


def cmd_export(args: argparse.Namespace) -> None:
    from facegen.pretrained import export_model

    folder = export_model(args.checkpoint, args.out, card=args.card, overwrite=args.overwrite)
    print(f"exported {args.checkpoint} to {folder} (load it with --model {folder})")


def cmd_data_prepare(args: argparse.Namespace) -> None:
    from facegen.builders import cache_from_config

    cfg = _config(args)
    if args.download:
        cfg.data.download = True
    cache = cache_from_config(cfg)
    print(f"cache ready: {len(cache)} images at {cfg.data.image_size}px in {cache.path}")


def cmd_data_encode(args: argparse.Namespace) -> None:
    from facegen.builders import encoded_cache_from_config

    cache = encoded_cache_from_config(_config(args))
    print(f"encoded cache ready: {len(cache)} faces (and their mirrors) in {cache.path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facegen", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model from a config")
    _add_config_args(train)
    train.add_argument("--resume", help="'auto' (this run's latest checkpoint) or a checkpoint/run path")
    train.set_defaults(func=cmd_train)

    sample = _generation_parser(sub, "sample", "generate faces from a checkpoint", out="samples")
    sample.add_argument("--num-samples", type=int, default=16)
    sample.add_argument(
        "--sampler", choices=["euler", "heun", "dopri5", "ddpm", "ddim", "dpm++"], help="default: the run's"
    )
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--batch-size", type=int, default=64)
    sample.add_argument("--gif", action="store_true", help="also write trajectory.gif (noise to face)")
    sample.add_argument("--no-ema", action="store_true", help="use the raw weights instead of the EMA")
    sample.add_argument("--attributes", help='e.g. "Smiling=1,Eyeglasses=1" (1 present, 0 absent, others free)')
    sample.add_argument(
        "--prompt", help='text-conditioned models: e.g. "a smiling woman with eyeglasses" ("" = unconditional)'
    )
    sample.add_argument(
        "--reference", help="a face image: variations of it (models trained with conditioning.semantic_dim > 0)"
    )
    sample.set_defaults(func=cmd_sample)

    edit = _generation_parser(sub, "edit", "change attributes of a real face", out="edit")
    edit.add_argument("--image", required=True, help="any face photo (cropped to a centred square)")
    edit.add_argument("--set", required=True, help='attributes to change, e.g. "Smiling=1"')
    edit.add_argument("--source", help="the photo's own attributes, if known (default: the classifier's reading)")
    edit.add_argument("--strength", type=float, default=0.6, help="how far to invert: 0..1 (1 = to pure noise)")
    edit.add_argument("--no-semantic", action="store_true", help="ignore the model's semantic encoder: inversion alone")
    edit.add_argument(
        "--semantic-margin", type=float, default=4.0, help="how far the face's code moves along attribute directions"
    )
    edit.set_defaults(func=cmd_edit)

    interp = _generation_parser(
        sub, "interpolate", "morph between two attribute sets and/or two seeds", "interpolation"
    )
    interp.add_argument("--from", dest="start", help='start attributes, e.g. "Male=1,Smiling=0"')
    interp.add_argument("--to", dest="end", help='end attributes, e.g. "Male=0,Smiling=1"')
    interp.add_argument("--seeds", type=int, nargs=2, metavar=("A", "B"), help="slerp between these two noises")
    interp.add_argument("--seed", type=int, default=0, help="the noise for attribute interpolation")
    interp.add_argument("--frames", type=int, default=8)
    interp.set_defaults(func=cmd_interpolate)

    ev = _generation_parser(
        sub, "eval", "generate from a checkpoint and score the samples (FID/KID, FD_attr, ...)", None
    )
    ev.add_argument("--num-samples", type=int, default=1000)
    ev.add_argument(
        "--metrics",
        default="fd_attr,kid_attr",
        help="comma list of fid, kid, fd_attr, kid_attr, attr_consistency, clip_score",
    )
    ev.add_argument("--ref", default="celeba:test", help="celeba:test, celeba:valid or folder:/path")
    ev.add_argument("--celeba-root", help="default: the run's data.root")
    ev.add_argument("--max-reference-images", type=int)
    ev.add_argument("--inception-weights", help="pt_inception-2015-12-05-6726825d.pth for fid/kid offline")
    ev.add_argument("--clip-model", help="a local CLIP folder for clip_score")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--batch-size", type=int, default=64)
    ev.set_defaults(func=cmd_eval)

    models = sub.add_parser("models", help="list the pretrained models in the package")
    models.set_defaults(func=cmd_models)
    export = sub.add_parser("export", help="a training run -> a self-contained fp16 model folder (--model loads it)")
    export.add_argument("--checkpoint", required=True, help="run folder (best, else latest) or checkpoint folder")
    export.add_argument("--out", required=True, help="the model folder to write")
    export.add_argument("--card", help="a Markdown model card to put beside the weights")
    export.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    export.set_defaults(func=cmd_export)

    data = sub.add_parser("data", help="datasets and caches").add_subparsers(dest="data_command", required=True)
    prepare = data.add_parser("prepare", help="decode a dataset once into the uint8 cache training reads")
    _add_config_args(prepare)
    prepare.add_argument("--download", action="store_true", help="try to download CelebA into data.root first")
    prepare.set_defaults(func=cmd_data_prepare)
    encode = data.add_parser("encode", help="run the autoencoder (and text encoder) once over the cached faces")
    _add_config_args(encode)
    encode.set_defaults(func=cmd_data_encode)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from facegen.config import ConfigError

    try:
        args.func(args)
    except (ConfigError, FileNotFoundError, ValueError, RuntimeError) as err:
        if os.environ.get("FACEGEN_DEBUG"):  # the full traceback, for bug reports
            raise
        print(f"facegen: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
