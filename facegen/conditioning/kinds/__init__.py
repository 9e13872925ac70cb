"""Conditioning kinds: one unit per kind of condition (none, attributes, semantic, text), registered by name.

``kind_of(cfg)`` is the kind a config asks for (``conditioning.type``, and ``semantic_dim > 0`` for ``semantic``);
``register_kind`` adds a new one (see docs/ARCHITECTURE.md, "How to add a conditioning kind").
"""

from facegen.conditioning.kinds.attributes import AttributesKind
from facegen.conditioning.kinds.base import KINDS, ConditioningKind, kind_of, register_kind
from facegen.conditioning.kinds.none import NoCondition
from facegen.conditioning.kinds.semantic import SemanticKind
from facegen.conditioning.kinds.text import TextKind

__all__ = [
    "KINDS",
    "AttributesKind",
    "ConditioningKind",
    "NoCondition",
    "SemanticKind",
    "TextKind",
    "kind_of",
    "register_kind",
]
