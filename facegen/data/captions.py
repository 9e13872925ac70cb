"""Natural-language captions from CelebA attribute vectors, for training and prompting text-conditioned models.

A caption names the subject (from Male and Young), then a few of the present attributes, sampled by salience so
captions stay short and varied like human ones: "A photo of a young woman with wavy blond hair, smiling".
With ``seed=None`` the caption is canonical instead: every describable attribute, first wording, fixed order.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from facegen.data.attributes import CELEBA_ATTRIBUTES
from facegen.data.phrases import (
    ABSENT_PHRASES,
    ATTRIBUTE_PHRASES,
    BEARD,
    MERGEABLE_NOUNS,
    PHRASES,
    SLOTS,
    SUBJECT_WORDS,
    strip_article,
)

__all__ = ["ABSENT_PHRASES", "ATTRIBUTE_PHRASES", "caption_from_attributes", "captions_for"]

PREFIXES = ("a photo of", "a portrait of", "a close-up photo of", "a headshot of", "a picture of", "")
DETAIL_COUNTS = (1, 2, 2, 3, 3, 4)  # how many attribute phrases one sampled caption mentions (at most)

HAIR_COLOURS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
HAIR_STYLES = ("Straight_Hair", "Wavy_Hair")
HAIR = {*HAIR_COLOURS, *HAIR_STYLES, "Bangs", "Receding_Hairline"}
FACIAL_HAIR = {BEARD, "Goatee", "Mustache", "Sideburns", "5_o_Clock_Shadow", "No_Beard"}
_ORDER = {key: index for index, key in enumerate(PHRASES)}


def caption_from_attributes(attributes: torch.Tensor | Sequence[float], seed: int | None = 0) -> str:
    """One caption for a [40] attribute vector (+1 present, -1 absent, 0 unspecified); deterministic per seed."""
    states = _states(attributes)
    rng = None if seed is None else random.Random(seed)
    chosen = _sample(_describable(states, rng), rng)
    picks = [(key, *(rng.choice(PHRASES[key].variants) if rng else PHRASES[key].variants[0])) for key in chosen]
    return _render(states, picks, rng)


def captions_for(attributes: torch.Tensor, seed: int = 0) -> list[str]:
    """Captions for [N, 40] attributes; row i uses seed ``seed + i`` (pass e.g. ``epoch * N`` for fresh ones)."""
    rows = torch.as_tensor(attributes)
    if rows.ndim != 2:
        raise ValueError(f"captions_for expects attributes of shape [N, 40], got {tuple(rows.shape)}")
    return [caption_from_attributes(row, seed + index) for index, row in enumerate(rows)]


def _states(attributes: torch.Tensor | Sequence[float]) -> dict[str, int]:
    values = torch.as_tensor(attributes, dtype=torch.float32).reshape(-1)
    if values.numel() != len(CELEBA_ATTRIBUTES):
        raise ValueError(f"expected {len(CELEBA_ATTRIBUTES)} CelebA attribute values, got {values.numel()}")
    return {name: (value > 0) - (value < 0) for name, value in zip(CELEBA_ATTRIBUTES, values.tolist())}


def _describable(states: dict[str, int], rng: random.Random | None) -> list[str]:
    """Phrase keys of the present attributes, in canonical order, with contradictory labels resolved."""
    present = {name for name, state in states.items() if state > 0 and name not in SUBJECT_WORDS}
    if states["No_Beard"] < 0:
        present.add(BEARD)
    if "Bald" in present:  # bald wins over any hair description
        present -= HAIR
    for group in (HAIR_COLOURS, HAIR_STYLES):  # one colour, one style: "black and blond hair" is label noise
        among = [name for name in group if name in present]
        if len(among) > 1:
            present -= set(among) - {rng.choice(among) if rng else among[0]}
    if states["Male"] < 0:  # CelebA's facial-hair labels on women are noise; "clean-shaven woman" is odd
        present -= FACIAL_HAIR
    if present & {BEARD, "Goatee", "Mustache", "5_o_Clock_Shadow"}:
        present.discard("No_Beard")
    if present & {"Goatee", "5_o_Clock_Shadow"}:  # CelebA labels these as beards too; they are the one to name
        present.discard(BEARD)
    return sorted(present, key=_ORDER.__getitem__)


def _sample(keys: list[str], rng: random.Random | None) -> list[str]:
    """A few keys in random order, salient ones more likely (weighted sampling without replacement)."""
    if rng is None:
        return keys
    count = min(len(keys), rng.choice(DETAIL_COUNTS))
    ranked = sorted(keys, key=lambda key: rng.random() ** (1.0 / PHRASES[key].weight), reverse=True)
    return ranked[:count]


def _render(states: dict[str, int], picks: list[tuple[str, str, str]], rng: random.Random | None) -> str:
    slots: dict[str, list[tuple[str, str]]] = {slot: [] for slot in SLOTS}
    for key, slot, text in picks:
        slots[slot].append((key, text))
    medium = slots["medium"][0][1] if slots["medium"] else (rng.choice(PREFIXES) if rng else PREFIXES[0])
    adjectives = [text for _, text in sorted(slots["adjective"], key=lambda item: _ORDER[item[0]])]
    subject = _with_article(" ".join([*adjectives, *_subject_words(states)]))

    clauses = []
    if slots["with"]:
        clauses.append("with " + _join(_merge(slots["with"])))
    if slots["wearing"]:
        clauses.append("wearing " + _join([text for _, text in slots["wearing"]]))
    if rng:
        rng.shuffle(clauses)
    head = " ".join([subject, *clauses[:1]])
    caption = ", ".join([head, *clauses[1:], *(text for _, text in slots["tail"])])
    caption = f"{medium} {caption}" if medium else caption
    return caption[0].upper() + caption[1:]


def _subject_words(states: dict[str, int]) -> list[str]:
    male, young = SUBJECT_WORDS["Male"], SUBJECT_WORDS["Young"]
    noun = {1: male[0], -1: male[1], 0: "person"}[states["Male"]]
    age = {1: [young[0]], -1: [young[1]], 0: []}[states["Young"]]
    return [*age, noun]


def _merge(items: list[tuple[str, str]]) -> list[str]:
    """Fuse phrases about one noun where it is first mentioned: "wavy hair" + "blond hair" -> "wavy blond hair"."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, text in items:
        bare = strip_article(text)
        noun = bare.rsplit(" ", 1)[-1]
        groups.setdefault(noun if noun in MERGEABLE_NOUNS else bare, []).append((key, text))
    merged = []
    for group, members in groups.items():
        if len(members) == 1:
            merged.append(members[0][1])
            continue
        members.sort(key=lambda item: _ORDER[item[0]])
        modifiers = [strip_article(text).rsplit(" ", 1)[0] for _, text in members]
        phrase = " ".join([*modifiers, group])
        countable = strip_article(members[0][1]) != members[0][1]
        merged.append(_with_article(phrase) if countable else phrase)
    return merged


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _with_article(text: str) -> str:
    return f"{'an' if text[0] in 'aeiou' else 'a'} {text}"
