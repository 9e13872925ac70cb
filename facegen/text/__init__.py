"""Text conditioning: captions from CelebA attributes, and frozen text encoders that embed them."""

from facegen.data.captions import ABSENT_PHRASES, ATTRIBUTE_PHRASES, caption_from_attributes, captions_for
from facegen.text.encoders import TextEncoder, build_text_encoder

__all__ = [
    "ABSENT_PHRASES",
    "ATTRIBUTE_PHRASES",
    "TextEncoder",
    "build_text_encoder",
    "caption_from_attributes",
    "captions_for",
]
