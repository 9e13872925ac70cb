"""Text prompts, embedded by a frozen text encoder (``facegen.text``; cached for training): ``conditioning.type:
text``. Training drops a caption (the empty prompt) with probability ``cfg_dropout``; evaluation asks for the
captions made from real faces' attributes."""

from __future__ import annotations

import torch
import torch.nn as nn

from facegen.conditioning.condition import Condition
from facegen.conditioning.kinds.base import ConditioningKind, register_kind
from facegen.conditioning.text import TextEmbedder, drop_text

TEXT_FIELDS = ("text_tokens", "text_mask", "text_pooled")


@register_kind
class TextKind(ConditioningKind):
    name = type = "text"
    accepts_prompts = uses_text_encoder = True

    def _text_dim(self) -> int:
        if self.options.text_dim is None:
            raise ValueError("conditioning.text_dim is unknown: it is set from the text encoder when training starts")
        return self.options.text_dim

    def embedder(self, dim: int, in_channels: int, image_size: int, with_tokens: bool) -> nn.Module:
        text_dim = self._text_dim()
        return TextEmbedder(dim, text_dim, with_tokens=with_tokens, max_length=self.options.max_text_length)

    def describe(self, guidance: str) -> str:
        return f"text ({self.options.text_encoder}) + {guidance}"

    def batch_condition(self, batch, device, train=True, images=None) -> Condition:
        cond = Condition(**{k: batch[k].to(device, non_blocking=True) for k in TEXT_FIELDS})
        return drop_text(cond, self.options.cfg_dropout) if train else cond

    def request_condition(self, n, attributes=None, prompt=None, subject=None, encode=None) -> Condition:
        prompts = [prompt or ""] * n if prompt is None or isinstance(prompt, str) else list(prompt)
        if len(prompts) != n:
            raise ValueError(f"got {len(prompts)} prompts for {n} images")
        tokens, mask, pooled = (v.float().cpu() for v in encode(prompts))
        cond = Condition(text_tokens=tokens, text_mask=mask, text_pooled=pooled)
        empty = torch.tensor([not p.strip() for p in prompts])  # "" = the unconditional branch, as trained
        return cond.map(lambda v: torch.where(empty.view(-1, *[1] * (v.dim() - 1)), torch.zeros_like(v), v))

    def null_condition(self, n: int, device=None) -> Condition:
        """The empty prompt (zeros, no visible tokens), as ``TextEmbedder.null_condition`` gives it."""
        length, text_dim = (n, self.options.max_text_length), self._text_dim()
        return Condition(
            text_tokens=torch.zeros(*length, text_dim, device=device),
            text_mask=torch.zeros(length, dtype=torch.bool, device=device),
            text_pooled=torch.zeros(n, text_dim, device=device),
        )

    def reference_request(self, attributes: torch.Tensor, seed: int) -> dict:
        from facegen.text import captions_for

        return {"prompt": captions_for(attributes, seed=seed)}
