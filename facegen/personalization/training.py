"""The personalization loop: the subject embedding (and LoRA or all weights) trained on a few latent photos.

Every step reseeds the RNG from (seed, step) and the optimizer state is saved every ``save_every`` steps (and on
Ctrl-C) beside the output, so running the same command again continues an interrupted run where it stopped.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from facegen.personalization.dreambooth import class_latents
from facegen.personalization.files import read_tensors, write_tensors
from facegen.personalization.lora import DEFAULT_TARGETS, LoraSpec, adapter_state, with_lora
from facegen.personalization.photos import SubjectPhotos, photo_paths, prepare_photos
from facegen.personalization.subject import METHODS, Subject, base_fingerprint, save_subject
from facegen.utils.hardware import autocast_dtype, resolve_precision
from facegen.utils.signals import reworded

STATE_FORMAT = "facegen-personalize-state-1"
DEFAULT_LR = {"lora": 1e-3, "full": 5e-5}  # LoRA adapters / every weight (DreamBooth --full-weights)


@dataclass(frozen=True)
class PersonalizeOptions:
    method: str = "lora"
    steps: int = 200
    batch_size: int = 8  # DreamBooth: half subject photos, half class images
    lr: float | None = None  # the weights' (LoRA or full); None: DEFAULT_LR
    embedding_lr: float = 5e-2
    rank: int = 8
    targets: tuple[str, ...] = ()  # LoRA target patterns; empty: the backbone's DEFAULT_TARGETS
    full_weights: bool = False  # DreamBooth: fine-tune every weight (saved as an fp16 delta) instead of LoRA
    prior_weight: float = 1.0  # DreamBooth: weight of the class-image loss
    class_images: int = 16  # DreamBooth: how many the base model generates
    seed: int = 0
    save_every: int = 25  # steps between resume states
    preview: int = 8  # samples in the preview grid (0: none)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"--method {self.method!r}: choose {', '.join(METHODS)}")
        if self.full_weights and self.method != "dreambooth":
            raise ValueError(
                "--full-weights is for --method dreambooth (lora trains an adapter, textual-inversion none)"
            )
        if self.method == "dreambooth" and self.batch_size < 2:
            raise ValueError("--batch-size must be >= 2 for dreambooth (half subject photos, half class images)")
        if self.method == "textual-inversion" and (self.targets or self.lr is not None):
            raise ValueError("--lora-targets and --lr are for lora and dreambooth: textual-inversion changes no weight")

    @property
    def weights(self) -> str:
        """What changes besides the embedding: none, lora or full."""
        return "none" if self.method == "textual-inversion" else "full" if self.full_weights else "lora"

    @property
    def weights_lr(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR.get(self.weights, 0.0)

    def trained_by(self) -> dict:
        """The settings that decide the result (a resume must match them), not preview or save cadence."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in ("save_every", "preview")}


def output_paths(out: str | Path, images: str | Path | Sequence[Path] | None = None) -> tuple[Path, Path, Path]:
    """(subject file, preview PNG, resume state) for ``--out NAME.safetensors``; not inside the ``images`` folder,
    where the next run would train on its own preview."""
    out = Path(out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out {out}: a subject file is NAME.safetensors")
    if isinstance(images, (str, Path)) and out.resolve().parent.is_relative_to(Path(images).resolve()):
        raise ValueError(
            f"--out {out} is inside --images {images}: its preview {out.with_suffix('.png').name} would be read as a "
            "photo of the person; write the subject file elsewhere"
        )
    return out, out.with_suffix(".png"), out.with_name(f"{out.stem}.resume.safetensors")


def photo_loss(pipe, photos: SubjectPhotos, seed: int = 0, repeats: int = 4) -> float:
    """The pipeline's denoising loss on the photos under their own attributes, at fixed noise and times."""
    latents = photos.latents.repeat(repeats, 1, 1, 1).to(pipe.device)
    cond = pipe.condition(photos.latent_attributes.repeat(repeats, 1), len(latents))
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return pipe.objective.loss(pipe.net, latents, cond.map(lambda v: v.to(pipe.device))).item()


class _Run:
    """What one personalization trains: the embedding, and the adapted network the loss runs through."""

    def __init__(self, pipe, options: PersonalizeOptions) -> None:
        self.options = options
        generator = torch.Generator().manual_seed(options.seed)
        dim = pipe.net.cond_embedder.dim
        # Small but not zero: an all-zero subject means "no person", and its token would be masked out.
        self.embedding = nn.Parameter((torch.randn(dim, generator=generator) * 0.02).to(pipe.device))
        groups = [{"params": [self.embedding], "lr": options.embedding_lr}]
        self.lora = None
        if options.weights == "none":
            self.model = pipe.net
        elif options.weights == "full":
            self.model = copy.deepcopy(pipe.net).requires_grad_(True)
        else:
            self.lora = LoraSpec(options.targets or DEFAULT_TARGETS[pipe.config.model.name], options.rank, options.rank)
            self.model = with_lora(pipe.net, self.lora)
        self.weights = {k: p for k, p in self.model.named_parameters() if p.requires_grad}
        if self.weights:
            groups.append({"params": list(self.weights.values()), "lr": options.weights_lr})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=0.0)

    def state(self) -> dict[str, torch.Tensor]:
        tensors = {"embedding": self.embedding} | {f"weights.{k}": p for k, p in self.weights.items()}
        for index, values in self.optimizer.state_dict()["state"].items():
            tensors |= {f"adam.{index}.{k}": torch.as_tensor(v) for k, v in values.items()}
        return tensors

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            self.embedding.copy_(tensors["embedding"])
            for k, p in self.weights.items():
                p.copy_(tensors[f"weights.{k}"])
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("adam."):
                _, index, name = key.split(".", 2)
                state.setdefault(int(index), {})[name] = value
        self.optimizer.load_state_dict({"state": state, "param_groups": self.optimizer.state_dict()["param_groups"]})

    def weight_change(self, base: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """(LoRA adapter, full delta): what the subject file keeps besides the embedding."""
        if self.options.weights == "lora":
            return adapter_state(self.model), {}
        if self.options.weights == "full":
            base_params = dict(base.named_parameters())
            return {}, {k: (p - base_params[k]).detach().half() for k, p in self.weights.items()}
        return {}, {}


def _fingerprint(name: str, options: PersonalizeOptions, base_sha: str, paths: Sequence[Path]) -> dict:
    photos = hashlib.sha256()
    for path in paths:
        photos.update(path.read_bytes())
    fingerprint = {"name": name, "base": base_sha, "photos": photos.hexdigest(), **options.trained_by()}
    return json.loads(json.dumps(fingerprint))  # as read back from the state file (tuples become lists)


def _resume(state_path: Path, fingerprint: dict, overwrite: bool) -> tuple[dict[str, torch.Tensor], int] | None:
    """The saved state of an interrupted run with these settings; one of other settings is refused."""
    if not state_path.exists():
        return None
    tensors, meta = read_tensors(state_path, STATE_FORMAT)
    if meta["fingerprint"] == fingerprint:
        return tensors, meta["step"]
    if not overwrite:
        changed = sorted(k for k in fingerprint if meta["fingerprint"].get(k) != fingerprint[k])
        raise FileExistsError(
            f"{state_path} holds an unfinished run with other {', '.join(changed)}: run that command again to "
            "finish it, or pass --overwrite to start over"
        )
    return None


def personalize(
    pipe,
    images: str | Path | Sequence[str | Path],
    name: str,
    out: str | Path,
    options: PersonalizeOptions = PersonalizeOptions(),
    overwrite: bool = False,
    progress: bool = True,
) -> Subject:
    """Learn the person in ``images`` (a folder or 4-20 files) on top of ``pipe``; writes ``out`` and a preview.

    The photos are conditioned on their own attributes (as the shipped classifier reads them), randomly hidden
    as in base training, so the embedding learns what they leave out: the person, not the expression.
    """
    if not re.fullmatch(r"[\w.+-]{1,64}", name):
        raise ValueError(f"--name {name!r}: letters, digits and _ . + - only (at most 64)")
    out, preview_path, state_path = output_paths(out, images)
    for path in (out, preview_path):
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists: choose another --out (or pass --overwrite)")
    if not pipe.kind.accepts_subjects:
        raise ValueError(f"{pipe.checkpoint}: personalization needs an attribute-conditioned base model")
    if pipe.subject is not None:
        raise ValueError(f"this pipeline already carries subject {pipe.subject.name!r}: personalize its base model")
    paths = photo_paths(images)
    photos = prepare_photos(paths, pipe)
    base_sha = base_fingerprint(pipe.net)
    fingerprint = _fingerprint(name, options, base_sha, paths)
    run = _Run(pipe, options)
    start, prior = 0, None
    resumed = _resume(state_path, fingerprint, overwrite)
    if resumed is not None:
        tensors, start = resumed
        run.load_state(tensors)
        if options.method == "dreambooth":
            prior = tensors["class.latents"], tensors["class.attributes"]
    elif options.method == "dreambooth":
        prior = class_latents(pipe, photos.attributes, options.class_images, options.seed)

    def save_state(step: int) -> None:
        extra = {"class.latents": prior[0], "class.attributes": prior[1]} if prior is not None else {}
        write_tensors(
            state_path, run.state() | extra, {"format": STATE_FORMAT, "step": step, "fingerprint": fingerprint}
        )

    began = time.perf_counter()
    step = start
    try:
        for step in tqdm(
            range(start, options.steps),
            desc=f"personalizing {name}",
            disable=not progress,
            initial=start,
            total=options.steps,
        ):
            loss = _train_step(pipe, run, photos, prior, step)
            if not math.isfinite(loss):  # the weights are lost: saving them would give black images
                raise FloatingPointError(
                    f"personalizing {name} diverged at step {step + 1} (loss {loss}); nothing was written: "
                    "run again with a lower --lr / --embedding-lr"
                )
            if (step + 1) % options.save_every == 0 and step + 1 < options.steps:
                save_state(step + 1)
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM / SIGHUP (facegen.utils.signals)
        save_state(step)
        raise reworded(err, f"state of step {step} saved in {state_path}; run the same command to continue") from None
    adapter, delta = run.weight_change(pipe.net)
    subject = Subject(
        name=name,
        method=options.method,
        embedding=run.embedding.detach().float().cpu(),
        base_sha256=base_sha,
        base_source=str(pipe.checkpoint),
        steps=options.steps,
        attributes=photos.attributes.mean(0),
        lora=run.lora,
        adapter=adapter,
        delta=delta,
        options={**options.trained_by(), "photos": len(paths), "train_seconds": round(time.perf_counter() - began, 1)},
    )
    save_subject(subject, out, overwrite=overwrite)
    state_path.unlink(missing_ok=True)
    if options.preview:
        write_preview(pipe.with_subject(subject), photos.images, preview_path, options.preview, options.seed)
    return subject


def _train_step(pipe, run: _Run, photos: SubjectPhotos, prior, step: int) -> float:
    options, device, kind = run.options, pipe.device, pipe.kind
    torch.manual_seed(options.seed * 1_000_003 + step)  # a resumed run draws what an uninterrupted one would
    count = options.batch_size - options.batch_size // 2 if prior is not None else options.batch_size
    index = torch.randint(len(photos.latents), (count,))
    cond = kind.batch_condition({"attributes": photos.latent_attributes[index]}, device)
    cond = replace(cond, subject=run.embedding.expand(count, -1))
    dtype = autocast_dtype(resolve_precision("auto", device))
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        loss = pipe.objective.loss(run.model, photos.latents[index].to(device), cond)
        if prior is not None:  # the class images, without the subject: what the base model did for everyone
            index = torch.randint(len(prior[0]), (options.batch_size // 2,))
            prior_cond = kind.batch_condition({"attributes": prior[1][index]}, device)
            loss = loss + options.prior_weight * pipe.objective.loss(run.model, prior[0][index].to(device), prior_cond)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_([run.embedding, *run.weights.values()], 1.0)
    run.optimizer.step()
    return loss.item()


def write_preview(pipe, photos: torch.Tensor, path: Path, count: int, seed: int) -> None:
    """Two rows: the training photos (up to ``count``; blank where fewer) over ``count`` samples of the subject."""
    from facegen.utils.images import grid, save_picture

    samples = pipe.generate(count, seed=seed, progress=False)
    top = torch.cat([photos[:count], torch.ones(max(0, count - len(photos)), *photos.shape[1:])])
    save_picture(grid(torch.cat([top, samples]), nrow=count), path)
