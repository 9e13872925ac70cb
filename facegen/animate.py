"""Animate a face: frames that move it along an eased path through condition space, written as a video.

    clip = animate(pipe, image="photo.jpg", to=["Smiling=1", "Young=0"], frames=48)   # a photo: smile, then age
    clip = animate(pipe, from_attributes="Male=1", to=["Male=0"])                      # one generated face
    clip = animate(pipe, seeds=[1, 2, 3])                                              # from face to face
    clip.save("clip.mp4")                                          # .mp4 (H.264), .webm (VP9) or .gif

Where the frames come from:

- a photo: aligned like CelebA and inverted ONCE under its own attributes (the classifier's reading), as
  ``FacePipeline.edit`` inverts, with the strength and guidance ``photo_edit.edit_settings`` chooses for the changed
  attributes; every frame is sampled from that one inverted latent under its own condition, guided away from the
  face's own attributes as edits are. Frame 0 is the reconstruction, so ``paste_back`` (``faces.paste_change``, as
  ``edit --paste-back``) starts from the photo itself. A model with a semantic encoder also moves the face's code
  from its own to the code steered to each keyframe (``SemanticEncoder.steer``, as edits steer it).
- attributes: one noise (``seed``) for every frame, the attributes moving from ``from_attributes`` through each
  keyframe (``FacePipeline.generate``, as ``interpolate`` does).
- seeds: the noise moves from one seed's to the next by ``samplers.noise.slerp``.

Keyframes (``to``) are cumulative: each changes the attributes it names and keeps the rest. Between two keyframes
the path is eased (smoothstep by default: it starts and stops gently at each one). Everything is deterministic:
the same arguments give the same frames. ``independent=True`` draws fresh noise for every frame instead (the
flickering baseline ``benchmarks/animate_consistency.py`` compares against).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from PIL import Image
from tqdm.auto import tqdm

from facegen.conditioning.attributes import AttributeSpec, attribute_matrix, parse_attributes
from facegen.faces.align import Alignment, try_align
from facegen.faces.paste import paste_change
from facegen.faces.photos import load_photo
from facegen.photo_edit import edit_settings
from facegen.pipeline import MORPH_SEED, FacePipeline
from facegen.samplers.noise import slerp
from facegen.utils.video import check_fps, encode_video, write_video

EASINGS: dict[str, Callable[[float], float]] = {
    "smoothstep": lambda t: t * t * (3 - 2 * t),
    "cosine": lambda t: (1 - math.cos(math.pi * t)) / 2,
    "linear": lambda t: t,
}
MAX_FRAMES = 1000
MAX_SEEDS = 2**32 - 1


@dataclass(frozen=True)
class Clip:
    frames: torch.Tensor  # [F, 3, S, S] faces in [-1, 1], as the model made them
    fps: int
    pasted: list[Image.Image] | None  # the photo, at its resolution, with each frame's change; None: not pasted
    report: dict[str, Any]  # what was asked and done: the CLI prints it, the API returns it

    @property
    def duration(self) -> float:
        return len(self.frames) / self.fps

    def pictures(self) -> list[Image.Image]:
        """What the video shows: the pasted photos when pasted back, else the faces."""
        from facegen.utils.images import to_pil

        return self.pasted if self.pasted is not None else [to_pil(frame) for frame in self.frames]

    def encode(self, suffix: str = ".mp4") -> bytes:
        return encode_video(self.pictures(), self.fps, suffix)

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """``path`` (.mp4, .webm or .gif by extension); an existing file only with ``overwrite``."""
        return write_video(self.pictures(), path, self.fps, overwrite)


def path_positions(num_frames: int, segments: int, easing: str = "smoothstep") -> list[tuple[int, float]]:
    """For each frame, ``(segment, weight)``: frame 0 at keyframe 0, the last at the last keyframe, the frames
    spread evenly over the segments and eased within each."""
    ease = EASINGS[easing]
    positions = []
    for k in range(num_frames):
        u = k * segments / (num_frames - 1)
        segment = min(int(u), segments - 1)
        positions.append((segment, ease(min(1.0, u - segment))))
    return positions


def along(keys: Sequence[torch.Tensor], positions: list[tuple[int, float]], mix=torch.lerp) -> torch.Tensor:
    """The value at each position of the path through ``keys`` (linear by default; ``slerp`` for noise)."""
    return torch.stack([mix(keys[s], keys[s + 1], w) if w > 0 else keys[s] for s, w in positions])


def keyframe_attributes(start: torch.Tensor, changes: Sequence[dict[str, Any]]) -> list[torch.Tensor]:
    """``start`` [40] then, per keyframe, the attributes with that keyframe's changes applied on the previous."""
    keys = [start.float()]
    for change in changes:
        changed = attribute_matrix(change, 1)[0]
        keys.append(torch.where(changed != 0, changed, keys[-1]))
    return keys


def check_request(
    pipe: FacePipeline | None,
    image=None,
    to: Sequence[AttributeSpec] = (),
    from_attributes: AttributeSpec = None,
    seeds: Sequence[int] | None = None,
    frames: int = 48,
    fps: int = 24,
    easing: str = "smoothstep",
    paste_back: bool = False,
    align: bool = True,
) -> list[dict[str, Any]]:
    """Every check that needs no model work, as one-line ValueErrors naming the argument; returns the keyframes'
    changes parsed. ``pipe`` None: only what needs no model (the CLI checks before it loads one)."""
    if isinstance(frames, bool) or not isinstance(frames, int) or not 2 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be an integer from 2 to {MAX_FRAMES}, got {frames!r}")
    check_fps(fps)
    if easing not in EASINGS:
        raise ValueError(f"easing must be one of {', '.join(EASINGS)}, got {easing!r}")
    sources = [
        name
        for name, given in (("image", image), ("seeds", seeds), ("from_attributes", from_attributes))
        if given is not None
    ]
    if image is not None and len(sources) > 1:
        raise ValueError(f"give one source: image, or seeds and/or from_attributes; got {' and '.join(sources)}")
    if not sources:
        raise ValueError("give a source: image (a photo), from_attributes, or seeds (two or more)")
    changes = []
    for i, spec in enumerate([to] if isinstance(to, (str, dict)) else list(to)):
        try:
            change = parse_attributes(spec) if isinstance(spec, str) else dict(spec)
            attribute_matrix(change, 1)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{'to' if i == 0 else 'then'} {spec!r}: {err}") from None
        if not change:
            raise ValueError(f"{'to' if i == 0 else 'then'}: name at least one attribute, e.g. Smiling=1")
        changes.append(change)
    if from_attributes is not None:
        try:
            attribute_matrix(from_attributes, 1)
        except (ValueError, TypeError) as err:
            raise ValueError(f"from_attributes {from_attributes!r}: {err}") from None
    if seeds is not None:
        seeds = list(seeds)
        if len(seeds) < 2:
            raise ValueError(f"seeds: give two or more seeds to move between, got {seeds!r}")
        if any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEEDS for s in seeds):
            raise ValueError(f"seeds must be integers from 0 to {MAX_SEEDS}, got {seeds!r}")
        if changes:
            raise ValueError(
                "to/then move a photo or from_attributes, not seeds (with seeds, from_attributes is fixed)"
            )
        if len(seeds) - 1 > frames - 1:
            raise ValueError(f"frames={frames} is too few for {len(seeds)} seeds: give at least {len(seeds)}")
    elif not changes:
        raise ValueError("to: name the attributes to move to, e.g. Smiling=1")
    if len(changes) > frames - 1:
        raise ValueError(
            f"frames={frames} is too few for {len(changes) + 1} keyframes: give at least {len(changes) + 1}"
        )
    if paste_back and (image is None or not align):
        raise ValueError("paste_back needs a photo (image) whose face is aligned")
    if (
        pipe is not None
        and (image is not None or changes or from_attributes is not None)
        and not takes_attributes(pipe)
    ):
        kind = pipe.config.conditioning.type
        raise ValueError(f"{pipe.checkpoint} is not attribute-conditioned (conditioning.type={kind}): use seeds")
    return changes


def takes_attributes(pipe: FacePipeline) -> bool:
    """Whether attribute requests steer ``pipe``'s model: its conditioning kind says where the pipeline has one
    (``pipe.kind.accepts_attributes``), else ``conditioning.type``."""
    kind = getattr(pipe, "kind", None)
    return kind.accepts_attributes if kind is not None else pipe.config.conditioning.type == "attributes"


def animate(
    pipe: FacePipeline,
    image: str | Path | Image.Image | None = None,
    to: Sequence[AttributeSpec] | AttributeSpec = (),
    from_attributes: AttributeSpec = None,
    seeds: Sequence[int] | None = None,
    seed: int = MORPH_SEED,
    frames: int = 48,
    fps: int = 24,
    steps: int | None = None,
    cfg_scale: float | None = None,
    easing: str = "smoothstep",
    strength: float | None = None,
    align: bool = True,
    paste_back: bool = False,
    use_semantic: bool | None = None,
    semantic_margin: float = 4.0,
    alignment: Alignment | None = None,
    independent: bool = False,
    batch_size: int = 8,
    progress: bool = True,
) -> Clip:
    """A clip of ``frames`` frames at ``fps`` (see the module's doc for the sources). ``to``: keyframes, each a
    change on the previous (a photo starts at its own attributes, ``from_attributes`` at those). ``seed``: the
    one noise of an attribute path. ``strength`` / ``cfg_scale`` default to the edit's settings for the changed
    attributes (a photo) or the model's (generated faces). ``alignment``: the photo's, when made already."""
    changes = check_request(pipe, image, to, from_attributes, seeds, frames, fps, easing, paste_back, align)
    started = time.perf_counter()
    segments = len(changes) if changes else len(seeds) - 1
    positions = path_positions(frames, segments, easing)
    report: dict[str, Any] = {"frames": frames, "fps": fps, "easing": easing, "keyframes": changes}
    bar = tqdm(total=frames, desc="animating", unit="frame", disable=not progress)
    pasted = None
    with bar:
        if image is not None:
            faces, pasted, details = _photo_frames(
                pipe, image, changes, positions, strength, steps, cfg_scale, align, paste_back,
                use_semantic, semantic_margin, alignment, independent, seed, batch_size, bar.update,
            )  # fmt: skip
            report |= {"source": "photo", **details}
        else:
            faces = _generated_frames(
                pipe,
                changes,
                from_attributes,
                seeds,
                seed,
                positions,
                steps,
                cfg_scale,
                independent,
                batch_size,
                bar.update,
            )
            report |= {"source": "seeds" if seeds is not None else "attributes", "seed": seed}
            report |= {"seeds": list(seeds)} if seeds is not None else {}
    report |= {"independent": independent, "seconds": round(time.perf_counter() - started, 2)}
    return Clip(faces, fps, pasted, report)


def _generated_frames(pipe, changes, from_attributes, seeds, seed, positions, steps, cfg_scale, independent,
                      batch_size, on_frames) -> torch.Tensor:  # fmt: skip
    """Frames from ``pipe.generate``: the noise (one, slerped between seeds, or fresh per frame) and the attributes
    along the path."""
    n = len(positions)
    if independent:
        noise = pipe.noise(n, seed if seeds is None else seeds[0])
    elif seeds is not None:
        noise = along([pipe.noise(1, s)[0] for s in seeds], positions, slerp)
    else:
        noise = pipe.noise(1, seed).expand(n, -1, -1, -1)
    attributes = None
    if changes:
        attributes = along(keyframe_attributes(attribute_matrix(from_attributes, 1)[0], changes), positions)
    elif from_attributes is not None:
        attributes = attribute_matrix(from_attributes, n)
    out = []
    for start in range(0, n, batch_size):
        part = slice(start, start + batch_size)
        chunk = pipe.generate(
            noise=noise[part].contiguous(),
            attributes=attributes[part] if attributes is not None else None,
            steps=steps,
            cfg_scale=cfg_scale,
            progress=False,
        )
        out.append(chunk)
        on_frames(len(chunk))
    return torch.cat(out)


@torch.no_grad()
def _photo_frames(pipe, image, changes, positions, strength, steps, cfg_scale, align, paste_back, use_semantic,
                  semantic_margin, alignment, independent, seed, batch_size, on_frames):  # fmt: skip
    """Invert the photo's face once (``FacePipeline.invert_face``), then regenerate each frame from that latent
    under its own condition (``FacePipeline.regenerate``)."""
    merged = {name: value for change in changes for name, value in change.items()}
    settings = edit_settings(merged, strength, cfg_scale)
    photo = load_photo(image)
    face, why = (alignment, "") if alignment is not None else try_align(image) if align else (None, "alignment off")
    if paste_back and face is None:
        raise ValueError(f"the face must be aligned to paste the animation back, and it is not: {why}")
    if independent and not hasattr(pipe.objective, "interpolate"):
        raise ValueError("independent frames from a photo need a rectified-flow model")
    steps, scale = pipe.sampling_settings(steps, settings.cfg_scale)
    inverted = pipe.invert_face(
        face.image if face is not None else photo, settings.strength, settings.inversion_steps or steps,
        use_semantic=use_semantic,
    )  # fmt: skip
    attributes = along(keyframe_attributes(inverted.attributes[0], changes), positions)
    codes = None
    if inverted.code is not None:  # the face's own code, then the code steered to each keyframe, as edits steer it
        cumulative = [{k: v for c in changes[: i + 1] for k, v in c.items()} for i in range(len(changes))]
        steered = pipe.steered_codes(inverted.code, attribute_matrix(cumulative, len(cumulative)), semantic_margin)
        codes = along([inverted.code[0], *steered], positions)
    starts = None
    if independent:  # the baseline: fresh noise per frame, mixed into the face as far as the inversion went
        noise = pipe.noise(len(positions), seed)
        times = torch.full((len(noise),), inverted.start)
        starts = pipe.objective.interpolate(noise, inverted.encoded.expand_as(noise), times)
    faces = []
    for first in range(0, len(positions), batch_size):
        part = slice(first, first + batch_size)
        cond = pipe.condition(attributes[part], len(attributes[part]))
        if codes is not None:
            cond.semantic = codes[part]
        chunk = pipe.regenerate(
            inverted, cond, steps, scale, settings.guide_from_source, None if starts is None else starts[part]
        )
        faces.append(chunk)
        on_frames(len(chunk))
    faces = torch.cat(faces)
    pasted = None
    if paste_back:  # each frame's change from frame 0 (the reconstruction) put into the photo
        pasted = [photo] + [paste_change(photo, f[None], faces[:1], face.transform) for f in faces[1:]]
    details = {
        "strength": settings.strength,
        "cfg_scale": scale,
        "steps": steps,
        "semantic": inverted.code is not None,
        "alignment": "not aligned" if face is None else "already aligned" if face.already_aligned else "aligned",
    }
    if face is None:
        details["note"] = f"not aligned ({why}): the centre of the photo was used"
    return faces, pasted, details
