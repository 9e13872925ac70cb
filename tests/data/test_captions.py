import re

import pytest
import torch

from facegen.data import CELEBA_ATTRIBUTES, read_attribute_file
from facegen.data.captions import ABSENT_PHRASES, ATTRIBUTE_PHRASES, caption_from_attributes, captions_for

INDEX = {name: i for i, name in enumerate(CELEBA_ATTRIBUTES)}
SEEDS = range(40)


def vector(**states: float) -> torch.Tensor:
    """All 40 unspecified (0) except the named ones."""
    values = torch.zeros(len(CELEBA_ATTRIBUTES))
    for name, state in states.items():
        values[INDEX[name]] = state
    return values


def mentions(caption: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", caption.lower()) is not None


def random_vectors(count: int, seed: int = 0) -> torch.Tensor:
    """Random {-1, 0, +1} rows, mostly specified, like CelebA labels with a few "don't care"s."""
    generator = torch.Generator().manual_seed(seed)
    signs = torch.where(torch.rand(count, 40, generator=generator) < 0.3, 1.0, -1.0)
    return torch.where(torch.rand(count, 40, generator=generator) < 0.1, 0.0, signs)


def test_deterministic_per_seed_and_varied_across_seeds():
    v = vector(Male=-1, Young=1, Smiling=1, Blond_Hair=1, Wavy_Hair=1, Eyeglasses=1, Wearing_Earrings=1)
    assert caption_from_attributes(v, seed=3) == caption_from_attributes(v.tolist(), seed=3)
    assert len({caption_from_attributes(v, seed) for seed in SEEDS}) > 10
    assert caption_from_attributes(v, seed=None) == (
        "A photo of a young woman with wavy blond hair, wearing eyeglasses and earrings, smiling"
    )


def test_subject_follows_male_and_young():
    expected_noun = {1: "man", -1: "woman", 0: "person"}
    expected_age = {1: "young", -1: "older", 0: None}
    for row, seed in zip(random_vectors(60), SEEDS):
        male, young = int(row[INDEX["Male"]]), int(row[INDEX["Young"]])
        caption = caption_from_attributes(row, seed)
        assert [noun for noun in ("man", "woman", "person") if mentions(caption, noun)] == [expected_noun[male]]
        assert [age for age in ("young", "older") if mentions(caption, age)] == [expected_age[young]] * (young != 0)


@pytest.mark.parametrize("name", CELEBA_ATTRIBUTES)
def test_every_attribute_and_wording_is_reachable(name: str):
    captions = [caption_from_attributes(vector(**{name: 1}), seed) for seed in SEEDS]
    assert {phrase for phrase in ATTRIBUTE_PHRASES[name] if any(mentions(c, phrase) for c in captions)} == set(
        ATTRIBUTE_PHRASES[name]
    ), captions[:5]
    if name in ABSENT_PHRASES:  # the absence of Male, Young and No_Beard is itself described
        captions = [caption_from_attributes(vector(**{name: -1}), seed) for seed in SEEDS]
        assert all(any(mentions(c, phrase) for phrase in ABSENT_PHRASES[name]) for c in captions), captions[:5]


def test_absent_and_unspecified_attributes_are_never_mentioned():
    for row, seed in zip(random_vectors(400, seed=1), range(400)):
        caption = caption_from_attributes(row, seed)
        for name, state in zip(CELEBA_ATTRIBUTES, row.tolist()):
            unsaid = ATTRIBUTE_PHRASES[name] * (state <= 0) + ABSENT_PHRASES.get(name, ()) * (state >= 0)
            assert not [phrase for phrase in unsaid if mentions(caption, phrase)], (name, state, caption)


def test_captions_are_well_formed():
    for caption in captions_for(random_vectors(300, seed=2)) + [caption_from_attributes(vector(), None)]:
        assert caption[0].isupper() and caption == caption.strip(), caption
        assert not re.search(r"\s{2}|\s,|,,|,$|, and\b|\ba [aeiou]|\ban [^aeiou]", caption), caption


def test_contradictory_labels_are_resolved():
    bald = vector(Male=1, Bald=1, Blond_Hair=1, Wavy_Hair=1, Bangs=1)
    assert all("hair" not in caption_from_attributes(bald, seed) for seed in SEEDS)
    assert caption_from_attributes(bald, None) == "A photo of a bald man"
    bearded_woman = vector(Male=-1, Goatee=1, No_Beard=-1, Mustache=1)
    assert caption_from_attributes(bearded_woman, None) == "A photo of a woman"
    two_colours = caption_from_attributes(vector(Black_Hair=1, Brown_Hair=1, Gray_Hair=1), None)
    assert two_colours == "A photo of a person with black hair"
    goatee = caption_from_attributes(vector(Male=1, Goatee=1, No_Beard=-1), None)
    assert goatee == "A photo of a man with a goatee"
    merged = caption_from_attributes(vector(Big_Nose=1, Pointy_Nose=1, Chubby=1, Oval_Face=1), None)
    assert merged == "A photo of a chubby person with an oval face and a big pointy nose"


def test_captions_for_uses_seed_plus_row_and_checks_shapes():
    rows = random_vectors(5, seed=3)
    assert captions_for(rows, seed=7) == [caption_from_attributes(row, 7 + i) for i, row in enumerate(rows)]
    with pytest.raises(ValueError, match=r"shape \[N, 40\]"):
        captions_for(rows[0])
    with pytest.raises(ValueError, match="expected 40 CelebA attribute values, got 39"):
        caption_from_attributes(rows[0, :39])


def test_real_celeba_captions_are_short_varied_and_consistent(celeba_root):
    _, attributes = read_attribute_file(celeba_root / "list_attr_celeba.txt")
    rows = torch.as_tensor(attributes[:200])
    captions = captions_for(rows)
    assert len(set(captions)) >= 180
    assert max(len(caption.split()) for caption in captions) < 25
    for row, caption in zip(rows, captions):
        assert mentions(caption, "man" if row[INDEX["Male"]] > 0 else "woman"), caption
