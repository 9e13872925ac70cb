"""The 40 CelebA attributes as a condition: three states each, named by the user, embedded for any backbone.

State values: +1 present, -1 absent, 0 unspecified ("don't care"). Training hides attributes at random so that
any subset can be asked for, and drops the whole vector (all 0) with probability ``cfg_dropout`` so the same
network also learns the unconditional prediction that classifier-free guidance needs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
import torch.nn as nn

from facegen.conditioning.condition import Condition
from facegen.data.attributes import CELEBA_ATTRIBUTES

# One attribute request: "Smiling=1,Male=0", {"Smiling": 1}, a [40] (or [N, 40]) vector, or None (unspecified).
AttributeSpec = Mapping[str, object] | str | torch.Tensor | None
_PRESENT = {1, True, "1", "+1", "yes", "true", "on"}
_ABSENT = {0, -1, False, "0", "-1", "no", "false", "off"}


def _state(name: str, value) -> float:
    key = value.strip().lower() if isinstance(value, str) else value
    if key is None or key in ("", "any", "none", "?"):
        return 0.0
    if key in _PRESENT:
        return 1.0
    if key in _ABSENT:
        return -1.0
    raise ValueError(f"{name}={value!r}: use 1 (present), 0 or -1 (absent), or leave it out (unspecified)")


def create_attribute_vector(attributes: Mapping[str, object] | None = None, **named) -> torch.Tensor:
    """``create_attribute_vector(Smiling=1, Male=0)`` -> float [40]: +1 present, -1 absent, 0 unspecified.

    As in the seeds, 0 means absent; attributes not named stay unspecified.
    """
    values = {**(attributes or {}), **named}
    vector = torch.zeros(len(CELEBA_ATTRIBUTES))
    lookup = {name.lower(): i for i, name in enumerate(CELEBA_ATTRIBUTES)}
    for name, value in values.items():
        index = lookup.get(name.lower())
        if index is None:
            import difflib

            close = difflib.get_close_matches(name, CELEBA_ATTRIBUTES, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown attribute {name!r}.{hint} Valid names: {', '.join(CELEBA_ATTRIBUTES)}")
        vector[index] = _state(name, value)
    return vector


def parse_attributes(text: str) -> dict[str, str]:
    """``"Smiling=1, Eyeglasses=1"`` -> ``{"Smiling": "1", "Eyeglasses": "1"}`` (validated by the vector builder)."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"attribute {item!r} must look like Name=1 or Name=0")
        name = name.strip()
        given = next((f"{k}={v}" for k, v in pairs.items() if k.lower() == name.lower()), None)
        if given is not None:  # which of two contradicting values was meant cannot be guessed
            raise ValueError(f"attribute {name} is given twice ({given}, {item}): give each attribute once")
        pairs[name] = value.strip()
    create_attribute_vector(pairs)  # fail early on typos
    return pairs


def hide_attributes(attributes: torch.Tensor, cfg_dropout: float, max_mask_rate: float = 1.0) -> torch.Tensor:
    """Training-time corruption: each sample hides a random fraction (U[0, max_mask_rate]) of its attributes,
    and with probability ``cfg_dropout`` all of them (the unconditional branch for guidance)."""
    batch = attributes.shape[0]
    device = attributes.device
    rate = torch.rand(batch, 1) * max_mask_rate
    keep = torch.rand(attributes.shape) >= rate
    keep &= torch.rand(batch, 1) >= cfg_dropout
    return attributes * keep.to(device, attributes.dtype)


class AttributeEmbedder(nn.Module):
    """Condition -> per-attribute tokens [B, 40, dim] (cross-attention) and a pooled vector [B, dim] (AdaLN).

    Each attribute has three learned state embeddings (absent, unspecified, present). Values between the states
    interpolate linearly between neighbouring embeddings, so attribute interpolation (e.g. Smiling 1 -> -1) is
    smooth while the three discrete states stay exactly the table entries.
    """

    def __init__(self, dim: int, num_attributes: int = len(CELEBA_ATTRIBUTES)) -> None:
        super().__init__()
        self.dim = dim
        # Unit-scale states (as nn.Embedding): an attribute flip must move the condition from the first step.
        self.states = nn.Parameter(torch.randn(num_attributes, 3, dim))
        self.identity = nn.Parameter(torch.randn(num_attributes, dim) * 0.02)  # which attribute a token is
        self.pool = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def tokens(self, cond: Condition) -> tuple[torch.Tensor, torch.Tensor]:
        a = cond.attributes.clamp(-1, 1).to(self.states.dtype).unsqueeze(-1)  # [B, 40, 1]
        absent, unspecified, present = self.states.unbind(1)  # each [40, dim]
        below = unspecified + a * (unspecified - absent)  # a in [-1, 0]
        above = unspecified + a * (present - unspecified)  # a in [0, 1]
        tokens = torch.where(a < 0, below, above) + self.identity
        return tokens, torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)

    def embed(self, cond: Condition) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tokens, mask, vector) in one pass, for backbones that take both."""
        tokens, mask = self.tokens(cond)
        # A sum, not a mean: one attribute must move the vector by its full embedding, not 1/40 of it.
        pooled = tokens.sum(dim=1)
        if cond.subject is not None:  # a learned person enters as a 41st token would: summed in and attended to
            subject = cond.subject.to(tokens.dtype)
            pooled = pooled + subject
            tokens = torch.cat([tokens, subject[:, None]], dim=1)
            mask = torch.cat([mask, subject.abs().amax(dim=-1, keepdim=True) > 0], dim=1)
        return tokens, mask, self.pool(pooled)

    def vector(self, cond: Condition) -> torch.Tensor:
        return self.embed(cond)[2]

    forward = vector

    def null_condition(self, batch_size: int, device: torch.device | str | None = None) -> Condition:
        """The "nothing given" condition: every attribute unspecified, as ``Condition.dropped()`` makes it."""
        return Condition(attributes=torch.zeros(batch_size, self.states.shape[0], device=device))


def attribute_matrix(spec: AttributeSpec | Sequence[AttributeSpec], n: int) -> torch.Tensor:
    """Attributes for ``n`` images: one spec for all ("Smiling=1", a dict, a [40] vector) or one per image."""
    if isinstance(spec, torch.Tensor):
        matrix = spec.float().reshape(-1, spec.shape[-1])
    elif isinstance(spec, (list, tuple)):
        matrix = torch.stack([attribute_matrix(s, 1)[0] for s in spec])
    elif isinstance(spec, str):
        matrix = create_attribute_vector(parse_attributes(spec))[None]
    else:
        matrix = create_attribute_vector(spec or {})[None]
    if len(matrix) == 1:
        matrix = matrix.expand(n, -1)
    if len(matrix) != n:
        raise ValueError(f"got attributes for {len(matrix)} images but {n} are asked for")
    return matrix
