"""The 40 CelebA attributes, three states each (``facegen.conditioning.attributes``): ``conditioning.type:
attributes``. Training hides a random fraction of each face's attributes (all of them at ``cfg_dropout``)."""

from __future__ import annotations

import torch
import torch.nn as nn

from facegen.conditioning.attributes import AttributeEmbedder, attribute_matrix, hide_attributes
from facegen.conditioning.condition import Condition
from facegen.conditioning.kinds.base import ConditioningKind, register_kind
from facegen.data.attributes import CELEBA_ATTRIBUTES


@register_kind
class AttributesKind(ConditioningKind):
    name = type = "attributes"
    accepts_attributes = can_edit = accepts_subjects = True

    @classmethod
    def selects(cls, options) -> bool:
        return not options.semantic_dim

    def embedder(self, dim: int, in_channels: int, image_size: int, with_tokens: bool) -> nn.Module:
        return AttributeEmbedder(dim)

    def describe(self, guidance: str) -> str:
        return f"{len(CELEBA_ATTRIBUTES)} CelebA attributes + {guidance}"

    def check_data(self, data, dataset: str) -> None:
        if data.attributes is None:
            raise ValueError(f"conditioning.type=attributes needs a dataset with attributes; {dataset} has none")

    def batch_condition(self, batch, device, train=True, images=None) -> Condition:
        attributes = batch["attributes"]
        if train:
            with torch.device(attributes.device):  # its random draws on the data's device: no host round trip
                attributes = hide_attributes(attributes, self.options.cfg_dropout, self.options.max_mask_rate)
        return Condition(attributes=attributes.to(device, non_blocking=True))

    def request_condition(self, n, attributes=None, prompt=None, subject=None, encode=None) -> Condition:
        subject = subject.expand(n, -1) if subject is not None else None
        return Condition(attributes=attribute_matrix(attributes, n), subject=subject)

    def null_condition(self, n: int, device=None) -> Condition:
        return Condition(attributes=torch.zeros(n, len(CELEBA_ATTRIBUTES), device=device))

    def reference_request(self, attributes: torch.Tensor, seed: int) -> dict:
        return {"attributes": attributes}
