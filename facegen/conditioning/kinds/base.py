"""A conditioning kind: everything one kind of condition means, in one unit, chosen by name from the config.

A kind builds its embedder, turns a training batch into a ``Condition`` (with its training-time dropout), turns a
user's request (attributes, a prompt, a reference face) into one, checks requests in one-line errors naming the
option, gives the null condition and the requests evaluation makes from real attribute rows, and says what the
front ends may offer (``accepts_attributes``, ``accepts_prompts``, ``accepts_reference``, ``can_edit``, ...).

``register_kind(cls)`` adds a kind (and the ``conditioning.type`` it is chosen by, to ``facegen.conditioning_names``);
``kind_of(cfg)`` is the kind a config asks for.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Sequence

import torch
import torch.nn as nn

from facegen.conditioning.condition import Condition
from facegen.conditioning_names import register_type

# prompts -> (tokens, mask, pooled): a frozen text encoder's ``encode``
Encode = Callable[[list[str]], tuple[torch.Tensor, torch.Tensor, torch.Tensor]]


class ConditioningKind:
    """One kind of condition, bound to a config's ``conditioning`` section (``self.options``)."""

    name: ClassVar[str]  # the registry's name
    type: ClassVar[str]  # the conditioning.type that chooses it (``selects`` may narrow it further)
    conditional: ClassVar[bool] = True
    accepts_attributes: ClassVar[bool] = False  # an attribute request ("Smiling=1") steers it
    accepts_prompts: ClassVar[bool] = False  # a text prompt steers it
    accepts_reference: ClassVar[bool] = False  # a reference face (its code) steers it
    can_edit: ClassVar[bool] = False  # real faces can be edited by attributes (``FacePipeline.edit``)
    accepts_subjects: ClassVar[bool] = False  # a learned person (personalization) joins its condition
    uses_text_encoder: ClassVar[bool] = False  # training reads caption embeddings from the encoded cache

    def __init__(self, cfg) -> None:
        self.cfg = cfg
        self.options = cfg.conditioning

    @classmethod
    def selects(cls, options) -> bool:
        """Whether this kind is the one for ``options`` (a ``conditioning`` section of its ``type``)."""
        return True

    def __repr__(self) -> str:
        return f"<conditioning kind {self.name}>"

    # ---- building --------------------------------------------------------------------------------------------

    def embedder(self, dim: int, in_channels: int, image_size: int, with_tokens: bool) -> nn.Module | None:
        """The condition embedder, ``dim`` wide, for a backbone denoising [in_channels, image_size, image_size];
        ``with_tokens=False`` for backbones that take only the pooled vector."""
        return None

    def describe(self, guidance: str) -> str:
        """What conditions the model, for ``facegen models`` (``guidance``: the words for its default CFG)."""
        return self.name

    # ---- training --------------------------------------------------------------------------------------------

    def check_data(self, data, dataset: str) -> None:
        """Refuse training data this kind cannot learn from (``dataset``: its name, for the message)."""

    def batch_condition(
        self, batch: dict, device, train: bool = True, images: torch.Tensor | None = None
    ) -> Condition | None:
        """A training batch's condition on ``device``, with the training-time dropout when ``train``; ``images``:
        the clean faces the model denoises (for kinds that condition on the face itself)."""
        return None

    # ---- requests --------------------------------------------------------------------------------------------

    def check_request(self, source, attributes: Any = None, prompt: Any = None, reference: Any = None) -> None:
        """Refuse what this kind cannot take, naming it (``source``: the model, for the message)."""
        if attributes is not None and not self.accepts_attributes:
            raise ValueError(f"{source} is not attribute-conditioned (conditioning.type={self.type}): no attributes")
        if prompt is not None and not self.accepts_prompts:
            raise ValueError(f"{source} is not text-conditioned (conditioning.type={self.type}): no prompt")
        if reference is not None and not self.accepts_reference:
            raise ValueError(f"{source} has no semantic encoder (conditioning.semantic_dim=0)")

    def check_edit(self) -> None:
        if not self.can_edit:
            raise ValueError("editing needs an attribute-conditioned model (conditioning.type=attributes)")

    def request_condition(
        self,
        n: int,
        attributes: Any = None,
        prompt: str | Sequence[str] | None = None,
        subject: torch.Tensor | None = None,
        encode: Encode | None = None,
    ) -> Condition | None:
        """The condition for ``n`` images asked for by a user (checked by ``check_request`` first); nothing asked
        of a conditional kind is its null condition. ``subject``: [1, D] a learned person; ``encode``: the text
        encoder, for kinds that read prompts."""
        return None

    def null_condition(self, n: int, device=None) -> Condition | None:
        """ "Nothing given" for ``n`` images, as ``Condition.dropped()`` makes it (None: unconditional)."""
        return None

    # ---- evaluation ------------------------------------------------------------------------------------------

    def reference_request(self, attributes: torch.Tensor, seed: int) -> dict[str, Any]:
        """``generate`` arguments asking for real faces' attribute rows [N, 40] in this kind's terms (scoring)."""
        return {}


KINDS: dict[str, type[ConditioningKind]] = {}


def register_kind(kind: type[ConditioningKind]) -> type[ConditioningKind]:
    """Register ``kind`` under ``kind.name`` (usable as a class decorator); its ``type`` becomes a valid
    ``conditioning.type``."""
    if kind.name in KINDS and KINDS[kind.name] is not kind:
        raise ValueError(f"a conditioning kind named {kind.name!r} is registered already")
    KINDS[kind.name] = kind
    register_type(kind.type)
    return kind


def kind_of(cfg) -> ConditioningKind:
    """The registered kind a config's ``conditioning`` section asks for, bound to it."""
    options = cfg.conditioning
    chosen = [kind for kind in KINDS.values() if kind.type == options.type and kind.selects(options)]
    if len(chosen) != 1:
        found = "no conditioning kind" if not chosen else f"{len(chosen)} conditioning kinds"
        raise ValueError(f"conditioning.type={options.type!r}: {found} registered for it ({', '.join(KINDS)})")
    return chosen[0](cfg)
