"""A small CNN that predicts the 40 CelebA attributes from a 64x64 face, and its shipped weights.

Its penultimate activations (``features``) serve FD_attr/KID_attr, its logits attribute consistency.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from facegen.data import CELEBA_ATTRIBUTES
from facegen.evaluation.features import file_sha256
from facegen.utils.pixels import to_model_range

INPUT_SIZE = 64
DEFAULT_WIDTH = 32
SHIPPED_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "celeba_attr_classifier.safetensors"


def _conv(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class AttributeClassifier(nn.Module):
    """Four stride-2 stages (64 -> 4 px) of two 3x3 convs, global average pool -> ``8 * width`` features -> 40 logits.

    Input: images [B, 3, H, W] in [-1, 1]; any size is resized to 64x64 (antialiased bilinear) first.
    """

    def __init__(self, width: int = DEFAULT_WIDTH, dropout: float = 0.2) -> None:
        super().__init__()
        self.width = width
        channels = [width, 2 * width, 4 * width, 8 * width]
        layers, previous = [], 3
        for out in channels:
            layers += [_conv(previous, out, stride=2), _conv(out, out, stride=1)]
            previous = out
        self.body = nn.Sequential(*layers)
        self.feature_dim = channels[-1]
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.feature_dim, len(CELEBA_ATTRIBUTES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations [B, 8 * width] (after ReLU and average pooling)."""
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
        return self.body(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """40 logits, one per attribute of ``CELEBA_ATTRIBUTES`` (positive = attribute present)."""
        return self.head(self.dropout(self.features(x)))


def save_attribute_classifier(model: AttributeClassifier, path: str | os.PathLike) -> None:
    """Weights as safetensors (fp32), with the width and attribute names in its metadata."""
    state = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    metadata = {"width": str(model.width), "attributes": json.dumps(list(CELEBA_ATTRIBUTES))}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=metadata)


def load_attribute_classifier(path: str | os.PathLike | None = None) -> AttributeClassifier:
    """The classifier in eval mode; ``path=None`` loads the weights shipped in ``facegen/assets``."""
    path = Path(path) if path is not None else SHIPPED_WEIGHTS
    if not path.is_file():
        raise FileNotFoundError(
            f"attribute classifier weights not found at {path}; train them with "
            f"`python benchmarks/train_classifier.py --celeba-root PATH --out {path}`"
        )
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if json.loads(metadata.get("attributes", "[]")) != list(CELEBA_ATTRIBUTES):
        raise ValueError(f"{path} was not trained on the 40 CelebA attributes in facegen's order")
    model = AttributeClassifier(width=int(metadata["width"]))
    model.load_state_dict(load_file(str(path)))
    return model.eval()


class ClassifierFeatures:
    """The classifier as a feature extractor: uint8 images -> {"features": [B, D], "logits": [B, 40]}."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        path = Path(path) if path is not None else SHIPPED_WEIGHTS
        self.model = load_attribute_classifier(path).to(memory_format=torch.channels_last)  # faster on CPU
        sha = file_sha256(path)
        self.id = f"celeba-attr-cnn-{sha[:12]}"
        self.protocol: dict[str, Any] = {
            "network": f"facegen CelebA attribute CNN (width {self.model.width}, {self.model.feature_dim}-d features)",
            "weights_file": path.name,
            "weights_sha256": sha[:12],
            "resize": f"uint8 -> [-1, 1] -> {INPUT_SIZE}x{INPUT_SIZE} bilinear, antialiased (when not already)",
        }

    def __call__(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = to_model_range(images).contiguous(memory_format=torch.channels_last)
        features = self.model.features(x)
        return {"features": features, "logits": self.model.head(features)}


@functools.cache
def _shipped_classifier() -> nn.Module:
    return load_attribute_classifier()  # loaded once, not once per edit


def predicted_attributes(images: torch.Tensor) -> torch.Tensor:
    """A photo's own attributes (+1/-1) as the shipped CelebA attribute classifier sees them."""
    with torch.no_grad():
        return torch.where(_shipped_classifier()(images.float()) > 0, 1.0, -1.0)
