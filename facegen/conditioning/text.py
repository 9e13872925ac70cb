"""Text as a condition: frozen-encoder embeddings (cached) -> learned tokens and a pooled vector for the backbone."""

from __future__ import annotations

import torch
import torch.nn as nn

from facegen.conditioning.condition import Condition


class TextEmbedder(nn.Module):
    """Projects text-encoder outputs to the backbone's width.

    A learned "null" token is always prepended and visible, so a fully dropped prompt (the unconditional branch,
    all tokens masked) still leaves cross-attention one key to attend to instead of a softmax over nothing.
    """

    def __init__(self, dim: int, text_dim: int, with_tokens: bool = True, max_length: int = 1) -> None:
        """``with_tokens=False`` for backbones that take only the pooled vector (the DiT): no token projection is
        built, so every parameter gets a gradient (DDP refuses parameters that never do).
        ``max_length``: tokens per caption in :meth:`null_condition`; the text encoder's, so the null condition
        concatenates with real captions (the tokens are all masked, so the prediction does not depend on it)."""
        super().__init__()
        self.dim, self.text_dim, self.max_length = dim, text_dim, max_length
        if with_tokens:
            self.proj = nn.Linear(text_dim, dim)
            self.null = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pool = nn.Sequential(nn.Linear(text_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def tokens(self, cond: Condition) -> tuple[torch.Tensor, torch.Tensor]:
        if not hasattr(self, "proj"):
            raise RuntimeError("this TextEmbedder was built with_tokens=False (for a vector-only backbone)")
        tokens = self.proj(cond.text_tokens)
        batch = tokens.shape[0]
        tokens = torch.cat([self.null.expand(batch, -1, -1).to(tokens.dtype), tokens], dim=1)
        visible = torch.ones(batch, 1, dtype=torch.bool, device=tokens.device)
        return tokens, torch.cat([visible, cond.text_mask.bool()], dim=1)

    def vector(self, cond: Condition) -> torch.Tensor:
        return self.pool(cond.text_pooled)

    def embed(self, cond: Condition) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (*self.tokens(cond), self.vector(cond))

    forward = vector

    def null_condition(self, batch_size: int, device: torch.device | str | None = None) -> Condition:
        """The "nothing given" condition: the empty prompt as ``Condition.dropped()`` makes it (zeros, no visible
        tokens), so only the learned null token is attended to."""
        length = (batch_size, self.max_length)
        return Condition(
            text_tokens=torch.zeros(*length, self.text_dim, device=device),
            text_mask=torch.zeros(length, dtype=torch.bool, device=device),
            text_pooled=torch.zeros(batch_size, self.text_dim, device=device),
        )


def drop_text(cond: Condition, cfg_dropout: float) -> Condition:
    """Training-time dropout: with probability ``cfg_dropout`` a caption becomes the empty (all-zero) condition."""
    keep = torch.rand(cond.text_pooled.shape[0], device=cond.text_pooled.device) >= cfg_dropout
    return Condition(
        text_tokens=cond.text_tokens * keep[:, None, None],
        text_mask=cond.text_mask & keep[:, None],
        text_pooled=cond.text_pooled * keep[:, None],
    )
