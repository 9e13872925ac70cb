"""Conditioning: the Condition batch, attribute/text embedders, condition dropout and classifier-free guidance."""

from facegen.conditioning.condition import Condition
from facegen.conditioning.guidance import Guide, guided

__all__ = ["Condition", "Guide", "guided"]
