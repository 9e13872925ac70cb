"""Denoising backbones behind one interface, ``net(x, t, cond=None, r=None) -> prediction`` shaped like x, built by
name (each has its torch-free spec in ``facegen.specs``).

net = build_model("dit", image_size=32, size="tiny", patch_size=2)
"""

# Importing dit registers "dit" in MODEL_REGISTRY.
from facegen.models.backbone import Backbone
from facegen.models.dit import DIT_PRESETS, DiT, DiTBlock, DiTPreset
from facegen.models.registry import MODEL_REGISTRY, build_model, count_parameters, model_options, register_model
from facegen.models.unet import UNET_PRESETS, UNet, UNetPreset  # registers "unet"

__all__ = [
    "Backbone",
    "DIT_PRESETS",
    "DiT",
    "DiTBlock",
    "DiTPreset",
    "MODEL_REGISTRY",
    "build_model",
    "count_parameters",
    "model_options",
    "register_model",
    "UNET_PRESETS",
    "UNet",
    "UNetPreset",
]
