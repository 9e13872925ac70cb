"""What a model is, in one line read from its config (``facegen models``), so the text can never disagree with it."""

from __future__ import annotations

from facegen.config import Config
from facegen.specs import backbone_spec


def backbone(cfg: Config) -> str:
    """``UNet-small``, ``DiT-small/2`` (the DiT's patch size after the slash)."""
    spec = backbone_spec(cfg.model.name)
    suffix = spec.describe(getattr(cfg.model, spec.name)) if spec.describe else ""
    return f"{spec.label or spec.name}-{cfg.model.size}{suffix}"


def space(cfg: Config) -> str:
    """``pixels`` or ``TAEF2 latents 32x16x16`` (channels x height x width)."""
    from facegen.autoencoders import TAEF2

    name, size = cfg.autoencoder.name, cfg.data.image_size
    if name == "identity":
        return "pixels"
    if name == "taef2":
        side = size // TAEF2.downsample
        return f"TAEF2 latents {TAEF2.latent_channels}x{side}x{side}"
    return f"{name} autoencoder latents"


def conditioning(cfg: Config) -> str:
    from facegen.conditioning.kinds import kind_of

    return kind_of(cfg).describe(f"classifier-free guidance (default scale {cfg.sampler.cfg_scale:g})")


def objective(cfg: Config) -> str:
    oc, sc = cfg.objective, cfg.sampler
    prediction = f" ({oc.prediction} prediction)" if oc.prediction else ""
    guide = f", autoguidance by {sc.guide} (weight {sc.guide_weight:g})" if sc.guide else ""
    shift = f" (time shift {sc.time_shift:g})" if sc.time_shift != 1.0 else ""
    return f"{oc.name.replace('_', ' ')}{prediction}, {sc.name} sampler, {sc.steps} steps{shift}{guide}"


def describe_model(cfg: Config, num_parameters: int) -> str:
    """E.g. ``UNet-small, 20.97M parameters, 128x128 faces from TAEF2 latents 32x16x16; 40 CelebA attributes + ...``."""
    size = cfg.data.image_size
    return (
        f"{backbone(cfg)}, {num_parameters / 1e6:.2f}M parameters, {size}x{size} faces from {space(cfg)}; "
        f"{conditioning(cfg)}; {objective(cfg)}"
    )
