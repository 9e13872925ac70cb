"""A conditional autoencoder (seed S4, in the spirit of Diffusion Autoencoders): a semantic code of the face itself.

A small VAE encoder maps the clean face (pixels or latents, whatever the backbone denoises) to a posterior
N(mean, exp(logvar)) over a ``dim``-d code; a linear head reads the 40 attributes from the code. Trained jointly
with the denoiser, the code becomes whatever the denoiser most needs to rebuild that particular face (identity,
pose, lighting), regularised by a KL term towards N(0, I) and by attribute BCE, which makes the head's weight
vectors attribute directions in code space.

The code enters the backbone beside the attributes: added to the pooled vector (AdaLN / class embedding) and as
one extra cross-attention token. An all-zero code (or reference image) means "no code", as zeros mean "dropped"
everywhere in :class:`Condition`; training drops the code for a ``dropout`` fraction of faces, so the same network
still generates from attributes alone. Attribute dropout is independent, so the network also learns the face
from its code alone: the unconditional branch of guidance keeps the code and guides only the attributes.

Editing keeps the face's code, moved by the least change that makes the attribute head read the target
attributes (:meth:`SemanticEncoder.steer`).
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from facegen.conditioning.condition import Condition
from facegen.data.attributes import CELEBA_ATTRIBUTES

Auxiliary = tuple[torch.Tensor | float, dict[str, torch.Tensor]]  # (loss, parts), as facegen.models.backbone's
NO_AUXILIARY: Auxiliary = (0.0, {})


class SemanticEncoder(nn.Module):
    """[B, C, S, S] in model space -> posterior (mean, logvar) [B, dim]; ``head`` reads 40 attribute logits."""

    def __init__(self, in_channels: int, image_size: int, dim: int = 64, width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1)]
        channels, size = width, image_size
        while size > 4:  # stride-2 convolutions down to 4x4, doubling the width up to 256
            out = min(2 * channels, 256)
            layers += [nn.GroupNorm(8, channels), nn.SiLU(), nn.Conv2d(channels, out, 3, stride=2, padding=1)]
            channels, size = out, (size + 1) // 2
        layers += [nn.GroupNorm(8, channels), nn.SiLU(), nn.Flatten(), nn.Linear(channels * size * size, 2 * dim)]
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(dim, len(CELEBA_ATTRIBUTES))
        self.dim = dim

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.net(x.to(self.head.weight.dtype)).float().chunk(2, dim=-1)
        return mean, logvar.clamp(-10, 10)

    def steer(self, code: torch.Tensor, attributes: torch.Tensor, margin: float = 4.0) -> torch.Tensor:
        """The nearest code whose head logits read ``attributes`` (+1/-1; 0 = leave free) at ``±margin``.

        Least-norm solution of ``W_S (code + delta) + b_S = margin * a_S`` over the specified attributes S, so
        the rest of the code (the identity) moves as little as the edit allows.
        """
        out = code.clone()
        for i, (z, a) in enumerate(zip(code, attributes)):
            chosen = a != 0
            if not chosen.any():
                continue
            weight, bias = self.head.weight[chosen].float(), self.head.bias[chosen].float()
            residual = margin * a[chosen].float() - (weight @ z.float() + bias)
            out[i] = z + torch.linalg.pinv(weight) @ residual
        return out


class SemanticEmbedder(nn.Module):
    """An attribute embedder plus the face's semantic code: same ``vector``/``embed`` interface as the others."""

    def __init__(
        self,
        base: nn.Module,
        encoder: SemanticEncoder,
        dropout: float = 0.5,
        kl_weight: float = 1e-4,
        attribute_weight: float = 0.1,
        with_tokens: bool = True,
    ) -> None:
        """``with_tokens=False`` for vector-only backbones (the DiT): the code's token projection is not built, so
        no parameter goes without a gradient (DDP refuses those)."""
        super().__init__()
        self.base, self.encoder, self.dim = base, encoder, base.dim
        self.dropout, self.kl_weight, self.attribute_weight = dropout, kl_weight, attribute_weight
        self.to_vector = nn.Sequential(nn.Linear(encoder.dim, self.dim), nn.SiLU(), nn.Linear(self.dim, self.dim))
        self.to_token = nn.Linear(encoder.dim, self.dim) if with_tokens else None

    returns_auxiliary = True  # vector/embed(cond, return_aux=True) also return the training terms they computed

    def code(self, cond: Condition) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(code [B, dim], present [B] bool) from ``cond.semantic``, else by encoding ``cond.reference``."""
        return self._code(cond, return_aux=False)[0]

    def face_code(self, reference: torch.Tensor) -> torch.Tensor:
        """The posterior mean code [B, dim] of faces given in model space: the code an edit keeps."""
        return self.encoder(reference)[0]

    def steer(self, codes: torch.Tensor, attributes: torch.Tensor, margin: float) -> torch.Tensor:
        """``codes`` moved by the least change that makes the attribute head read ``attributes`` at ``±margin``
        (:meth:`SemanticEncoder.steer`)."""
        return self.encoder.steer(codes, attributes, margin)

    def _code(self, cond: Condition, return_aux: bool) -> tuple[tuple[torch.Tensor, torch.Tensor] | None, Auxiliary]:
        """The code and, with ``return_aux`` in training, the :meth:`regularizer` of that batch's posterior."""
        if cond.semantic is not None:
            code = cond.semantic.float()
            return (code, code.abs().amax(dim=-1) > 0), NO_AUXILIARY
        if cond.reference is None:
            return None, NO_AUXILIARY
        present = cond.reference.flatten(1).abs().amax(dim=-1) > 0
        mean, logvar = self.encoder(cond.reference)
        if not self.training:
            return (mean, present), NO_AUXILIARY
        # Training: a reparameterised sample, regularised by the same call's posterior.
        code = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        keep = torch.rand(len(code), device=code.device) >= self.dropout
        auxiliary = self.regularizer(mean, logvar, cond.attributes) if return_aux else NO_AUXILIARY
        return (code, present & keep), auxiliary

    def vector(self, cond: Condition, return_aux: bool = False) -> torch.Tensor | tuple[torch.Tensor, Auxiliary]:
        vector = self.base.embed(cond)[2]
        resolved, auxiliary = self._code(cond, return_aux)
        vector = vector if resolved is None else self._add_code(vector, *resolved)
        return (vector, auxiliary) if return_aux else vector

    forward = vector

    def null_condition(self, batch_size: int, device: torch.device | str | None = None) -> Condition:
        """The "nothing given" condition: the base embedder's and an all-zero code (no face). Unlike it,
        ``Condition.dropped()`` keeps a given face: guidance steers the attributes, not the face."""
        code = torch.zeros(batch_size, self.encoder.dim, device=device)
        return replace(self.base.null_condition(batch_size, device), semantic=code)

    def _add_code(self, vector: torch.Tensor, code: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        dtype = vector.dtype
        return vector + self.to_vector(code.to(dtype)) * present[:, None].to(dtype)

    def embed(self, cond: Condition, return_aux: bool = False):
        """(tokens, mask, vector); with ``return_aux`` ((tokens, mask, vector), (loss, parts))."""
        if self.to_token is None:
            raise RuntimeError("this SemanticEmbedder was built with_tokens=False (for a vector-only backbone)")
        tokens, mask, vector = self.base.embed(cond)
        resolved, auxiliary = self._code(cond, return_aux)
        if resolved is not None:
            code, present = resolved
            vector = self._add_code(vector, code, present)
            token = self.to_token(code.to(tokens.dtype))[:, None]
            tokens, mask = torch.cat([tokens, token], dim=1), torch.cat([mask, present[:, None]], dim=1)
        return ((tokens, mask, vector), auxiliary) if return_aux else (tokens, mask, vector)

    def regularizer(
        self, mean: torch.Tensor, logvar: torch.Tensor, attributes: torch.Tensor | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """KL of the posterior N(mean, exp(logvar)) to N(0, I) plus attribute BCE on the visible (not hidden)
        attributes: the training terms of one batch, with their parts for the logs."""
        kl = 0.5 * (mean.square() + logvar.exp() - 1 - logvar).sum(dim=-1).mean()
        loss = self.kl_weight * kl
        parts = {"semantic_kl": kl.detach()}
        if attributes is not None and (visible := attributes != 0).any():
            logits = self.encoder.head(mean)
            bce = F.binary_cross_entropy_with_logits(logits[visible].float(), (attributes[visible] > 0).float())
            loss = loss + self.attribute_weight * bce
            parts["semantic_attr_bce"] = bce.detach()
        return loss, parts
