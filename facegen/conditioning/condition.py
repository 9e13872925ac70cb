"""What a denoiser is conditioned on, besides the noisy input and the time.

Backbones take ``cond: Condition | None`` and hand it to their condition embedder; the blocks never look inside.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch


@dataclass
class Condition:
    """A batch of conditions. Every field is optional; ``None`` everywhere means unconditional.

    attributes: [B, 40] float in {-1, 0, +1}: absent, unspecified ("don't care"), present.
    text_tokens: [B, L, D] token embeddings for cross-attention; text_mask: [B, L] bool (True = real token).
    text_pooled: [B, D] pooled text embedding for AdaLN-style conditioning.
    reference: [B, C, H, W] clean faces whose semantic code conditions the model (see ``semantic.py``).
    semantic: [B, dim] a semantic code given directly (wins over ``reference``). All zeros = no code.
    subject: [B, D] a learned person (``facegen.personalization``), in the condition embedder's width D: one more
        summand of its pooled vector and one more token. All zeros = no person.
    """

    attributes: torch.Tensor | None = None
    text_tokens: torch.Tensor | None = None
    text_mask: torch.Tensor | None = None
    text_pooled: torch.Tensor | None = None
    reference: torch.Tensor | None = None
    semantic: torch.Tensor | None = None
    subject: torch.Tensor | None = None

    def tensors(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def map(self, fn) -> "Condition":
        """Apply ``fn`` to every tensor (e.g. ``.to(device)``, indexing, repeating)."""
        return replace(self, **{k: fn(v) for k, v in self.tensors().items()})

    def dropped(self) -> "Condition":
        """The unconditional counterpart: attributes all unspecified (0), text empty (zeros, no real tokens).

        The face (``reference`` / ``semantic``) is kept: it is what is being edited or varied, so guidance
        amplifies only the attribute / text direction given that face. Amplifying the code as well overshot it
        and changed the whole face (measured in docs/BENCHMARKS.md).
        The ``subject`` is dropped (zeros): a person was learned as a direction away from "any face", so guidance
        amplifies it like the attributes.
        """
        kept = {"reference": self.reference, "semantic": self.semantic}
        return replace(self.map(torch.zeros_like), **kept)

    @staticmethod
    def concat(conditions: list["Condition"]) -> "Condition":
        first = conditions[0]
        return replace(first, **{k: torch.cat([getattr(c, k) for c in conditions]) for k in first.tensors()})
