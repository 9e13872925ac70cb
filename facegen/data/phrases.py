"""The words each CelebA attribute turns into in a caption.

Each phrase has a salience weight (how likely a human captioner mentions it: glasses and hats more than an oval
face) and surface variants, each in a grammatical slot of the caption:
``[medium] [adjective ...] subject with [with, ...] wearing [wearing, ...], [tail]``.
Phrases are written with their article ("a goatee"); the caption builder re-derives articles after merging.
"""

from __future__ import annotations

from dataclasses import dataclass

from facegen.data.attributes import CELEBA_ATTRIBUTES

SLOTS = ("medium", "adjective", "with", "wearing", "tail")

# With-phrases ending in one of these nouns fuse: "wavy hair" + "blond hair" -> "wavy blond hair".
MERGEABLE_NOUNS = frozenset({"hair", "eyebrows", "nose", "face", "lips"})

# The absent state of No_Beard is the presence of a beard; it gets its own phrase under this key.
BEARD = "Beard"


@dataclass(frozen=True)
class Phrase:
    weight: float
    variants: tuple[tuple[str, str], ...]  # (slot, text); the first is the canonical one


def _phrase(weight: float, *variants: tuple[str, str]) -> Phrase:
    return Phrase(weight, variants)


# Canonical order: adjectives render in this order ("an attractive smiling ..."), and merged modifiers too
# (style before colour: "wavy blond hair"; "a big pointy nose").
PHRASES: dict[str, Phrase] = {
    "Blurry": _phrase(
        2.0, ("medium", "a blurry photo of"), ("medium", "a blurry picture of"), ("medium", "a blurry portrait of")
    ),
    "Attractive": _phrase(0.6, ("adjective", "attractive")),
    "Smiling": _phrase(2.5, ("tail", "smiling"), ("adjective", "smiling"), ("with", "a smile")),
    "Chubby": _phrase(1.0, ("adjective", "chubby"), ("with", "a chubby face")),
    "Bald": _phrase(3.0, ("adjective", "bald"), ("with", "a bald head")),
    "Pale_Skin": _phrase(1.0, ("with", "pale skin"), ("adjective", "pale")),
    "No_Beard": _phrase(0.5, ("adjective", "clean-shaven")),
    "Straight_Hair": _phrase(1.2, ("with", "straight hair")),
    "Wavy_Hair": _phrase(1.2, ("with", "wavy hair")),
    "Black_Hair": _phrase(2.5, ("with", "black hair"), ("with", "dark hair")),
    "Blond_Hair": _phrase(2.5, ("with", "blond hair"), ("with", "blonde hair")),
    "Brown_Hair": _phrase(2.5, ("with", "brown hair")),
    "Gray_Hair": _phrase(2.5, ("with", "gray hair"), ("with", "grey hair")),
    "Bangs": _phrase(1.5, ("with", "bangs")),
    "Receding_Hairline": _phrase(1.2, ("with", "a receding hairline")),
    BEARD: _phrase(2.0, ("with", "a beard"), ("adjective", "bearded")),
    "Goatee": _phrase(2.0, ("with", "a goatee")),
    "Mustache": _phrase(2.0, ("with", "a mustache"), ("with", "a moustache")),
    "Sideburns": _phrase(1.0, ("with", "sideburns")),
    "5_o_Clock_Shadow": _phrase(1.2, ("with", "stubble"), ("with", "a five o'clock shadow")),
    "Oval_Face": _phrase(0.5, ("with", "an oval face")),
    "Double_Chin": _phrase(0.8, ("with", "a double chin")),
    "High_Cheekbones": _phrase(0.7, ("with", "high cheekbones")),
    "Rosy_Cheeks": _phrase(0.8, ("with", "rosy cheeks")),
    "Bushy_Eyebrows": _phrase(0.8, ("with", "bushy eyebrows"), ("with", "thick eyebrows")),
    "Arched_Eyebrows": _phrase(0.7, ("with", "arched eyebrows")),
    "Narrow_Eyes": _phrase(0.8, ("with", "narrow eyes")),
    "Bags_Under_Eyes": _phrase(0.8, ("with", "bags under the eyes")),
    "Big_Nose": _phrase(0.7, ("with", "a big nose"), ("with", "a large nose")),
    "Pointy_Nose": _phrase(0.7, ("with", "a pointy nose"), ("with", "a pointed nose")),
    "Big_Lips": _phrase(0.7, ("with", "full lips"), ("with", "big lips")),
    "Mouth_Slightly_Open": _phrase(1.0, ("with", "a slightly open mouth"), ("with", "parted lips")),
    "Eyeglasses": _phrase(
        3.0, ("wearing", "eyeglasses"), ("wearing", "glasses"), ("with", "glasses"), ("with", "eyeglasses")
    ),
    "Wearing_Hat": _phrase(3.0, ("wearing", "a hat")),
    "Heavy_Makeup": _phrase(1.5, ("wearing", "heavy makeup"), ("wearing", "a lot of makeup"), ("with", "heavy makeup")),
    "Wearing_Lipstick": _phrase(1.0, ("wearing", "lipstick")),
    "Wearing_Earrings": _phrase(1.2, ("wearing", "earrings")),
    "Wearing_Necklace": _phrase(1.0, ("wearing", "a necklace")),
    "Wearing_Necktie": _phrase(1.5, ("wearing", "a tie"), ("wearing", "a necktie")),
}

# Male and Young are not sampled: they always pick the subject ("a young woman", "an older man", "a person").
SUBJECT_WORDS: dict[str, tuple[str, str]] = {"Male": ("man", "woman"), "Young": ("young", "older")}


def strip_article(text: str) -> str:
    for article in ("a ", "an "):
        if text.startswith(article):
            return text[len(article) :]
    return text


def _texts(phrase: Phrase) -> tuple[str, ...]:
    return tuple(strip_article(text) for _, text in phrase.variants)


# What marks each attribute in a caption when it is present (+1), and when it is absent (-1) for the three
# attributes whose absence is itself described. Article-free, lower case.
ATTRIBUTE_PHRASES: dict[str, tuple[str, ...]] = {
    name: (SUBJECT_WORDS[name][0],) if name in SUBJECT_WORDS else _texts(PHRASES[name]) for name in CELEBA_ATTRIBUTES
}
ABSENT_PHRASES: dict[str, tuple[str, ...]] = {
    "Male": (SUBJECT_WORDS["Male"][1],),
    "Young": (SUBJECT_WORDS["Young"][1],),
    "No_Beard": _texts(PHRASES[BEARD]),
}
