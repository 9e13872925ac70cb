"""What every training objective provides, so the trainer, pipeline and scoring never ask which one they hold."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn

from facegen.conditioning import Condition, Guide, guided
from facegen.samplers.ode import OnStep
from facegen.specs import objective_spec, sampler_problem

LossResult = torch.Tensor | tuple[torch.Tensor, dict[str, torch.Tensor]]


OBJECTIVES: dict[str, type] = {}  # objective name -> class, filled by Objective's subclasses

Trajectory = torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]


class Objective:
    """What every training objective provides, so the trainer, pipeline and scoring never ask which one they hold.

    ``class DDPM(Objective, name="ddpm")`` reads its samplers from its registered spec (``facegen.specs``) and
    registers the class in ``OBJECTIVES`` under that name. A subclass writes ``loss`` and the two integrations
    (``_sample``, ``_invert``) of an already guided denoiser; ``sample`` and ``invert`` are the same for all."""

    name: str
    # Clips [B, T, ...]: the share of each frame's noise variance drawn once per clip (``video.noise_correlation``)
    frame_correlation: float = 0.0
    frame_shift: tuple[int, int] = (0, 0)  # (dx, dy): how far that shared draw moves each frame (warped noise)
    samplers: tuple[str, ...]  # from its spec, the default first
    default_sampler: str
    predictions: tuple[str, ...]  # what its net may be trained to predict, from its spec

    def __init_subclass__(cls, name: str, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if name in OBJECTIVES:
            raise ValueError(f"objective {name!r} is already registered (by {OBJECTIVES[name].__qualname__})")
        spec = objective_spec(name)
        cls.name, cls.samplers, cls.predictions = name, spec.samplers, spec.predictions
        cls.default_sampler = cls.samplers[0]
        OBJECTIVES[name] = cls

    def loss(
        self, net: nn.Module, images: torch.Tensor, cond: Condition | None = None, return_parts: bool = False
    ) -> LossResult:
        """The training loss of one batch: the objective's own plus the auxiliary terms the net's forward returned
        (``net(..., return_aux=True)``); with ``return_parts`` also those terms' parts, for the logs."""
        raise NotImplementedError

    def __call__(self, *args, **kwargs) -> LossResult:
        return self.loss(*args, **kwargs)

    def with_frame_noise(self, correlation: float, shift: tuple[int, int] = (0, 0)) -> "Objective":
        """This objective with frames of a clip whose noise is correlated (PYoCo's mixed prior) and, with a
        ``shift`` (dx, dy) in pixels of the net's input per frame, moving (warped noise), for training and sampling
        alike."""
        if not 0 <= correlation < 1:
            raise ValueError(f"frame noise correlation {correlation}: must lie in [0, 1)")
        objective = copy.copy(self)
        objective.frame_correlation, objective.frame_shift = correlation, (int(shift[0]), int(shift[1]))
        return objective

    def noise(self, shape, generator: torch.Generator | None = None, device=None, dtype=None) -> torch.Tensor:
        """Standard normal noise of ``shape``; for clips [B, T, ...] each frame is ``sqrt(c)`` times one draw per
        clip plus ``sqrt(1 - c)`` times its own (c = ``frame_correlation``): every frame stays N(0, I), and two
        frames of a clip correlate by c. With c = 0 it is exactly ``torch.randn``."""
        own = torch.randn(shape, generator=generator, device=device, dtype=dtype)
        if not self.frame_correlation or len(shape) != 5:
            return own
        shared = self._clip_draw(shape, generator=generator, device=device, dtype=dtype)
        return self.frame_correlation**0.5 * shared + (1 - self.frame_correlation) ** 0.5 * own

    def _clip_draw(self, shape, **draw) -> torch.Tensor:
        """One draw per clip [B, T, C, H, W]: each frame a window of one larger canvas, the window moving by
        ``frame_shift`` a frame the other way, so the content of frame k + 1 at (y, x) is frame k's at
        (y - dy, x - dx); with no shift every frame is the same draw."""
        b, t, c, h, w = shape
        dx, dy = self.frame_shift
        canvas = torch.randn((b, c, h + abs(dy) * (t - 1), w + abs(dx) * (t - 1)), **draw)
        top, left = max(dy, 0) * (t - 1), max(dx, 0) * (t - 1)
        windows = [canvas[..., top - k * dy : top - k * dy + h, left - k * dx : left - k * dx + w] for k in range(t)]
        return torch.stack(windows, dim=1)

    def noise_like(self, images: torch.Tensor) -> torch.Tensor:
        return self.noise(images.shape, device=images.device, dtype=images.dtype)

    def sample(
        self,
        net: nn.Module,
        noise: torch.Tensor,
        sampler: str | None = None,
        steps: int = 50,
        cond: Condition | None = None,
        guidance: float = 1.0,
        return_trajectory: bool = False,
        on_step: OnStep = None,
        start: float = 0.0,
        guidance_interval: tuple[float, float] | None = None,
        guide: Guide | None = None,
    ) -> Trajectory:
        """Images from ``noise`` (or, from ``start`` > 0, from a partly inverted image); ``sampler`` None: the
        default; with ``return_trajectory`` also the states along the way. ``guidance_interval`` (lo, hi): guide
        only from lo to hi of the way from noise (0) to data (1) (None: all the way); ``guide``: a weaker net to guide
        away from as well (autoguidance, with its own weight)."""
        method = self._sampler(sampler)
        window = None if guidance_interval is None else self.net_times(*guidance_interval)
        denoiser = guided(net, cond, guidance, window=window, guide=guide)
        return self._sample(denoiser, noise, method, steps, start, return_trajectory, on_step)

    def invert(
        self,
        net: nn.Module,
        images: torch.Tensor,
        steps: int = 50,
        cond: Condition | None = None,
        guidance: float = 1.0,
        on_step: OnStep = None,
        strength: float = 1.0,
    ) -> torch.Tensor:
        """The latent that deterministic sampling from ``start = 1 - strength`` maps back to ``images``."""
        return self._invert(guided(net, cond, guidance), images, steps, strength, on_step)

    def net_times(self, lo: float, hi: float) -> tuple[float, float]:
        """The net's time inputs between ``lo`` and ``hi`` of the way from noise (0) to data (1): this objective's
        time runs that way (rectified flow); one whose time runs the other way overrides it."""
        return lo, hi

    def _sample(self, denoiser, noise, method: str, steps: int, start: float, return_trajectory: bool,
                on_step: OnStep) -> Trajectory:  # fmt: skip
        """``sample`` with the guidance already in ``denoiser(x, t)`` and the sampler name checked."""
        raise NotImplementedError

    def _invert(self, denoiser, images, steps: int, strength: float, on_step: OnStep) -> torch.Tensor:
        """``invert`` with the guidance already in ``denoiser(x, t)``."""
        raise NotImplementedError

    @staticmethod
    def _choice(key: str, value: str, allowed) -> str:
        """``value`` if it is one of ``allowed``, else an error naming the option and what it may be."""
        if value not in allowed:
            raise ValueError(f"{key} must be {' or '.join(map(repr, allowed))}, got {value!r}")
        return value

    def _sampler(self, sampler: str | None) -> str:
        """The sampler to use (None: the default); one this objective cannot use is an error saying which can."""
        if sampler is None:
            return self.default_sampler
        problem = sampler_problem(self.name, sampler)
        if problem:
            raise ValueError(f"sampler {problem}")
        return sampler


def guidance_options(interval: list[float] | None, guide: Guide | None = None) -> dict:
    """The ``sample`` keywords of guidance on an interval and autoguidance, only when used: an objective that
    writes its own ``sample`` need not know them until a model asks for them."""
    options = {"guidance_interval": tuple(float(v) for v in interval)} if interval is not None else {}
    return options | ({"guide": guide} if guide is not None else {})


def training_loss(
    loss: torch.Tensor, auxiliary: torch.Tensor | float, parts: dict[str, torch.Tensor], return_parts: bool
) -> LossResult:
    """The objective's loss plus the net's auxiliary terms, and their parts with ``return_parts``."""
    total = loss + auxiliary
    return (total, parts) if return_parts else total
