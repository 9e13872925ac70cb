"""The ``facegen`` command: parses and checks arguments, then calls the library (no logic lives here).

facegen train --config configs/celeba32_tiny.yaml train.max_steps=2000 [--resume auto | --overwrite]
facegen sample --checkpoint runs/celeba32_tiny --num-samples 16 --steps 50 --sampler heun --out out/ --gif
facegen sample --checkpoint runs/celeba32_attr_tiny --attributes "Smiling=1,Eyeglasses=1" --cfg-scale 2.0 --out out/
facegen edit --checkpoint runs/celeba32_attr_tiny --image face.jpg --attributes "Smiling=1" --strength 0.6 --out edit/
facegen align photo1.jpg photo2.png --out aligned/     (then: facegen edit --image photo1.jpg ... --paste-back)
facegen interpolate --checkpoint runs/celeba32_attr_tiny --from-attributes "Male=1" --to-attributes "Male=0" --out i/
facegen animate --image photo.jpg --to "Smiling=1" --then "Young=0" --frames 48 --fps 24 --out clip.mp4 [--paste-back]
facegen data prepare --config configs/celeba32_tiny.yaml [--download]

Every command checks all its inputs before any expensive work. A failure prints one line ``facegen: error: ...``
and exits with the code of its class (see ``explain``); ``FACEGEN_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

import facegen
from facegen.config import Bound
from facegen.extras import missing_module_line, require
from facegen.objective_names import ALL_SAMPLERS

# Exit codes, one per class of failure (docs/ROBUSTNESS.md).
EXIT_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_FILE_SYSTEM, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
MAX_MESSAGE = 600  # characters: a message is one readable line, never a dump


class UsageError(ValueError):
    """A command line that argparse cannot parse (unknown option, bad number, missing argument)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line through main's handler instead of usage text + SystemExit
        command = self.prog.removeprefix("facegen").strip()
        raise UsageError(f"{command + ': ' if command else ''}{message} (see `{self.prog} --help`)")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None (= the run's own value, said in the help) and off flags."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def number(kind: type, bound: Bound):
    """An argparse type: an int or a finite float inside ``bound``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        if not math.isfinite(value) or not bound.admits(value):
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    return parse


COUNT, SEED, SCALE = number(int, Bound(1)), number(int, Bound(0, 2**32 - 1)), number(float, Bound(0))
STRENGTH = number(float, Bound(0, 1, low_open=True))  # how far a photo is inverted: (0, 1]


def interval(text: str) -> list[float]:
    """An argparse type: ``LO,HI`` with 0 <= LO < HI <= 1."""
    from facegen.config import is_guidance_interval

    values = text.split(",")
    if len(values) != 2 or not is_guidance_interval(values):
        raise argparse.ArgumentTypeError(f"expected LO,HI with 0 <= LO < HI <= 1, got {text!r}")
    return [float(v) for v in values]


def threads(text: str) -> str | int:
    """An argparse type: ``auto`` or a thread count >= 1."""
    if text == "auto":
        return text
    try:
        return COUNT(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected auto or an integer >= 1, got {text!r}") from None


def _subparser(sub, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=help, formatter_class=_Help)


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="YAML config (defaults apply to keys it leaves out)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.lr=1e-4")


def _add_photo_args(parser: argparse.ArgumentParser, prefix: str, paste_help: str) -> None:
    """How a photo's face is inverted and put back (``edit``, ``animate``)."""
    strength_help = (
        "how far to invert: (0, 1] (1 = to pure noise); default: measured per attribute (docs/BENCHMARKS.md)"
    )
    parser.add_argument("--strength", type=STRENGTH, help=prefix + strength_help)
    parser.add_argument("--no-align", action="store_true", help=prefix + "use the photo's centre square as it is")
    parser.add_argument("--paste-back", action="store_true", help=paste_help)


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    """Which model a command loads (read by ``_pipeline``) and on which device."""
    parser.add_argument(
        "--checkpoint", help="a training run folder (best, else latest) or checkpoint folder (default: --model)"
    )
    parser.add_argument(
        "--model", help="a pretrained model name (`facegen models`) or exported folder; default: faces128, bundled"
    )
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    parser.add_argument(
        "--threads",
        type=threads,
        default="auto",
        help="CPU threads; auto: $OMP_NUM_THREADS, else every core this process may use (as train.num_threads); "
        "1 is faster when other work keeps the cores busy",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="sample through torch.compile: pays on a GPU over many batches; compiling takes minutes on a CPU",
    )


def _generation_parser(sub, name: str, help: str, out: str | None) -> argparse.ArgumentParser:
    """A subcommand that loads a checkpoint and samples from it: the options they all share."""
    parser = _subparser(sub, name, help)
    _add_model_args(parser)
    parser.add_argument("--steps", type=COUNT, help="sampler steps (default: the run's sampler.steps)")
    default = "measured per attribute, guided from the face's own" if name == "edit" else "the run's"
    parser.add_argument("--cfg-scale", type=SCALE, help=f"classifier-free guidance (1 = off; default: {default})")
    if name in ("sample", "eval"):
        parser.add_argument(
            "--guide",
            metavar="MODEL",
            help="autoguidance: also guide away from this weaker model (name or exported folder; same latent space "
            "and conditioning), on top of --cfg-scale; none: without (default: the model's sampler.guide)",
        )
        parser.add_argument(
            "--guide-weight",
            type=SCALE,
            help="weight of the push away from the guide (1 = off; default: the model's sampler.guide_weight)",
        )
        parser.add_argument(
            "--time-shift",
            type=number(float, Bound(0, low_open=True)),
            help="rectified flow: where the fixed steps from noise fall, >1 nearer the noise (1 = evenly spaced; "
            "default: the model's sampler.time_shift)",
        )
    parser.add_argument("--out", default=out, help="output folder" if out else "write the JSON report here")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a --out folder that holds files (replacing those of the same names)"
        if out
        else "replace an existing --out report",
    )
    return parser


def _config(args: argparse.Namespace):
    from facegen.config import load_config
    from facegen.utils.io import regular_file

    return load_config(args.config and regular_file(args.config, "--config"), args.overrides)


def _attributes(text: str | None, option: str) -> str | None:
    """Check an attribute string now (names, values, duplicates), before a model is loaded."""
    from facegen.conditioning.attributes import parse_attributes

    if text is not None:
        try:
            parse_attributes(text)
        except ValueError as err:
            raise ValueError(f"{option}: {err}") from None
    return text


def _image(path: str | None, option: str) -> str | None:
    """Check that ``path`` is a readable image now, naming the option and the file."""
    from PIL import Image

    from facegen.utils.io import regular_file
    from facegen.utils.pixels import to_rgb

    if path is not None:
        regular_file(path, option)  # a FIFO would block forever, a device never end
        try:
            with Image.open(path) as image:
                to_rgb(image)  # decodes it, and refuses pixels that are not numbers
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            reason = type(err).__name__ if "PIL" in str(err) or not str(err) else str(err)
            raise ValueError(f"{option} {path} is not a readable image ({reason})") from None
    return path


def _device(name: str | None) -> str | None:
    import torch

    if name is None:
        return None
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"--device {name!r}: expected cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here (use --device cpu)")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name!r}: expected cpu, cuda or cuda:N")
    return name


def _out(path: str, folder: bool = True) -> str:
    from facegen.utils.io import check_writable

    check_writable(path, folder)
    return path


def _out_folder(args: argparse.Namespace) -> str:
    """``--out`` of a command that writes a folder of files: new or empty, or ``--overwrite`` (before any work)."""
    from facegen.utils.io import check_output_folder

    check_output_folder(args.out, args.overwrite)
    return args.out


def _pipeline(args: argparse.Namespace, use_ema: bool = True):
    import torch

    from facegen.pipeline import FacePipeline, default_device
    from facegen.utils.hardware import configure_cpu_threads

    if args.checkpoint is not None and args.model is not None:
        raise ValueError("give either --checkpoint (a training run) or --model (a pretrained model), not both")
    device = _device(args.device)
    if torch.device(device or default_device()).type == "cpu":  # the rule training follows (train.num_threads)
        configure_cpu_threads(None if args.threads == "auto" else args.threads)
    subject = getattr(args, "subject", None)
    if subject is not None:  # its header is read before the model: a damaged file fails first
        from facegen.personalization.files import read_layout
        from facegen.personalization.subject import SUBJECT_FORMAT

        read_layout(subject, SUBJECT_FORMAT)
    guide = getattr(args, "guide", None)
    if guide not in (None, "none"):  # a missing guide fails before any model loads
        from facegen.pretrained import resolve_model_folder

        resolve_model_folder(guide)
    pipe = FacePipeline.load(args.checkpoint, args.model, device=device, use_ema=use_ema, compile=args.compile)
    if subject is not None:  # first: it drops the model's default guide, and an explicit one is then refused
        pipe = pipe.with_subject(subject)
    shift = getattr(args, "time_shift", None)
    pipe = pipe if shift is None else pipe.with_time_shift(shift)
    return pipe.guided_as(guide, getattr(args, "guide_weight", None))


def _guided_by(pipe) -> str:
    """`` (autoguided by NAME, weight W)`` when sampling pushes away from a weaker model: the output says so."""
    guide = pipe.guide
    return "" if guide is None or guide.weight == 1.0 else f" (autoguided by {guide.name}, weight {guide.weight:g})"


def _of_subject(pipe) -> str:
    """`` of NAME (METHOD)`` for a pipeline carrying a learned person: the file says whom, the output should too."""
    return f" of {pipe.subject.name} ({pipe.subject.method})" if pipe.subject is not None else ""


def cmd_train(args: argparse.Namespace) -> None:
    cfg = _config(args)
    if args.resume and args.overwrite:
        raise ValueError("give --resume (continue the run) or --overwrite (start it over), not both")
    from facegen.checkpoint import check_resume

    if args.resume:
        check_resume(cfg, args.resume)  # a checkpoint of another model is refused before any work
    elif cfg.train.init_from:
        from facegen.pretrained import init_weights

        init_weights(cfg)  # a missing or different model is refused before the data cache is built
    from facegen.run import train

    summary = train(cfg, resume=args.resume, overwrite=args.overwrite)
    print(f"done: step {summary['step']}, {summary['images_per_sec']} images/s")


def cmd_sample(args: argparse.Namespace) -> None:
    _attributes(args.attributes, "--attributes")
    _image(args.reference, "--reference")
    _out_folder(args)
    if args.no_ema and args.checkpoint is None:
        raise ValueError("--no-ema needs --checkpoint (pretrained models hold only their EMA weights)")
    if args.frames is not None or args.first_frame is not None:
        _image(args.first_frame, "--first-frame")
        if args.gif or args.reference is not None or args.prompt is not None:
            raise ValueError("--frames / --first-frame make clips: --gif, --reference and --prompt do not apply")
    if args.video_format != "gif":  # a missing extra is said before the model is loaded
        from facegen.extras import require

        require("video", f"writing .{args.video_format} clips")
    pipe = _pipeline(args, use_ema=not args.no_ema)
    from facegen.clips import is_video

    if is_video(pipe) or args.frames is not None or args.first_frame is not None:
        _sample_clips(args, pipe)
        return
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
        guidance_interval=args.guidance_interval,
    )
    images, trajectory = out if args.gif else (out, None)
    folder = pipe.save(images, args.out, trajectory, overwrite=args.overwrite)
    print(f"wrote {len(images)} samples{_of_subject(pipe)} from {pipe.checkpoint}{_guided_by(pipe)} to {folder}")


def _sample_clips(args: argparse.Namespace, pipe) -> None:
    """A video model's clips: one video per clip and a strip of their frames in --out."""
    from facegen.clips import sample_clips, save_clips

    clips = sample_clips(
        pipe, args.num_samples, args.frames, args.seed, args.steps, args.sampler, args.cfg_scale, args.attributes,
        args.first_frame, args.batch_size,
    )  # fmt: skip
    folder = save_clips(clips, args.out, args.fps, f".{args.video_format}", args.overwrite)
    print(f"wrote {len(clips)} clips of {clips.shape[1]} frames from {pipe.checkpoint} to {folder}")


def cmd_edit(args: argparse.Namespace) -> None:
    import torch

    from facegen.photo_edit import edit_photo
    from facegen.utils.images import grid, save_picture, write_image
    from facegen.utils.io import atomic_write_json, output_folder

    _image(args.image, "--image")
    _attributes(args.attributes, "--attributes")
    _attributes(args.source_attributes, "--source-attributes")
    _out_folder(args)
    if args.paste_back and args.no_align:
        raise ValueError("--paste-back needs the face aligned: leave out --no-align")
    pipe = _pipeline(args)
    result = edit_photo(
        pipe,
        args.image,
        args.attributes,
        strength=args.strength,
        steps=args.steps,
        cfg_scale=args.cfg_scale,
        source_attributes=args.source_attributes,
        align=not args.no_align,
        use_semantic=False if args.no_semantic else None,
        semantic_margin=args.semantic_margin,
        need_face=args.paste_back,
    )
    if result.alignment is None and not args.no_align:
        print(f"note: {result.note}")
    out = Path(args.out)
    with output_folder(out, args.overwrite) as tmp:
        for name, image in result.faces.items():
            save_picture(image[0], tmp / f"{name}.png")
        save_picture(grid(torch.cat(list(result.faces.values())), nrow=3), tmp / "comparison.png")
        if args.paste_back:
            write_image(result.pasted, tmp / "pasted.png")
        atomic_write_json(tmp / "edit.json", {"image": args.image, **result.report})
    files = "input, reconstruction, edited, comparison" + (", pasted" if args.paste_back else "")
    report = result.report
    identity = f"; identity distance {report['identity_distance']}" if "identity_distance" in report else ""
    settings = f"strength {report['strength']}, guidance {report['cfg_scale']}"
    print(f"wrote {files}.png and edit.json{_of_subject(pipe)} to {out} ({report['alignment']}, {settings}{identity})")


def cmd_align(args: argparse.Namespace) -> None:
    from facegen.faces.align import align_face
    from facegen.faces.detect import NoFaceError
    from facegen.faces.photos import output_names
    from facegen.utils.images import write_image
    from facegen.utils.io import output_folder

    require("faces", "align")
    for image in args.images:
        _image(image, "align")
    names = output_names(args.images)
    _out_folder(args)
    missed = []
    with output_folder(args.out, args.overwrite) as tmp:
        for image, name in zip(args.images, names):
            try:
                face = align_face(image)
            except NoFaceError as err:
                missed.append(image)
                print(f"skipped {err}")
                continue
            write_image(face.image, tmp / name)
            print(f"{image} -> {Path(args.out) / name}{f' ({face.note})' if face.note else ''}")
        if len(missed) == len(args.images):
            raise _no_face(missed, args.images)  # inside the block: no empty --out is left behind
    if missed:
        raise _no_face(missed, args.images)


def _no_face(missed: list[str], images: list[str]) -> ValueError:
    return ValueError(f"no face found in {len(missed)} of {len(images)} images: {', '.join(map(str, missed))}")


def cmd_interpolate(args: argparse.Namespace) -> None:
    from facegen.utils.images import grid, save_gif, save_picture
    from facegen.utils.io import output_folder

    if (args.start is None) != (args.end is None):  # a missing end would silently mean "unconditional"
        given, missing = ("--from", "--to") if args.end is None else ("--to", "--from")
        raise ValueError(f"{given}-attributes needs {missing}-attributes too (the other end of the morph)")
    if args.start is None and args.seeds is None:
        raise ValueError("give --from-attributes and --to-attributes, --seeds A B, or both")
    _attributes(args.start, "--from-attributes")
    _attributes(args.end, "--to-attributes")
    _out_folder(args)
    from facegen.pipeline import MORPH_SEED

    pipe = _pipeline(args)
    if args.start is not None and not pipe.kind.accepts_attributes:
        raise ValueError(f"{pipe.checkpoint} is not attribute-conditioned: interpolate it with --seeds A B")
    frames = pipe.interpolate(
        attributes=(args.start, args.end) if args.start is not None else None,
        seeds=tuple(args.seeds) if args.seeds else None,
        num_frames=args.frames,
        seed=MORPH_SEED if args.seed is None else args.seed,
        steps=args.steps,
        cfg_scale=args.cfg_scale,
    )
    out = Path(args.out)
    with output_folder(out, args.overwrite) as tmp:
        save_picture(grid(frames, nrow=len(frames)), tmp / "strip.png")
        save_gif(list(frames), tmp / "interpolation.gif", duration_ms=150, hold_last_ms=600)
    print(f"wrote strip.png and interpolation.gif ({len(frames)} frames{_of_subject(pipe)}) to {out}")


def cmd_personalize(args: argparse.Namespace) -> None:
    from facegen.personalization import PersonalizeOptions, personalize
    from facegen.personalization.photos import photo_paths
    from facegen.personalization.training import output_paths

    targets = tuple(t.strip() for t in (args.lora_targets or "").split(",") if t.strip())
    options = PersonalizeOptions(
        method=args.method,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        embedding_lr=args.embedding_lr,
        rank=args.rank,
        targets=targets,
        full_weights=args.full_weights,
        prior_weight=args.prior_weight,
        class_images=args.class_images,
        seed=args.seed,
        preview=args.preview,
    )
    if options.weights == "lora":  # peft trains the adapter; textual inversion and full weights need nothing more
        require("personalize", f"--method {args.method}")
    photo_paths(args.images)  # the photos are counted before the model loads
    _out(output_paths(args.out, args.images)[0], folder=False)
    subject = personalize(_pipeline(args), args.images, args.name, args.out, options, overwrite=args.overwrite)
    size = Path(args.out).stat().st_size / 2**20
    print(f"wrote {args.out} ({size:.2f} MiB, {subject.method}); sample it with --subject {args.out}")


def _identity_ref(folder: str | None, metrics: list[str]) -> None:
    """``--metrics identity`` and ``--identity-ref`` come together, with the faces extra and an existing folder."""
    from facegen.metric_names import IDENTITY

    if (IDENTITY in metrics) != (folder is not None):
        raise ValueError("--metrics identity and --identity-ref DIR (photos of the one person) go together")
    if folder is not None:
        require("faces", "--metrics identity")
        if not Path(folder).is_dir():
            raise FileNotFoundError(f"--identity-ref {folder}: no such folder")


def cmd_eval(args: argparse.Namespace) -> None:
    import json

    from facegen.metric_names import ALL_METRICS

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown or not metrics:
        raise ValueError(f"--metrics {args.metrics!r}: unknown {unknown or 'none given'}; choose from {ALL_METRICS}")
    _identity_ref(args.identity_ref, metrics)
    if "fd_face" in metrics:
        require("faces", "--metrics fd_face")
    if args.out is not None:
        from facegen.utils.io import check_output_file

        check_output_file(args.out, args.overwrite)  # checked before hours of work, not after
    pipe = _pipeline(args)
    celeba_root = args.celeba_root or (pipe.config.data.root if pipe.config.data.dataset == "celeba" else None)
    from facegen.evaluation import format_report_table
    from facegen.scoring import check, score

    check(pipe, metrics, args.ref, celeba_root, args.clip_model, args.inception_weights)  # before the slow part
    from facegen.utils.io import atomic_write_bytes

    report = score(
        pipe,
        metrics,
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
        identity_ref=args.identity_ref,
    )
    if args.out:  # first: the table is only a view of it; never replaces a file written meanwhile
        atomic_write_bytes(args.out, (json.dumps(report, indent=2, sort_keys=True) + "\n").encode(), args.overwrite)
    print(format_report_table(report))
    if args.out:
        print(f"report written to {args.out}")
    else:
        print(json.dumps(report["protocol"], indent=2))


def cmd_models(args: argparse.Namespace) -> None:
    from facegen.pretrained import list_models

    for row in list_models():
        status = f"{row['size_mb']} MB" if row["installed"] else "not installed"
        print(f"{row['name']:<12} {status}\n             {row['description']}")


def cmd_export(args: argparse.Namespace) -> None:
    from facegen.pretrained import export_model
    from facegen.utils.io import regular_file

    if args.card is not None:
        regular_file(args.card, "--card")
    _out(args.out)
    folder = export_model(args.checkpoint, args.out, card=args.card, overwrite=args.overwrite)
    print(f"exported {args.checkpoint} to {folder} (load it with --model {folder})")


def cmd_serve(args: argparse.Namespace) -> None:
    require("app", "serve")
    from facegen.app.server import check_host, check_port, serve

    check_host(args.host, args.allow_remote)  # before the model loads
    check_port(args.host, args.port)
    name = Path(str(args.checkpoint or args.model or "faces128")).name
    if args.subject is not None:
        name += f" + {Path(args.subject).stem}"
    serve(_pipeline(args), name, args.host, args.port, args.allow_remote)


def cmd_data_prepare(args: argparse.Namespace) -> None:
    from facegen.builders import cache_from_config

    cfg = _config(args)
    if args.download:
        cfg.data.download = True
    cache = cache_from_config(cfg)
    print(f"cache ready: {len(cache)} images at {cfg.data.image_size}px in {cache.path}")


def cmd_data_encode(args: argparse.Namespace) -> None:
    from facegen.conditioning.kinds import kind_of

    cfg = _config(args)
    if cfg.autoencoder.name == "identity" and not kind_of(cfg).uses_text_encoder:  # training reads the image cache
        raise ValueError(
            f"{args.config or 'this config'} trains on pixels (autoencoder.name=identity, no text): nothing to "
            "encode; use `facegen data prepare`, or set autoencoder.name=taef2|kl or conditioning.type=text"
        )
    from facegen.builders import encoded_cache_from_config

    cache = encoded_cache_from_config(cfg)
    print(f"encoded cache ready: {len(cache)} faces (and their mirrors) in {cache.path}")


def _seed_list(text: str) -> list[int]:
    """``--seeds 1,2,3``: two or more seeds, each a valid noise seed."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) < 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected two or more seeds separated by commas (e.g. 1,2,3), got {text!r}")
    return [SEED(part) for part in parts]


def cmd_animate(args: argparse.Namespace) -> None:
    from facegen.animate import MORPH_SEED, animate, check_request
    from facegen.utils.io import check_output_file
    from facegen.utils.video import video_suffix

    if args.image is not None and (args.seeds is not None or args.start is not None):
        raise ValueError("give --image (a photo), or --seeds and/or --from-attributes (generated faces), not both")
    if args.image is None and args.seeds is None and args.start is None:
        raise ValueError("give a face to animate: --image PHOTO, --from-attributes ATTRIBUTES, or --seeds 1,2,3")
    if args.then and args.to is None:
        raise ValueError("--then needs --to first (the first keyframe; --then adds the next ones)")
    if args.to is None and args.seeds is None:
        raise ValueError('--to: name the attributes to move to, e.g. --to "Smiling=1"')
    if args.to is not None and args.seeds is not None:
        raise ValueError("--to/--then move a photo or --from-attributes, not --seeds (--from-attributes holds for all)")
    if args.paste_back and (args.image is None or args.no_align):
        raise ValueError("--paste-back needs --image, its face aligned (leave out --no-align)")
    _image(args.image, "--image")
    _attributes(args.start, "--from-attributes")
    keyframes = [] if args.to is None else [args.to, *(args.then or [])]
    for i, text in enumerate(keyframes):
        _attributes(text, "--to" if i == 0 else "--then")
    if video_suffix(args.out, "--out") != ".gif":
        require("video", f"--out {args.out}")
    check_output_file(args.out, args.overwrite)
    options = dict(frames=args.frames, fps=args.fps, easing=args.easing)
    check_request(None, args.image, keyframes, args.start, args.seeds, paste_back=args.paste_back, **options)
    if args.paste_back:
        require("faces", "--paste-back")
    pipe = _pipeline(args)
    check_request(pipe, args.image, keyframes, args.start, args.seeds, **options)
    clip = animate(
        pipe,
        image=args.image,
        to=keyframes,
        from_attributes=args.start,
        seeds=args.seeds,
        seed=MORPH_SEED if args.seed is None else args.seed,
        steps=args.steps,
        cfg_scale=args.cfg_scale,
        strength=args.strength,
        align=not args.no_align,
        paste_back=args.paste_back,
        batch_size=args.batch_size,
        **options,
    )
    out = clip.save(args.out, overwrite=args.overwrite)
    report = clip.report
    if report.get("note"):
        print(f"note: {report['note']}")
    print(
        f"wrote {out} ({len(clip.frames)} frames at {clip.fps} fps, {clip.duration:.1f} s{_of_subject(pipe)}; "
        f"made in {report['seconds']} s)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="facegen", description=facegen.__doc__, formatter_class=_Help)
    parser.add_argument("--version", action="version", version=f"facegen {facegen.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = _subparser(sub, "train", "train a model from a config")
    _add_config_args(train)
    train.add_argument("--resume", help="'auto' (this run's latest checkpoint) or a checkpoint/run path")
    train.add_argument(
        "--overwrite", action="store_true", help="start over in a run folder that holds checkpoints (deletes them)"
    )
    train.set_defaults(func=cmd_train)

    sample = _generation_parser(sub, "sample", "generate faces from a checkpoint", out="samples")
    sample.add_argument("--num-samples", type=COUNT, default=16, help="how many faces")
    sample.add_argument("--sampler", choices=ALL_SAMPLERS, help="default: the run's")
    sample.add_argument(
        "--guidance-interval",
        type=interval,
        metavar="LO,HI",
        help="guide only from LO to HI of the way from noise (0) to data (1) (default: the run's "
        "sampler.guidance_interval; 0,1: all the way)",
    )
    sample.add_argument("--seed", type=SEED, default=0, help="noise seed: the same seed gives the same faces")
    sample.add_argument("--batch-size", type=COUNT, default=64, help="faces generated at once")
    sample.add_argument("--gif", action="store_true", help="also write trajectory.gif (noise to face)")
    sample.add_argument("--no-ema", action="store_true", help="use the raw weights instead of the EMA")
    sample.add_argument(
        "--attributes", metavar="ATTRIBUTES", help='e.g. "Smiling=1,Eyeglasses=1" (1 present, 0 absent, others free)'
    )
    sample.add_argument(
        "--prompt", help='text-conditioned models: e.g. "a smiling woman with eyeglasses" ("" = unconditional)'
    )
    sample.add_argument(
        "--reference", help="a face image: variations of it (models trained with conditioning.semantic_dim > 0)"
    )
    sample.add_argument(
        "--frames", type=number(int, Bound(2, 64)), help="video models: frames per clip (default: its training clips')"
    )
    sample.add_argument(
        "--first-frame", help="video models: a face photo every clip starts on (image-to-video; cropped as CelebA)"
    )
    sample.add_argument("--fps", type=number(int, Bound(1, 120)), default=8, help="video models: frames per second")
    sample.add_argument(
        "--video-format", choices=("mp4", "webm", "gif"), default="mp4", help="video models: the clips' file format"
    )
    sample.set_defaults(func=cmd_sample)

    edit = _generation_parser(sub, "edit", "change attributes of a real face", out="edit")
    edit.add_argument("--image", required=True, help="any face photo (aligned like CelebA first, unless it already is)")
    edit.add_argument(
        "--attributes",
        "--set",
        dest="attributes",
        metavar="ATTRIBUTES",
        required=True,
        help='attributes to change, e.g. "Smiling=1"',
    )
    edit.add_argument(
        "--source-attributes",
        "--source",
        dest="source_attributes",
        metavar="ATTRIBUTES",
        help="the photo's own attributes, if known (default: the classifier's reading)",
    )
    edit.add_argument("--no-semantic", action="store_true", help="ignore the model's semantic encoder: inversion alone")
    edit.add_argument(
        "--semantic-margin", type=SCALE, default=4.0, help="how far the face's code moves along attribute directions"
    )
    _add_photo_args(edit, "", "also write pasted.png: the photo, its own pixels, with the change")
    edit.set_defaults(func=cmd_edit)

    align = _subparser(sub, "align", "crop any face photo like CelebA's aligned photos (178x218), as facegen expects")
    align.add_argument("images", nargs="+", metavar="IMAGE", help="photos; the largest face of each is aligned")
    align.add_argument("--out", default="aligned", help="output folder, new or empty: one STEM.png per photo")
    align.add_argument(
        "--overwrite", action="store_true", help="write into a --out folder that holds files (replacing STEM.png)"
    )
    align.set_defaults(func=cmd_align)

    interp = _generation_parser(
        sub, "interpolate", "morph between two attribute sets and/or two seeds", "interpolation"
    )
    for option, dest, example in (("--from", "start", "Male=1,Smiling=0"), ("--to", "end", "Male=0,Smiling=1")):
        interp.add_argument(
            f"{option}-attributes", option, dest=dest, metavar="ATTRIBUTES", help=f'{dest} attributes, e.g. "{example}"'
        )
    interp.add_argument("--seeds", type=SEED, nargs=2, metavar=("A", "B"), help="slerp between these two noises")
    interp.add_argument(
        "--seed", type=SEED, help="the noise for attribute interpolation (default: 20, a face in every frame)"
    )
    interp.add_argument("--frames", type=number(int, Bound(2)), default=8, help="frames from start to end")
    interp.set_defaults(func=cmd_interpolate)
    anim = _subparser(
        sub, "animate", "a video of a face moving through attributes or between seeds (.mp4, .webm, .gif)"
    )
    _add_model_args(anim)
    anim.add_argument("--image", help="a face photo: inverted once, every frame made from it (aligned like CelebA)")
    anim.add_argument(
        "--from-attributes", dest="start", metavar="ATTRIBUTES", help='a generated face\'s start, e.g. "Male=1"'
    )
    anim.add_argument(
        "--to",
        "--to-attributes",
        dest="to",
        metavar="ATTRIBUTES",
        help='the first keyframe: what changes, e.g. "Smiling=1"',
    )
    anim.add_argument(
        "--then",
        action="append",
        metavar="ATTRIBUTES",
        help="a further keyframe, changed from the one before (repeatable)",
    )
    anim.add_argument("--seeds", type=_seed_list, metavar="A,B,...", help="move from one seed's face to the next")
    anim.add_argument("--seed", type=SEED, help="the noise of a --from-attributes face (default: 20)")
    anim.add_argument("--frames", type=number(int, Bound(2, 1000)), default=48, help="frames in the clip")
    anim.add_argument("--fps", type=number(int, Bound(1, 120)), default=24, help="frames per second")
    anim.add_argument(
        "--easing", choices=["smoothstep", "cosine", "linear"], default="smoothstep", help="between keyframes"
    )
    anim.add_argument("--steps", type=COUNT, help="sampler steps (default: the model's sampler.steps)")
    anim.add_argument("--cfg-scale", type=SCALE, help="guidance (default: a photo's edit setting, else the model's)")
    _add_photo_args(anim, "--image: ", "--image: the video shows the whole photo with the moving face")
    anim.add_argument("--batch-size", type=COUNT, default=8, help="frames made at once")
    anim.add_argument("--out", default="animation.mp4", help="the video: .mp4 (H.264), .webm (VP9) or .gif")
    anim.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    anim.set_defaults(func=cmd_animate)
    for parser_ in (sample, edit, interp, anim):
        parser_.add_argument("--subject", help="a person learned by `facegen personalize` (NAME.safetensors)")

    person = _subparser(sub, "personalize", "learn one person from 4-20 photos (textual inversion, LoRA, DreamBooth)")
    person.add_argument("--images", required=True, help="a folder with 4-20 photos of one person")
    person.add_argument("--name", required=True, help="the person's name (letters, digits, _ . + -)")
    person.add_argument(
        "--method", choices=["textual-inversion", "lora", "dreambooth"], default="lora", help="what is trained"
    )
    person.add_argument("--out", required=True, help="the subject file to write, NAME.safetensors (preview: NAME.png)")
    _add_model_args(person)  # the base model
    person.add_argument("--steps", type=COUNT, default=200, help="training steps")
    person.add_argument("--batch-size", type=COUNT, default=8, help="latent photos per step (dreambooth: half prior)")
    person.add_argument(
        "--lr", type=number(float, Bound(0, low_open=True)), help="weights' lr (default: 1e-3 LoRA, 5e-5 full)"
    )
    person.add_argument(
        "--embedding-lr", type=number(float, Bound(0, low_open=True)), default=5e-2, help="subject embedding lr"
    )
    person.add_argument("--rank", type=COUNT, default=8, help="LoRA rank")
    person.add_argument("--lora-targets", help="comma list of module-name patterns (default: the backbone's)")
    person.add_argument("--full-weights", action="store_true", help="dreambooth: fine-tune every weight, not LoRA")
    person.add_argument("--prior-weight", type=SCALE, default=1.0, help="dreambooth: weight of the class-image loss")
    person.add_argument("--class-images", type=COUNT, default=16, help="dreambooth: class images the base generates")
    person.add_argument("--preview", type=number(int, Bound(0)), default=8, help="samples in the preview (0: none)")
    person.add_argument("--seed", type=SEED, default=0, help="training and preview seed")
    person.add_argument("--overwrite", action="store_true", help="replace --out and its preview if they exist")
    person.set_defaults(func=cmd_personalize)

    ev = _generation_parser(
        sub, "eval", "generate from a checkpoint and score the samples (FID/KID, FD_attr, ...)", None
    )
    ev.add_argument("--num-samples", type=number(int, Bound(2)), default=1000, help="faces to generate and score")
    ev.add_argument(
        "--metrics",
        default="fd_attr,kid_attr",
        help="comma list of fid, kid, fd_attr, kid_attr, fd_face, attr_consistency, clip_score, identity",
    )
    ev.add_argument("--ref", default="celeba:test", help="celeba:test, celeba:valid or folder:/path")
    ev.add_argument("--celeba-root", help="default: the run's data.root")
    ev.add_argument("--max-reference-images", type=COUNT, help="score against at most this many reference faces")
    ev.add_argument("--inception-weights", help="pt_inception-2015-12-05-6726825d.pth for fid/kid offline")
    ev.add_argument("--clip-model", help="a local CLIP folder for clip_score")
    ev.add_argument("--identity-ref", help="identity: a folder of photos of the one person the faces should be")
    ev.add_argument("--seed", type=SEED, default=0, help="generation seed")
    ev.add_argument("--batch-size", type=COUNT, default=64, help="faces generated and scored at once")
    ev.set_defaults(func=cmd_eval)

    models = _subparser(sub, "models", "list the pretrained models in the package")
    models.set_defaults(func=cmd_models)
    export = _subparser(sub, "export", "a training run -> a self-contained fp16 model folder (--model loads it)")
    export.add_argument("--checkpoint", required=True, help="run folder (best, else latest) or checkpoint folder")
    export.add_argument("--out", required=True, help="the model folder to write")
    export.add_argument("--card", help="a Markdown model card to put beside the weights")
    export.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    export.set_defaults(func=cmd_export)

    serve = _subparser(sub, "serve", "the web app and HTTP API on this machine (the app extra)")
    _add_model_args(serve)
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    serve.add_argument("--port", type=number(int, Bound(1, 65535)), default=7860, help="TCP port")
    serve.add_argument("--allow-remote", action="store_true", help="allow a --host other machines can reach")
    serve.add_argument("--subject", help="serve a person learned by `facegen personalize` (NAME.safetensors)")
    serve.set_defaults(func=cmd_serve)

    data = _subparser(sub, "data", "datasets and caches").add_subparsers(
        dest="data_command", required=True, metavar="COMMAND"
    )
    prepare = _subparser(data, "prepare", "decode a dataset once into the uint8 cache training reads")
    _add_config_args(prepare)
    prepare.add_argument("--download", action="store_true", help="try to download CelebA into data.root first")
    prepare.set_defaults(func=cmd_data_prepare)
    encode = _subparser(data, "encode", "run the autoencoder (and text encoder) once over the cached faces")
    _add_config_args(encode)
    encode.set_defaults(func=cmd_data_encode)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """As argparse, but ``key=value`` overrides may also follow options (``train --resume auto train.lr=1e-4``)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        args.overrides += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= MAX_MESSAGE else line[: MAX_MESSAGE - 3] + "..."


def explain(err: BaseException) -> tuple[str, int]:
    """One line and an exit code for any failure: the classes are listed in docs/ROBUSTNESS.md."""
    if isinstance(err, KeyboardInterrupt):  # Ctrl-C, SIGTERM, SIGHUP: 128 + the signal
        from facegen.utils.signals import exit_code

        code = exit_code(err)
        by = f" by {signal.Signals(code - 128).name}" if code != EXIT_INTERRUPTED else ""
        return _one_line(f"interrupted{by}{': ' + str(err) if str(err) else ''}"), code
    if isinstance(err, FileExistsError):  # going on would overwrite earlier results
        return _one_line(str(err)), EXIT_REFUSED
    if isinstance(err, OSError):
        if err.filename is not None and err.strerror:
            path = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None)
            message = f"{path}: {err.strerror}"
        else:
            message = str(err)
        return _one_line(message), EXIT_BAD_INPUT if isinstance(err, FileNotFoundError) else EXIT_FILE_SYSTEM
    if isinstance(err, ImportError) and missing_module_line(err):  # an optional dependency: name its extra
        return _one_line(missing_module_line(err)), EXIT_BAD_INPUT
    if isinstance(err, ValueError):  # bad arguments, configs, attribute strings, damaged or refused checkpoints
        return _one_line(str(err)), EXIT_BAD_INPUT
    if isinstance(err, (RuntimeError, FloatingPointError, MemoryError)):  # failed while working
        return _one_line(f"{str(err) or type(err).__name__}"), EXIT_FAILED
    return _one_line(f"unexpected {type(err).__name__}: {err} (FACEGEN_DEBUG=1 shows where; please report it)"), 1


def debugging() -> bool:
    """``FACEGEN_DEBUG`` is 1 or true (any case): show tracebacks; 0, false or empty: do not."""
    return os.environ.get("FACEGEN_DEBUG", "").strip().lower() in ("1", "true")


def main(argv: list[str] | None = None) -> int:
    from facegen.utils.signals import stop_signals_as_interrupts

    try:
        with stop_signals_as_interrupts():  # SIGTERM / SIGHUP clean up and save like Ctrl-C
            args = parse_args(argv)
            args.func(args)
    except (Exception, KeyboardInterrupt) as err:
        if debugging():  # the full traceback, for bug reports
            raise
        message, code = explain(err)
        print(f"facegen: error: {message}", file=sys.stderr)
        return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
