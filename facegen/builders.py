"""Glue from a resolved :class:`Config` to the objects of each stage (model, embedder, objective, data)."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch.nn as nn

from facegen.conditioning.kinds import kind_of
from facegen.config import MODEL_SECTIONS, Config
from facegen.models import build_model, model_options
from facegen.specs import backbone_spec, objective_spec


def autoencoder_from_config(cfg: Config, device=None):
    from facegen.autoencoders import build_autoencoder

    return build_autoencoder(cfg.autoencoder.name, cfg.autoencoder.path, device=device)


def text_encoder_from_config(cfg: Config, device=None):
    from facegen.text import build_text_encoder

    cc = cfg.conditioning
    return build_text_encoder(cc.text_encoder, cc.text_encoder_path, device=device, max_length=cc.max_text_length)


def embedder_from_config(cfg: Config, in_channels: int, image_size: int) -> nn.Module | None:
    """The condition embedder for a backbone denoising [C=in_channels, image_size, image_size] inputs: the
    config's conditioning kind builds it, as wide as the backbone wants it."""
    kind = kind_of(cfg)
    if not kind.conditional:
        return None
    spec = backbone_spec(cfg.model.name)
    # A vector-only backbone (the DiT) takes only the pooled vector: token layers would get no gradients.
    with_tokens = not spec.vector_only
    # A backbone may need its own width (the DiT adds the vector to its timestep embedding: its hidden size).
    width = spec.conditioning_width and spec.conditioning_width(getattr(cfg.model, spec.name), cfg.model.size)
    return kind.embedder(width or cfg.conditioning.dim or 256, in_channels, image_size, with_tokens)


def model_config_options(cfg: Config) -> dict[str, Any]:
    """``{dotted config key: value}`` of what builds ``model.name``: the shared model keys its builder accepts
    (size, grad_checkpointing) and every key of its own section ``model.<name>`` (nulls too: the preset's value).

    The other backbones' sections build nothing: a config may switch ``model.name`` and leave them as they are.
    """
    accepted = set(model_options(cfg.model.name))
    shared = [f.name for f in dataclasses.fields(cfg.model) if f.name != "name" and f.name not in MODEL_SECTIONS]
    options = {f"model.{key}": getattr(cfg.model, key) for key in shared if key in accepted}
    section = getattr(cfg.model, cfg.model.name) if cfg.model.name in MODEL_SECTIONS else None
    if section is not None:
        options |= {f"model.{cfg.model.name}.{key}": value for key, value in dataclasses.asdict(section).items()}
    return options


def model_from_config(cfg: Config, autoencoder=None) -> nn.Module:
    """The backbone named by ``model.name`` for the autoencoder's latent shape, given only its own options; with
    ``video.frames`` wrapped as a video backbone (temporal layers after the blocks its spec lists)."""
    from facegen.autoencoders import latent_shape

    if autoencoder is None:
        autoencoder = autoencoder_from_config(cfg)
    channels, size, _ = latent_shape(autoencoder, cfg.data.image_size)
    options = {key.rpartition(".")[2]: value for key, value in model_config_options(cfg).items() if value is not None}
    if objective_spec(cfg.objective.name).two_time:  # the objective trains net(x, t, cond, r): r is embedded too
        options["two_time"] = True
    net = build_model(
        cfg.model.name,
        image_size=size,
        in_channels=channels,
        cond_embedder=embedder_from_config(cfg, channels, size),
        **options,
    )
    vc = cfg.video
    if vc.frames is None:
        return net
    from facegen.models.temporal import VideoBackbone

    sites = backbone_spec(cfg.model.name).temporal
    return VideoBackbone(net, sites, vc.frames, vc.temporal, vc.head_dim, vc.alpha_init, vc.train_spatial)


def objective_from_config(cfg: Config):
    from facegen.objectives import build_objective

    oc, sc = cfg.objective, cfg.sampler
    spec = objective_spec(oc.name)  # its own objective.<key>s and the sampler.<key>s it takes, nothing else
    options = {f.name: getattr(oc, f.name) for f in dataclasses.fields(spec.options)}
    options |= {key: getattr(sc, key) for key in spec.sampler_options}
    if oc.prediction is not None:
        options["prediction"] = oc.prediction
    objective = build_objective(oc.name, **options)
    if cfg.video.frames is not None and cfg.video.noise_correlation:
        objective = objective.with_frame_noise(cfg.video.noise_correlation, cfg.video.noise_shift)
    if cfg.video.frames is not None and cfg.video.given_first_frame:
        objective = objective.with_given_first_frame(cfg.video.given_first_frame)
    return objective


def cache_from_config(cfg: Config):
    """The decoded uint8 cache training reads from (built on first use)."""
    from facegen.data import download_celeba, load_or_build_cache

    if cfg.data.download and cfg.data.dataset == "celeba":
        download_celeba(cfg.data.root)
    return load_or_build_cache(
        cfg.data.dataset,
        cfg.data.root,
        cfg.data.split,
        cfg.data.image_size,
        cfg.data.crop,
        max_images=cfg.data.max_images,
        cache_dir=cfg.data.cache_dir,
        num_workers=cfg.data.num_workers,
    )


def encoded_cache_from_config(cfg: Config, device=None, autoencoder=None, text_encoder=None):
    """Latents of every face and its mirror (and caption embeddings for text conditioning), built once."""
    from facegen.data.encoded import load_or_build_encoded_cache

    if text_encoder is None and kind_of(cfg).uses_text_encoder:
        text_encoder = text_encoder_from_config(cfg, device)
    autoencoder = autoencoder or autoencoder_from_config(cfg, device)
    return load_or_build_encoded_cache(cache_from_config(cfg), autoencoder, text_encoder)


def clips_from_config(cfg: Config, autoencoder=None):
    """The clip cache a video run trains on (``video.clips``): camera-motion clips rendered from the ``data.*``
    photos, or aligned face clips from the videos in ``video.videos``; encoded for a latent run. Built once."""
    from facegen.data.clips import encode_clips, render_camera_motion

    vc, dc = cfg.video, cfg.data
    if vc.clips == "videos":
        from facegen.data.videos import video_clips

        cache = video_clips(vc.videos, vc.frames, dc.image_size, vc.frame_stride, dc.max_images, dc.cache_dir)
    else:
        cache = render_camera_motion(
            dc.dataset, dc.root, dc.split, vc.frames, dc.image_size, vc.pan, vc.zoom, vc.rotation,
            max_images=dc.max_images, cache_dir=dc.cache_dir, view=vc.view, pan_angle=vc.pan_angle,
        )  # fmt: skip
    if cfg.autoencoder.name == "identity":
        return cache
    return encode_clips(cache, autoencoder or autoencoder_from_config(cfg))
