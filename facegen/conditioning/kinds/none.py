"""No condition: an unconditional model."""

from __future__ import annotations

from facegen.conditioning.kinds.base import ConditioningKind, register_kind


@register_kind
class NoCondition(ConditioningKind):
    name = type = "none"
    conditional = False

    def describe(self, guidance: str) -> str:
        return "unconditional"
