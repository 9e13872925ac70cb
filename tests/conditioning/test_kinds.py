"""Conditioning kinds: one unit per kind, chosen from the config, owning its embedder, conditions and checks."""

import pytest
import torch

from facegen.builders import embedder_from_config
from facegen.conditioning.attributes import AttributeEmbedder, attribute_matrix, hide_attributes
from facegen.conditioning.kinds import (
    KINDS,
    AttributesKind,
    ConditioningKind,
    NoCondition,
    SemanticKind,
    TextKind,
    kind_of,
    register_kind,
)
from facegen.conditioning.semantic import SemanticEmbedder
from facegen.conditioning.text import TextEmbedder
from facegen.conditioning_names import CONDITIONING_TYPES
from facegen.config import ConfigError, load_config
from facegen.text import captions_for

TINY = ["model.size=tiny", "model.dit.patch_size=4", "model.dit.depth=1", "model.dit.hidden_size=32"]
KIND_OPTIONS = {
    "none": [],
    "attributes": ["conditioning.type=attributes", "conditioning.cfg_dropout=0.3", "conditioning.max_mask_rate=0.5"],
    "semantic": ["conditioning.type=attributes", "conditioning.semantic_dim=8"],
    "text": ["conditioning.type=text", "conditioning.text_dim=12", "conditioning.max_text_length=5"],
}


def config(name: str, *extra: str):
    return load_config(None, [*TINY, *KIND_OPTIONS[name], *extra])


def test_the_config_chooses_one_registered_kind_and_semantic_by_its_dimension():
    chosen = {name: type(kind_of(config(name))) for name in KIND_OPTIONS}
    assert chosen == {"none": NoCondition, "attributes": AttributesKind, "semantic": SemanticKind, "text": TextKind}
    assert {"none", "attributes", "semantic", "text"} <= set(KINDS)
    # semantic is chosen by the keys users' configs and checkpoints already have: attributes + semantic_dim
    assert kind_of(config("semantic")).type == "attributes" and kind_of(config("semantic")).name == "semantic"
    assert {"none", "attributes", "text"} <= set(CONDITIONING_TYPES) and "semantic" not in CONDITIONING_TYPES


def test_an_unregistered_type_is_refused_by_the_config_naming_the_registered_ones():
    with pytest.raises(ConfigError, match=r"conditioning.type: 'brightness' is not one of \['none', 'attributes'"):
        load_config(None, ["conditioning.type=brightness"])


def test_a_name_is_registered_once():
    class Other(ConditioningKind):
        name = type = "attributes"

    with pytest.raises(ValueError, match="'attributes' is registered already"):
        register_kind(Other)
    assert KINDS["attributes"] is AttributesKind


def test_capabilities_are_what_the_front_ends_offer():
    flags = ("conditional", "accepts_attributes", "accepts_prompts", "accepts_reference", "can_edit")
    table = {name: tuple(getattr(kind_of(config(name)), f) for f in flags) for name in KIND_OPTIONS}
    assert table == {
        "none": (False, False, False, False, False),
        "attributes": (True, True, False, False, True),
        "semantic": (True, True, False, True, True),
        "text": (True, False, True, False, False),
    }
    assert [kind_of(config(n)).uses_text_encoder for n in KIND_OPTIONS] == [False, False, False, True]
    assert [kind_of(config(n)).accepts_subjects for n in KIND_OPTIONS] == [False, True, True, False]


def test_each_kind_builds_its_embedder_as_wide_as_the_backbone():
    assert embedder_from_config(config("none"), 3, 16) is None
    attributes = embedder_from_config(config("attributes"), 3, 16)
    assert type(attributes) is AttributeEmbedder and attributes.dim == 32  # the DiT's hidden size
    semantic = embedder_from_config(config("semantic"), 3, 16)
    assert isinstance(semantic, SemanticEmbedder) and semantic.encoder.dim == 8
    text = embedder_from_config(config("text"), 3, 16)
    assert isinstance(text, TextEmbedder) and (text.dim, text.text_dim) == (32, 12) and not hasattr(text, "proj")
    unet = embedder_from_config(config("text", "model.name=unet", "conditioning.dim=24"), 3, 16)
    assert unet.dim == 24 and hasattr(unet, "proj")  # the UNet attends to tokens
    with pytest.raises(ValueError, match="conditioning.text_dim is unknown"):
        embedder_from_config(load_config(None, [*TINY, "conditioning.type=text"]), 3, 16)


def test_training_conditions_draw_what_the_trainer_drew():
    batch = {"attributes": torch.randint(-1, 2, (6, 40)).float()}
    kind = kind_of(config("attributes"))
    torch.manual_seed(3)
    cond = kind.batch_condition(batch, "cpu")
    torch.manual_seed(3)
    assert torch.equal(cond.attributes, hide_attributes(batch["attributes"], 0.3, 0.5))
    assert cond.reference is None
    assert torch.equal(kind.batch_condition(batch, "cpu", train=False).attributes, batch["attributes"])
    assert kind_of(config("none")).batch_condition(batch, "cpu") is None

    images = torch.randn(6, 3, 16, 16)
    semantic = kind_of(config("semantic")).batch_condition(batch, "cpu", images=images)
    assert semantic.reference is images  # the clean faces ride along for the encoder
    assert kind_of(config("semantic")).batch_condition(batch, "cpu", train=False).reference is None


def test_text_training_drops_whole_captions():
    text = {
        "text_tokens": torch.ones(64, 5, 12),
        "text_mask": torch.ones(64, 5, dtype=torch.bool),
        "text_pooled": torch.ones(64, 12),
    }
    kind = kind_of(config("text", "conditioning.cfg_dropout=0.5"))
    torch.manual_seed(0)
    cond = kind.batch_condition(text, "cpu")
    dropped = cond.text_pooled.sum(1) == 0
    assert 0 < dropped.sum() < 64  # some captions dropped, not all
    assert not cond.text_mask[dropped].any() and cond.text_mask[~dropped].all()
    assert torch.equal(kind.batch_condition(text, "cpu", train=False).text_pooled, text["text_pooled"])


def test_requests_are_checked_in_one_line_naming_the_option():
    none, text, attributes = (kind_of(config(n)) for n in ("none", "text", "attributes"))
    with pytest.raises(
        ValueError, match=r"^run is not attribute-conditioned \(conditioning.type=none\): no attributes"
    ):
        none.check_request("run", attributes="Smiling=1")
    with pytest.raises(ValueError, match=r"^run is not text-conditioned \(conditioning.type=attributes\): no prompt$"):
        attributes.check_request("run", prompt="a face")
    with pytest.raises(ValueError, match=r"has no semantic encoder \(conditioning.semantic_dim=0\)"):
        attributes.check_request("run", reference=torch.zeros(1))
    with pytest.raises(ValueError, match=r"editing needs an attribute-conditioned model"):
        text.check_edit()
    attributes.check_request("run", attributes="Smiling=1")
    kind_of(config("semantic")).check_request("run", attributes="Smiling=1", reference=torch.zeros(1))
    text.check_request("run", prompt="a face")
    attributes.check_edit()


def test_user_requests_become_conditions():
    attributes = kind_of(config("attributes"))
    cond = attributes.request_condition(3, "Smiling=1", subject=torch.ones(1, 32))
    assert torch.equal(cond.attributes, attribute_matrix("Smiling=1", 3)) and cond.subject.shape == (3, 32)
    assert not attributes.request_condition(2).attributes.any()  # nothing asked: all unspecified
    assert kind_of(config("none")).request_condition(2) is None

    def encode(prompts):  # a stand-in text encoder
        tokens = torch.ones(len(prompts), 5, 12)
        return tokens, torch.ones(len(prompts), 5, dtype=torch.bool), torch.ones(len(prompts), 12)

    text = kind_of(config("text"))
    cond = text.request_condition(2, prompt=["a face", " "], encode=encode)
    assert cond.text_pooled[0].all() and not cond.text_pooled[1].any()  # "" is the unconditional branch
    assert not cond.text_mask[1].any()
    with pytest.raises(ValueError, match="got 1 prompts for 2 images"):
        text.request_condition(2, prompt=["a face"], encode=encode)


@pytest.mark.parametrize("name", ["attributes", "semantic", "text"])
def test_the_null_condition_is_the_embedders(name):
    cfg = config(name)
    kind = kind_of(cfg)
    expected = embedder_from_config(cfg, 3, 16).null_condition(3, "cpu")
    got = kind.null_condition(3, "cpu")
    assert set(got.tensors()) == set(expected.tensors())
    for key, value in expected.tensors().items():
        assert torch.equal(getattr(got, key), value), key
    assert kind_of(config("none")).null_condition(3) is None


def test_scoring_asks_for_real_attribute_rows_in_each_kinds_terms():
    rows = torch.randint(0, 2, (4, 40)).float() * 2 - 1
    assert kind_of(config("attributes")).reference_request(rows, seed=1) == {"attributes": rows}
    assert kind_of(config("text")).reference_request(rows, seed=1) == {"prompt": captions_for(rows, seed=1)}
    assert kind_of(config("none")).reference_request(rows, seed=1) == {}


def test_descriptions():
    words = {name: kind_of(config(name)).describe("CFG") for name in KIND_OPTIONS}
    assert words == {
        "none": "unconditional",
        "attributes": "40 CelebA attributes + CFG",
        "semantic": "40 CelebA attributes + CFG, a 8-d face code",
        "text": "text (minilm) + CFG",
    }
