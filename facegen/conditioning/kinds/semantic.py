"""Attributes and a code of the face itself (the conditional autoencoder, ``facegen.conditioning.semantic``):
``conditioning.type: attributes`` with ``conditioning.semantic_dim > 0``. Training passes the clean faces as
``Condition.reference``; a request may give a reference face (variations of it) and edits keep the face's code."""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn as nn

from facegen.conditioning.attributes import AttributeEmbedder
from facegen.conditioning.condition import Condition
from facegen.conditioning.kinds.attributes import AttributesKind
from facegen.conditioning.kinds.base import register_kind
from facegen.conditioning.semantic import SemanticEmbedder, SemanticEncoder


@register_kind
class SemanticKind(AttributesKind):
    name = "semantic"
    type = "attributes"
    accepts_reference = True

    @classmethod
    def selects(cls, options) -> bool:
        return options.semantic_dim > 0

    def embedder(self, dim: int, in_channels: int, image_size: int, with_tokens: bool) -> nn.Module:
        cc = self.options
        attributes = AttributeEmbedder(dim)
        encoder = SemanticEncoder(in_channels, image_size, cc.semantic_dim)
        return SemanticEmbedder(
            attributes,
            encoder,
            cc.semantic_dropout,
            cc.semantic_kl_weight,
            cc.semantic_attribute_weight,
            with_tokens=with_tokens,
        )

    def describe(self, guidance: str) -> str:
        return f"{super().describe(guidance)}, a {self.options.semantic_dim}-d face code"

    def batch_condition(self, batch, device, train=True, images=None) -> Condition:
        cond = super().batch_condition(batch, device, train)
        if images is not None:  # the clean faces ride along for the semantic encoder, inside the model's forward
            cond = replace(cond, reference=images)
        return cond

    def null_condition(self, n: int, device=None) -> Condition:
        cond = super().null_condition(n, device)
        return replace(cond, semantic=torch.zeros(n, self.options.semantic_dim, device=device))
