"""What the web page and the HTTP API both call: one loaded pipeline, every request checked, work bounded.

One generation runs at a time (a 2-core CPU or one GPU gains nothing from two), at most ``max_waiting`` more wait
behind it, and any request beyond that is refused at once as busy: the server's memory stays bounded whatever
the traffic. Every refusal is a :class:`BadRequest` or :class:`Busy` with one line meant for the user.
"""

from __future__ import annotations

import io
import math
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Iterator

import torch
from PIL import Image

from facegen.animate import Clip, animate, check_request
from facegen.conditioning.attributes import create_attribute_vector, parse_attributes
from facegen.config import resolved_sampler
from facegen.faces.photos import check_photo_shape
from facegen.photo_edit import PRESETS, EditResult, edit_photo
from facegen.pipeline import MORPH_SEED, FacePipeline
from facegen.pretrained import read_card
from facegen.utils.images import to_pil
from facegen.utils.pixels import to_rgb

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "BMP")  # what an upload may be; anything else is refused before decoding
MAX_PROMPT_CHARS = 300
MAX_CFG_SCALE = 20.0

# The 40 CelebA attributes as a person thinks of them (every attribute exactly once; tests check).
ATTRIBUTE_GROUPS: dict[str, tuple[str, ...]] = {
    "Person": ("Male", "Young", "Attractive", "Chubby", "Pale_Skin"),
    "Hair": (
        "Black_Hair",
        "Blond_Hair",
        "Brown_Hair",
        "Gray_Hair",
        "Bald",
        "Bangs",
        "Receding_Hairline",
        "Straight_Hair",
        "Wavy_Hair",
    ),
    "Beard": ("No_Beard", "5_o_Clock_Shadow", "Goatee", "Mustache", "Sideburns"),
    "Expression": ("Smiling", "Mouth_Slightly_Open"),
    "Face": (
        "Arched_Eyebrows",
        "Bushy_Eyebrows",
        "Bags_Under_Eyes",
        "Narrow_Eyes",
        "Big_Nose",
        "Pointy_Nose",
        "Big_Lips",
        "High_Cheekbones",
        "Rosy_Cheeks",
        "Oval_Face",
        "Double_Chin",
    ),
    "Accessories and make-up": (
        "Eyeglasses",
        "Wearing_Hat",
        "Wearing_Earrings",
        "Wearing_Necklace",
        "Wearing_Necktie",
        "Heavy_Makeup",
        "Wearing_Lipstick",
    ),
    "Photo": ("Blurry",),
}


class BadRequest(ValueError):
    """A request the server will not run: the message says which field and what is allowed."""


class TooLarge(BadRequest):
    """An upload over the size or pixel limit."""


class Busy(RuntimeError):
    """Every slot of the queue is taken; the client should retry later."""


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 8 * 2**20
    max_pixels: int = 24_000_000  # a 24-megapixel phone photo; larger ones are refused before decoding
    max_faces: int = 16
    max_steps: int = 50
    max_frames: int = 24
    max_animation_frames: int = 48  # a 2-second clip at 24 fps: about 20 s on 2 CPU cores
    max_waiting: int = 4  # requests queued behind the running one


def _integer(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadRequest(f"{name} must be an integer from {low} to {high}, got {value!r}")
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return number


def _number(name: str, value: Any, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name} must be a number from {low:g} to {high:g}, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or not low <= number <= high:
        raise BadRequest(f"{name} must be a number from {low:g} to {high:g}, got {value!r}")
    return number


def attribute_spec(value: Any, field: str = "attributes") -> dict[str, Any]:
    """``"Smiling=1,Male=0"`` or ``{"Smiling": 1}`` -> a checked mapping (unknown names and values refused)."""
    if value is None or value == "":
        return {}
    try:
        spec = parse_attributes(value) if isinstance(value, str) else dict(value)
        names = [name.lower() for name in spec if isinstance(name, str)]
        if len(set(names)) < len(names):  # {"Smiling": 1, "smiling": -1}: which was meant cannot be guessed
            raise ValueError(f"an attribute is given twice in {sorted(spec)}: give each attribute once")
        create_attribute_vector(spec)
    except (TypeError, ValueError) as err:
        raise BadRequest(f"{field}: {err}") from None
    return spec


class FaceService:
    """A loaded :class:`FacePipeline` behind checked, bounded operations returning PIL images."""

    def __init__(self, pipeline: FacePipeline, limits: Limits = Limits(), name: str | None = None):
        self.pipeline, self.limits = pipeline, limits
        self.name = name or (pipeline.checkpoint.name if pipeline.checkpoint else "model")
        self._work = threading.Lock()
        self._admit = threading.Lock()
        self._pending = 0

    @contextmanager
    def _slot(self) -> Iterator[None]:
        with self._admit:
            if self._pending > self.limits.max_waiting:
                raise Busy(
                    f"busy: {self._pending} requests are running or waiting (limit {self.limits.max_waiting + 1}); "
                    "try again in a few seconds"
                )
            self._pending += 1
        try:
            with self._work:
                yield
        finally:
            with self._admit:
                self._pending -= 1

    # ---- what the model is -------------------------------------------------------------------------------------

    @property
    def samplers(self) -> tuple[str, ...]:
        return tuple(self.pipeline.objective.samplers)

    def info(self) -> dict[str, Any]:
        cfg = self.pipeline.config
        source = self.pipeline.checkpoint
        return {
            "name": self.name,
            "subject": self.pipeline.subject.name if self.pipeline.subject is not None else None,
            "source": source.name if source else None,  # not the server's path: clients need not know its folders
            "device": str(self.pipeline.device),
            "image_size": cfg.data.image_size,
            "conditioning": self.pipeline.kind.type,
            "objective": cfg.objective.name,
            "sampler": resolved_sampler(cfg),
            "samplers": list(self.samplers),
            "steps": cfg.sampler.steps,
            "cfg_scale": cfg.sampler.cfg_scale,
            "parameters_m": round(sum(p.numel() for p in self.pipeline.net.parameters()) / 1e6, 2),
            "limits": asdict(self.limits),
            "card": read_card(source) if source else "",
        }

    # ---- checks shared by every operation ----------------------------------------------------------------------

    def _options(self, steps: Any, sampler: Any, cfg_scale: Any) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if steps not in (None, ""):
            options["steps"] = _integer("steps", steps, 1, self.limits.max_steps)
        if sampler not in (None, ""):
            if sampler not in self.samplers:
                raise BadRequest(f"sampler must be one of {', '.join(self.samplers)}, got {sampler!r}")
            options["sampler"] = sampler
        if cfg_scale not in (None, ""):
            options["cfg_scale"] = _number("cfg_scale", cfg_scale, 0.0, MAX_CFG_SCALE)
        return options

    def _attributes(self, value: Any, field: str = "attributes") -> dict[str, Any] | None:
        spec = attribute_spec(value, field)
        kind = self.pipeline.kind
        if spec and not kind.accepts_attributes:
            raise BadRequest(f"{field}: this model is not attribute-conditioned (conditioning: {kind.type})")
        return spec or None

    def read_image(self, data: bytes, filename: str = "upload") -> Image.Image:
        """An uploaded file -> RGB image, refusing what is too big, not an image, or too many pixels."""
        if len(data) > self.limits.max_upload_bytes:
            raise TooLarge(
                f"{filename}: {len(data) / 2**20:.1f} MiB is over the upload limit of "
                f"{self.limits.max_upload_bytes / 2**20:.0f} MiB"
            )
        try:
            image = Image.open(io.BytesIO(data))
        except Exception:  # PIL raises several kinds for non-images; all mean the same to the user
            raise BadRequest(f"{filename}: not an image; upload a {', '.join(IMAGE_FORMATS)} file") from None
        if image.format not in IMAGE_FORMATS:
            raise BadRequest(f"{filename}: {image.format} images are not accepted; use {', '.join(IMAGE_FORMATS)}")
        if image.width * image.height > self.limits.max_pixels:
            raise TooLarge(
                f"{filename}: {image.width}x{image.height} is over the limit of {self.limits.max_pixels:,} pixels"
            )
        try:
            check_photo_shape(image.size, filename)
        except ValueError as err:
            raise BadRequest(str(err)) from None
        try:
            return to_rgb(image)
        except ValueError as err:  # pixels that are not numbers
            raise BadRequest(f"{filename}: {err}") from None
        except Exception:
            raise BadRequest(f"{filename}: the image data is damaged") from None

    # ---- operations ----------------------------------------------------------------------------------------------

    def generate(
        self,
        attributes: Any = None,
        num_faces: Any = 4,
        seed: Any = 0,
        steps: Any = None,
        sampler: Any = None,
        cfg_scale: Any = None,
        prompt: str | None = None,
        progress: bool = False,
    ) -> list[Image.Image]:
        spec = self._attributes(attributes)
        n = _integer("num_faces", num_faces, 1, self.limits.max_faces)
        seed = _integer("seed", seed, 0, 2**32 - 1)
        options = self._options(steps, sampler, cfg_scale)
        if prompt:
            if not self.pipeline.kind.accepts_prompts:
                raise BadRequest("prompt: this model is not text-conditioned; use attributes")
            if len(prompt) > MAX_PROMPT_CHARS:
                raise BadRequest(f"prompt: {len(prompt)} characters, at most {MAX_PROMPT_CHARS}")
        with self._slot():
            images = self.pipeline.generate(
                n, seed=seed, attributes=spec, prompt=prompt or None, progress=progress, **options
            )
        return [to_pil(image) for image in images]

    def edit(
        self,
        image: Image.Image,
        changes: Any,
        strength: Any = None,
        steps: Any = None,
        cfg_scale: Any = None,
        align: bool = True,
        preset: str = "recommended",
        name: str = "photo",
    ) -> EditResult:
        """``edit_photo`` with every input checked: the face as the model sees it, rebuilt, changed, and the photo
        with the change (``pasted``) when its face was aligned. ``strength`` None: the attribute's default,
        moved by ``preset``."""
        if not self.pipeline.kind.can_edit:
            raise BadRequest("edit needs an attribute-conditioned model")
        spec = self._attributes(changes, "changes")
        if not spec:
            raise BadRequest("changes: name at least one attribute to change, e.g. Smiling=1")
        strength = None if strength in (None, "") else _number("strength", strength, 0.05, 1.0)
        if preset not in PRESETS:
            raise BadRequest(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        options = self._options(steps, None, cfg_scale)
        with self._slot():
            return edit_photo(
                self.pipeline, image, spec, strength=strength, align=align, preset=preset, name=name, **options
            )

    def interpolate(
        self,
        from_attributes: Any = None,
        to_attributes: Any = None,
        seeds: tuple[Any, Any] | None = None,
        num_frames: Any = 8,
        seed: Any = MORPH_SEED,  # the CLI's: the face chosen for an attribute morph
        steps: Any = None,
        cfg_scale: Any = None,
    ) -> list[Image.Image]:
        """Frames between two attribute sets (same face) and/or two seeds."""
        frames = _integer("num_frames", num_frames, 2, self.limits.max_frames)
        seed = _integer("seed", seed, 0, 2**32 - 1)
        pair = None
        if from_attributes not in (None, "", {}) or to_attributes not in (None, "", {}):
            pair = (
                self._attributes(from_attributes, "from_attributes"),
                self._attributes(to_attributes, "to_attributes"),
            )
        if seeds is not None:
            if len(seeds) != 2:
                raise BadRequest(f"seeds must be two integers, got {seeds!r}")
            seeds = tuple(_integer("seeds", s, 0, 2**32 - 1) for s in seeds)
        if pair is None and seeds is None:
            raise BadRequest("give from_attributes/to_attributes, seeds=[a, b], or both")
        options = self._options(steps, None, cfg_scale)
        with self._slot():
            images = self.pipeline.interpolate(attributes=pair, seeds=seeds, num_frames=frames, seed=seed, **options)
        return [to_pil(image) for image in images]

    def animate(
        self,
        image: Image.Image | None = None,
        to: Any = None,
        from_attributes: Any = None,
        seeds: Any = None,
        num_frames: Any = 24,
        fps: Any = 12,
        steps: Any = None,
        cfg_scale: Any = None,
        paste_back: bool = False,
        seed: Any = MORPH_SEED,
        progress: bool = False,
    ) -> Clip:
        """``facegen.animate.animate`` with every input checked: a photo (``image``) moving through the keyframes
        ``to`` (one attribute string or a list of them, each changing the previous), a generated face from
        ``from_attributes``, or ``seeds`` (a list, or "1,2,3")."""
        frames = _integer("num_frames", num_frames, 2, self.limits.max_animation_frames)
        fps = _integer("fps", fps, 1, 60)
        seed = _integer("seed", seed, 0, 2**32 - 1)
        keyframes = [] if to in (None, "", []) else [to] if isinstance(to, (str, dict)) else list(to)
        keyframes = [self._attributes(k, "to") or {} for k in keyframes]
        start = self._attributes(from_attributes, "from_attributes") if from_attributes not in (None, "") else None
        if isinstance(seeds, str):
            seeds = [part for part in seeds.replace(" ", "").split(",") if part] if seeds.strip() else None
        if seeds is not None:
            if not isinstance(seeds, (list, tuple)):
                raise BadRequest(f"seeds must be a list of two or more integers, got {seeds!r}")
            seeds = [_integer("seeds", s, 0, 2**32 - 1) for s in seeds]
        if image is not None and start is None and seeds is None and not keyframes:
            raise BadRequest("to: name the attributes the photo moves to, e.g. Smiling=1")
        try:
            check_request(self.pipeline, image, keyframes, start, seeds, frames, fps, paste_back=paste_back)
        except ValueError as err:
            raise BadRequest(str(err)) from None
        options = self._options(steps, None, cfg_scale)
        with self._slot():
            try:
                return animate(
                    self.pipeline, image, keyframes, start, seeds, seed, frames, fps, paste_back=paste_back,
                    progress=progress, **options,
                )  # fmt: skip
            except ValueError as err:  # a photo whose face cannot be aligned for paste_back
                raise BadRequest(str(err)) from None


def encode_png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def encode_gif(frames: list[Image.Image], duration_ms: int = 120) -> bytes:
    """A looping GIF that pauses on both ends, so the change is easy to follow."""
    buffer = io.BytesIO()
    durations = [duration_ms] * len(frames)
    durations[0] = durations[-1] = 800
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return buffer.getvalue()


def grid_image(images: list[Image.Image], columns: int = 4) -> Image.Image:
    """Images side by side on a white sheet, in rows of ``columns``."""
    from torchvision.transforms.functional import pil_to_tensor

    from facegen.utils.images import grid

    tensors = torch.stack([pil_to_tensor(image).float() / 127.5 - 1 for image in images])
    return to_pil(grid(tensors, nrow=min(columns, len(images))))
