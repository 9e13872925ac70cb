"""The user-facing generator: one checkpoint -> model + objective + sampler, ready to make and edit faces.

pipe = FacePipeline.from_checkpoint("runs/celeba32_attr")        # best, else latest; EMA weights
faces = pipe.generate(16, attributes={"Smiling": 1, "Eyeglasses": 1}, cfg_scale=2.0, seed=0)  # [-1, 1]
edited = pipe.edit("face.jpg", {"Smiling": 1}, strength=0.6)
frames = pipe.interpolate(attributes=({"Male": 1, "Smiling": 0}, {"Male": 0, "Smiling": 1}))
pipe.save(faces, "out/")
alice = pipe.with_subject("alice.safetensors")                     # a person learned by `facegen personalize`
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn as nn
from PIL import Image
from tqdm.auto import tqdm

from facegen.builders import autoencoder_from_config, model_from_config, objective_from_config, text_encoder_from_config
from facegen.checkpoint import load_checkpoint
from facegen.conditioning import Condition, Guide, guided
from facegen.conditioning.attributes import AttributeSpec, attribute_matrix
from facegen.conditioning.kinds import ConditioningKind, kind_of
from facegen.config import BOUNDS, Bound, Config, is_guidance_interval, resolved_sampler, validate
from facegen.data.transforms import load_face
from facegen.objectives.base import guidance_options
from facegen.samplers.noise import slerp
from facegen.utils.hardware import autocast_dtype, compile_options, resolve_precision
from facegen.utils.images import grid, save_gif, save_picture, trajectory_frames

if TYPE_CHECKING:
    from facegen.personalization import Subject


def checked(name: str, value, kind: type, bound: Bound):
    """``value`` as ``kind`` (int: an integer, not a bool; float: a finite real) inside ``bound``, else a TypeError
    or ValueError naming the argument: the API's callers get what the command line's get, not a torch error."""
    integral = isinstance(value, numbers.Integral)
    if isinstance(value, bool) or not (integral if kind is int else isinstance(value, numbers.Real)):
        wanted = "an integer" if kind is int else "a number"
        raise TypeError(f"{name} must be {wanted}, got {type(value).__name__} {value!r}")
    value = kind(value)
    if not math.isfinite(value) or not bound.admits(value):
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


SEED = BOUNDS["seed"]
# The noise of attribute morphs when none is given. Seed 0 drew a smeared, half-formed face with faces128; 20 scored
# best of seeds 0-31 on the README's morph (Male=1,Smiling=0 -> Male=0,Smiling=1, 8 frames) by its worst frame's
# dlib face-detection score (2.06; seed 0: 0.29): benchmarks/interpolate_seeds.py.
MORPH_SEED = 20


def free_memory_bytes() -> int:
    """Memory this machine can still give (MemAvailable; else all of it where /proc is missing)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _load_weights(net: nn.Module, weights: dict[str, torch.Tensor], source: Path) -> None:
    """Strict load whose failure says which side disagrees, not a page of parameter names."""
    try:
        net.load_state_dict(weights)
    except RuntimeError as err:
        missing = len(set(net.state_dict()) - set(weights))
        unexpected = len(set(weights) - set(net.state_dict()))
        raise RuntimeError(
            f"{source}: its config and its weights disagree ({missing} tensors missing, {unexpected} unexpected, "
            f"{str(err).count('size mismatch')} of another shape); the folder was edited or mixed from two runs"
        ) from None


NO_GUIDED_SUBJECTS = "a learned subject and autoguidance do not go together: the guide has no embedding of the subject"


@dataclass
class InvertedFace:
    """A real face inverted once (:meth:`FacePipeline.invert_face`), to be regenerated under other conditions."""

    image: torch.Tensor  # [1, 3, S, S] in [-1, 1]: the face as the model sees it
    encoded: torch.Tensor  # [1, C, h, w]: the face in model space
    latent: torch.Tensor  # [1, C, h, w]: inverted back to time ``start``
    start: float  # 1 - strength
    attributes: torch.Tensor  # [1, 40]: its own, as given or as the shipped classifier reads them
    source: Condition  # its own condition (with its semantic code when used)
    code: torch.Tensor | None  # [1, dim]: its semantic code, when used


@dataclass
class FacePipeline:
    net: nn.Module
    objective: object  # RectifiedFlow or DDPM: both expose sample() and invert()
    config: Config
    device: torch.device
    autoencoder: nn.Module
    checkpoint: Path | None = None
    _text_encoder: nn.Module | None = None
    subject: Subject | None = None  # a learned person (``with_subject``): in every condition this pipeline makes
    compile: bool = False  # sample through ``torch.compile(net)`` (``sampling_net``)
    guide: Guide | None = None  # a weaker net generation also guides away from (``with_guide``: autoguidance)
    _compiled: nn.Module | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | torch.device | None = None, use_ema: bool = True, compile: bool = False
    ) -> "FacePipeline":
        """``path``: a checkpoint folder, or a run folder (its best checkpoint, else its latest).
        ``compile``: sample through ``torch.compile`` (see ``sampling_net``)."""
        ckpt = load_checkpoint(path)
        device = torch.device(device) if device is not None else default_device()
        autoencoder = autoencoder_from_config(ckpt.config, device=device)
        net = model_from_config(ckpt.config, autoencoder)
        _load_weights(net, ckpt.weights(ema=use_ema), ckpt.path)
        net.to(device).eval().requires_grad_(False)
        objective = objective_from_config(ckpt.config)
        return cls(net, objective, ckpt.config, device, autoencoder, ckpt.path, compile=compile).with_default_guide()

    @classmethod
    def from_pretrained(
        cls,
        name: str | Path = "faces128",
        device: str | torch.device | None = None,
        compile: bool = False,
        guide: bool = True,
    ) -> "FacePipeline":
        """A bundled model by name (``facegen models`` lists them) or an exported model folder; works offline.
        ``compile``: sample through ``torch.compile`` (see ``sampling_net``). ``guide``: with the autoguide its
        config names (``sampler.guide``, a bundled model), if any."""
        from facegen.pretrained import load_model_folder, resolve_model_folder

        folder = resolve_model_folder(name)
        config, weights, _ = load_model_folder(folder)
        device = torch.device(device) if device is not None else default_device()
        autoencoder = autoencoder_from_config(config, device=device)
        net = model_from_config(config, autoencoder)
        _load_weights(net, weights, folder)
        net.to(device).eval().requires_grad_(False)
        pipe = cls(net, objective_from_config(config), config, device, autoencoder, folder, compile=compile)
        return pipe.with_default_guide() if guide else pipe

    @classmethod
    def load(
        cls,
        checkpoint: str | Path | None = None,
        model: str | Path | None = None,
        device=None,
        use_ema: bool = True,
        compile: bool = False,
    ) -> "FacePipeline":
        """A training checkpoint when given, else the pretrained ``model`` (default: the bundled faces128)."""
        if checkpoint is not None and model is not None:
            raise ValueError("give either a checkpoint or a pretrained model, not both")
        if checkpoint is not None:
            return cls.from_checkpoint(checkpoint, device=device, use_ema=use_ema, compile=compile)
        from facegen.pretrained import DEFAULT_MODEL

        return cls.from_pretrained(model or DEFAULT_MODEL, device=device, compile=compile)

    def with_subject(self, subject: str | Path | Subject) -> "FacePipeline":
        """This pipeline generating, editing and interpolating one learned person (a ``facegen personalize``
        file, or a ``Subject``): its embedding joins every condition, its LoRA or weight change the network.
        A subject made for another base model is refused. It samples without the model's default autoguide (which
        has no embedding of the subject); a guide given explicitly is refused."""
        from facegen.personalization import base_fingerprint, load_subject

        if self.subject is not None:
            raise ValueError(f"this pipeline already carries subject {self.subject.name!r}: start from its base")
        if self.guide is not None and not self.guided_by_default:
            raise ValueError(NO_GUIDED_SUBJECTS)
        if not self.kind.accepts_subjects:
            raise ValueError(f"{self.checkpoint}: subjects need an attribute-conditioned model")
        if isinstance(subject, (str, Path)):  # its header is checked against this base before it is read
            subject = load_subject(subject, self.net, self.checkpoint)
        else:
            subject.check_base(base_fingerprint(self.net), self.checkpoint)
        net = subject.adapt(self.net).to(self.device)
        return replace(self, net=net, subject=replace(subject, embedding=subject.embedding.float().cpu()), guide=None)

    def with_guide(
        self, weak: "FacePipeline | None", weight: float | None = None, name: str | None = None
    ) -> "FacePipeline":
        """This pipeline generating with autoguidance: pushed away from ``weak``'s predictions (a smaller or
        shorter-trained model of the same faces) with ``weight`` (None: the config's ``sampler.guide_weight``) on
        top of classifier-free guidance. The weak model must see the same inputs: autoencoder, image size and
        kind of condition. ``weak=None``: without autoguidance. ``name``: how reports call it (default: its folder)."""
        if weak is None:
            return replace(self, guide=None)
        if self.subject is not None:
            raise ValueError(NO_GUIDED_SUBJECTS)
        weight = self.config.sampler.guide_weight if weight is None else weight
        weight = checked("guide weight", weight, float, Bound(0))
        mine, theirs = self.config, weak.config
        same = {
            "autoencoder": (mine.autoencoder.name, theirs.autoencoder.name),
            "data.image_size": (mine.data.image_size, theirs.data.image_size),
            "conditioning.type": (self.kind.name, weak.kind.name),
        }
        for key, (a, b) in same.items():
            if a != b:
                raise ValueError(f"guide {weak.checkpoint}: {key} is {b!r}, this model's is {a!r}; they must match")
        return replace(self, guide=Guide(weak.net.to(self.device), weight, name or str(weak.checkpoint)))

    def guided_as(self, guide: str | None, weight: float | None = None) -> "FacePipeline":
        """The command lines' ``--guide`` / ``--guide-weight``: None keeps the model's own guide (reweighed by
        ``weight`` if given), ``"none"`` samples without one, else a bundled model's name or a model folder."""
        if guide == "none":
            return self.with_guide(None)
        if guide is not None:
            return self.with_guide(FacePipeline.from_pretrained(guide, device=self.device, guide=False), weight)
        return self if weight is None else self.with_guide_weight(weight)

    def with_time_shift(self, shift: float) -> "FacePipeline":
        """Sampling from noise with rectified flow's fixed steps on another grid: ``sampler.time_shift`` (> 1: more
        steps near the noise; 1: evenly spaced; edits keep their even grid). Other objectives: refused in one line."""
        sampler = replace(self.config.sampler, time_shift=checked("time shift", shift, float, Bound(0, low_open=True)))
        config = validate(replace(self.config, sampler=sampler))
        return replace(self, config=config, objective=objective_from_config(config))

    def with_guide_weight(self, weight: float) -> "FacePipeline":
        """The same guide pushed away from with another ``weight`` (1: none)."""
        if self.guide is None:
            raise ValueError(f"{self.checkpoint}: no guide to weigh (sampler.guide is null); give one (--guide MODEL)")
        return replace(self, guide=replace(self.guide, weight=checked("guide weight", weight, float, Bound(0))))

    def with_default_guide(self) -> "FacePipeline":
        """With the guide the config names (``sampler.guide``: a bundled model, never a path), else as it is."""
        name = self.config.sampler.guide
        if name is None:
            return self
        from facegen.pretrained import REGISTRY

        if name not in REGISTRY:
            raise ValueError(
                f"{self.checkpoint}: sampler.guide={name!r} is not a bundled model ({', '.join(REGISTRY)}); "
                "set it to null or give a guide explicitly (--guide)"
            )
        return self.with_guide(FacePipeline.from_pretrained(name, device=self.device, guide=False), name=name)

    @property
    def guided_by_default(self) -> bool:
        """Whether the guide is the one the config names (dropped for a subject), not one given explicitly."""
        named = self.config.sampler.guide
        return named is not None and self.guide is not None and self.guide.name == named

    def sampling_settings(self, steps: int | None = None, cfg_scale: float | None = None) -> tuple[int, float]:
        """(steps, guidance) a sampling call uses: the model's ``sampler.steps`` / ``sampler.cfg_scale`` for None.
        Steps below 1 or a negative scale are errors, never the default (what is run is what is reported)."""
        steps = checked("steps", self.config.sampler.steps if steps is None else steps, int, Bound(1))
        guidance = self.config.sampler.cfg_scale if cfg_scale is None else cfg_scale
        return steps, checked("cfg_scale", guidance, float, Bound(0))

    @property
    def sampling_net(self) -> nn.Module:
        """The network sampling calls: ``net``, or with ``compile`` its ``torch.compile`` wrapper (built on first
        use, one graph per input shape). Parameters, state_dict and the embedder stay on ``net``."""
        if not self.compile:
            return self.net
        if self._compiled is None:
            self._compiled = torch.compile(self.net, dynamic=False, **compile_options(self.device))
        return self._compiled

    @property
    def text_encoder(self) -> nn.Module:
        if self._text_encoder is None:  # loaded on first use: only text prompts need it
            self._text_encoder = text_encoder_from_config(self.config, device=self.device)
        return self._text_encoder

    @property
    def kind(self) -> ConditioningKind:
        """What the model is conditioned on (``facegen.conditioning.kinds``): it builds and checks conditions."""
        return kind_of(self.config)

    @property
    def conditional(self) -> bool:
        return self.kind.conditional

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        from facegen.autoencoders import latent_shape

        return latent_shape(self.autoencoder, self.config.data.image_size)

    def check_fits(self, num_samples: int, states: int = 1, name: str = "num_samples") -> None:
        """Refuse, before any work, ``num_samples`` images (with ``states`` trajectory states each) whose noise and
        outputs would not fit in the free memory: they are gathered on the CPU whatever the batch size. ``name``:
        the argument that asked for them."""
        channels, height, width = self.latent_shape
        size = self.config.data.image_size
        needed = num_samples * 4 * (channels * height * width + 2 * 3 * size * size * states)  # float32; cat copies
        free = free_memory_bytes()
        if needed > free:
            raise ValueError(
                f"{name}={num_samples} needs {needed / 2**30:.1f} GiB for its noise and images at once, more "
                f"than the {free / 2**30:.1f} GiB of free memory here: ask for fewer per call (e.g. loop over seeds)"
            )

    def noise(self, num_samples: int, seed: int) -> torch.Tensor:
        num_samples, seed = checked("num_samples", num_samples, int, Bound(1)), checked("seed", seed, int, SEED)
        generator = torch.Generator().manual_seed(seed)  # on the CPU: the same faces on any device
        return torch.randn(num_samples, *self.latent_shape, generator=generator)

    def condition(
        self,
        attributes: AttributeSpec | Sequence[AttributeSpec] = None,
        n: int = 1,
        prompt: str | Sequence[str] | None = None,
    ) -> Condition | None:
        """The condition for ``n`` images; an unconditional request on a conditional model is the dropped one."""
        kind = self.kind
        kind.check_request(self.checkpoint, attributes=attributes, prompt=prompt)
        subject = self.subject.embedding if self.subject is not None else None
        return kind.request_condition(
            n, attributes, prompt, subject=subject, encode=lambda prompts: self.text_encoder.encode(prompts)
        )

    @torch.no_grad()
    def _batched(
        self,
        fn,
        inputs,
        cond: Condition | None,
        batch_size: int,
        progress: bool,
        desc: str,
        decode_outputs: bool = True,
        steps_per_batch: int = 1,
    ):
        """Run ``fn(chunk, cond_chunk, on_step)`` over batches on the device; decodes latents and gathers images (and
        trajectories) on the CPU. With ``progress``, one bar counts the sampler steps of all batches: the samplers
        report each step through ``on_step``."""
        outputs, trajectories = [], []
        decode = self.autoencoder.decode
        dtype = autocast_dtype(resolve_precision("auto", self.device))  # bf16 where the device has it natively
        autocast = torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)
        starts = range(0, len(inputs), batch_size)
        with tqdm(total=len(starts) * steps_per_batch, desc=desc, unit="step", disable=not progress) as bar:
            for start in starts:
                chunk = inputs[start : start + batch_size].to(self.device)
                part = cond.map(lambda v: v[start : start + batch_size].to(self.device)) if cond is not None else None
                with autocast:
                    out = fn(chunk, part, bar.update)
                final, states = out if isinstance(out, tuple) else (out, None)
                outputs.append(decode(final.float()).cpu() if decode_outputs else final.float().cpu())
                if states is not None:
                    trajectories.append([decode(s.float()).clamp(-1, 1).cpu() for s in states])
        result = torch.cat(outputs)
        return (result, [torch.cat(parts) for parts in zip(*trajectories)]) if trajectories else result

    def generate(
        self,
        num_samples: int = 16,
        steps: int | None = None,
        sampler: str | None = None,
        seed: int = 0,
        attributes: AttributeSpec | Sequence[AttributeSpec] = None,
        cfg_scale: float | None = None,
        batch_size: int = 64,
        return_trajectory: bool = False,
        progress: bool = True,
        noise: torch.Tensor | None = None,
        prompt: str | Sequence[str] | None = None,
        reference: str | Path | Image.Image | torch.Tensor | None = None,
        guidance_interval: Sequence[float] | None = None,
    ):
        """Images in [-1, 1]; with ``return_trajectory`` also the list of states from noise to image.

        ``guidance_interval`` (lo, hi): guide only from lo to hi of the way from noise (0) to data (1); None: the
        model's ``sampler.guidance_interval`` ((0, 1) guides all the way).

        ``reference`` (a face; models with a semantic encoder): every sample is conditioned on its code, so they
        are variations of that face, still steerable by ``attributes``.
        """
        steps, guidance = self.sampling_settings(steps, cfg_scale)
        batch_size = checked("batch_size", batch_size, int, Bound(1))
        interval = self.config.sampler.guidance_interval if guidance_interval is None else guidance_interval
        if not is_guidance_interval(interval):
            raise ValueError(f"guidance_interval must be (lo, hi) with 0 <= lo < hi <= 1, got {guidance_interval!r}")
        if noise is None:
            num_samples = checked("num_samples", num_samples, int, Bound(1))
            self.check_fits(num_samples, steps + 1 if return_trajectory else 1)
            noise = self.noise(num_samples, seed)
        cond = self.condition(attributes, len(noise), prompt)
        if reference is not None:
            x = load_face(reference, self.config.data.image_size)
            code = self.semantic_code(self.autoencoder.encode(x.to(self.device)))
            cond.semantic = code.expand(len(noise), -1)
        options = dict(
            sampler=resolved_sampler(self.config, sampler),
            steps=steps,
            guidance=guidance,
            return_trajectory=return_trajectory,
        )
        options |= guidance_options(interval, self.guide)
        net = self.sampling_net

        def run(x, c, on_step):
            return self.objective.sample(net, x, cond=c, on_step=on_step, **options)

        out = self._batched(run, noise, cond, batch_size, progress, "generating", steps_per_batch=steps)
        if return_trajectory:
            return out[0].clamp(-1, 1), out[1]
        return out.clamp(-1, 1)

    @property
    def semantic(self) -> bool:
        """Whether the model has a semantic encoder (conditional autoencoder) whose code edits can keep."""
        return self.kind.accepts_reference

    @torch.no_grad()
    def semantic_code(self, latents: torch.Tensor) -> torch.Tensor:
        """The posterior mean code [B, dim] of faces given in model space (after ``autoencoder.encode``)."""
        self.kind.check_request(self.checkpoint, reference=latents)
        return self.net.cond_embedder.face_code(latents.to(self.device)).cpu()

    def invert_face(
        self,
        image: str | Path | Image.Image | torch.Tensor,
        strength: float = 0.6,
        steps: int | None = None,
        source_attributes: AttributeSpec = None,
        use_semantic: bool | None = None,
    ) -> InvertedFace:
        """A real face inverted once, ``strength`` of the way back to noise (1 = all the way), under its own
        attributes (default: what the shipped classifier sees in it) and, with ``use_semantic`` (default: when the
        model has a semantic encoder), its own code: regenerate it under any condition with :meth:`regenerate`."""
        self.kind.check_edit()
        strength = checked("strength", strength, float, Bound(0, 1, low_open=True))
        steps, _ = self.sampling_settings(steps)
        from facegen.evaluation.classifier import predicted_attributes  # here: facegen.evaluation loads the metrics

        use_semantic = self.semantic if use_semantic is None else use_semantic
        x = load_face(image, self.config.data.image_size)
        latent_x = self.autoencoder.encode(x.to(self.device)).cpu()
        source = predicted_attributes(x) if source_attributes is None else attribute_matrix(source_attributes, 1)
        source_cond = self.condition(source)
        code = self.semantic_code(latent_x) if use_semantic else None
        if code is not None:
            source_cond.semantic = code
        net = self.sampling_net

        def invert(chunk, c, on_step):
            return self.objective.invert(net, chunk, steps=steps, cond=c, strength=strength, on_step=on_step)

        latent = self._batched(invert, latent_x, source_cond, 1, False, "inverting", decode_outputs=False)
        return InvertedFace(x, latent_x, latent, 1.0 - strength, source, source_cond, code)

    def steered_codes(self, code: torch.Tensor, changes: torch.Tensor, margin: float = 4.0) -> torch.Tensor:
        """``code`` [1, dim] moved, for each row of ``changes`` [n, 40], by the least change that makes the semantic
        encoder's attribute head read those attributes at ``±margin`` (0 = leave free): [n, dim] on the CPU."""
        margin = checked("semantic_margin", margin, float, Bound(0))
        codes = code.to(self.device).expand(len(changes), -1)
        return self.net.cond_embedder.steer(codes, changes.to(self.device), margin).cpu()

    def regenerate(
        self,
        face: InvertedFace,
        cond: Condition,
        steps: int | None = None,
        cfg_scale: float | None = None,
        guide_from_source: bool = False,
        starts: torch.Tensor | None = None,
        desc: str = "regenerating",
    ) -> torch.Tensor:
        """Images [n, 3, S, S] in [-1, 1]: the inverted face sampled back under each of ``cond``'s n conditions
        (from its one inverted latent, or from ``starts`` [n, ...] at the same time). ``guide_from_source``:
        guidance pushes from the face's own condition towards each target instead of from "nothing given"."""
        steps, guidance = self.sampling_settings(steps, cfg_scale)
        n = len(next(iter(cond.tensors().values())))
        starts = face.latent.expand(n, *face.latent.shape[1:]) if starts is None else starts
        sampler = resolved_sampler(self.config, None if self.config.objective.name == "ddpm" else "heun")
        net = self.sampling_net
        source = face.source.map(lambda v: v.to(self.device))

        def regenerate(chunk, c, on_step):
            denoiser, scale = net, guidance
            if guide_from_source and guidance != 1.0:  # guided here, away from the source; the sampler adds none
                base = source.map(lambda v: v.expand(len(chunk), *v.shape[1:]))
                denoiser, scale = guided(net, c, guidance, base), 1.0
            return self.objective.sample(
                denoiser, chunk.contiguous(), sampler=sampler, steps=steps, cond=c, guidance=scale, start=face.start,
                on_step=on_step,
            )  # fmt: skip

        return self._batched(regenerate, starts, cond, 64, False, desc).clamp(-1, 1)

    def edit(
        self,
        image: str | Path | Image.Image | torch.Tensor,
        changes: AttributeSpec,
        strength: float = 0.6,
        steps: int | None = None,
        cfg_scale: float | None = None,
        source_attributes: AttributeSpec = None,
        use_semantic: bool | None = None,
        semantic_margin: float = 4.0,
        inversion_steps: int | None = None,
        guide_from_source: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Change attributes of a real face: invert it under its source attributes, regenerate under the target.

        ``strength`` is how far back the inversion goes (1 = all the way to noise): more changes more.
        ``inversion_steps`` (default ``steps``): more than the regeneration's make the inversion, and with it the
        kept face, more exact. ``guide_from_source``: guidance pushes from the source attributes towards the
        target (the edit's direction) instead of from "nothing given" towards the target.
        ``source_attributes`` default to what the shipped attribute classifier sees in the photo.
        A model with a semantic encoder (default ``use_semantic``) also conditions on the face's own code, moved
        by the least change that makes its attribute head read the changed attributes at ``±semantic_margin``.
        Returns ``{"input", "reconstruction", "edited"}`` images [1, 3, S, S] in [-1, 1].
        """
        self.kind.check_edit()
        checked("strength", strength, float, Bound(0, 1, low_open=True))
        checked("semantic_margin", semantic_margin, float, Bound(0))
        steps, scale = self.sampling_settings(steps, cfg_scale)
        changed = attribute_matrix(changes, 1)  # a bad change fails before the inversion
        face = self.invert_face(image, strength, inversion_steps or steps, source_attributes, use_semantic)
        target = self.condition(torch.where(changed != 0, changed, face.attributes))
        if face.code is not None:
            target.semantic = self.steered_codes(face.code, changed, semantic_margin)
        return {
            "input": face.image,
            "reconstruction": self.regenerate(face, face.source, steps, 1.0, desc="reconstruction"),
            "edited": self.regenerate(face, target, steps, scale, guide_from_source, desc="edited"),
        }

    def interpolate(
        self,
        attributes: tuple[AttributeSpec, AttributeSpec] | None = None,
        seeds: tuple[int, int] | None = None,
        num_frames: int = 8,
        seed: int = MORPH_SEED,
        steps: int | None = None,
        cfg_scale: float | None = None,
    ) -> torch.Tensor:
        """Frames [F, 3, S, S]: between two attribute sets (same noise) and/or two seeds (slerped noise)."""
        if attributes is None and seeds is None:
            raise ValueError("give attributes=(a, b), seeds=(s1, s2), or both")
        steps, guidance = self.sampling_settings(steps, cfg_scale)
        num_frames = checked("num_frames", num_frames, int, Bound(2))
        self.check_fits(num_frames, name="num_frames")
        weights = torch.linspace(0, 1, num_frames)
        if seeds is not None:
            if not isinstance(seeds, (tuple, list)) or len(seeds) != 2:
                raise TypeError(f"seeds must be two seeds (a, b), got {seeds!r}")
            a, b = self.noise(1, seeds[0])[0], self.noise(1, seeds[1])[0]
            noise = torch.stack([slerp(a, b, float(w)) for w in weights])
        else:
            noise = self.noise(1, seed).expand(num_frames, -1, -1, -1)
        specs = None
        if attributes is not None:
            start, end = (attribute_matrix(a, 1)[0] for a in attributes)
            specs = torch.stack([(1 - w) * start + w * end for w in weights])
        return self.generate(num_frames, steps=steps, attributes=specs, cfg_scale=guidance, noise=noise, progress=False)

    @staticmethod
    def save(
        images: torch.Tensor,
        out_dir: str | Path,
        trajectory: list[torch.Tensor] | None = None,
        overwrite: bool = False,
    ) -> Path:
        """``out_dir/grid.png``, one ``NNNN.png`` per image, and ``trajectory.gif`` when a trajectory is given.
        ``out_dir`` must be new or empty (FileExistsError) unless ``overwrite``, which replaces files of those
        names there and keeps the others."""
        from facegen.utils.io import output_folder

        out_dir = Path(out_dir)
        with output_folder(out_dir, overwrite) as tmp:
            save_picture(grid(images), tmp / "grid.png")
            for i, image in enumerate(images):
                save_picture(image, tmp / f"{i:04d}.png")
            if trajectory is not None:
                save_gif(trajectory_frames(trajectory), tmp / "trajectory.gif")
        return out_dir
