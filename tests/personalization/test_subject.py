"""The subject embedding in the condition, and the subject file: round trip, refusals, one-line errors."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
import torch

from facegen.conditioning import Condition, Guide
from facegen.conditioning.attributes import AttributeEmbedder
from facegen.personalization import LoraSpec, Subject, base_fingerprint, load_subject, save_subject
from facegen.pipeline import FacePipeline

from .conftest import save_tiny_base


def test_a_zero_subject_is_no_subject_and_guidance_drops_it():
    torch.manual_seed(0)
    embedder = AttributeEmbedder(16)
    attributes = torch.tensor([[1.0] * 20 + [-1.0] * 20, [0.0] * 40])
    tokens, mask, vector = embedder.embed(Condition(attributes=attributes))
    person = torch.randn(2, 16)
    _, mask_p, vector_p = embedder.embed(Condition(attributes=attributes, subject=person))
    _, mask_0, vector_0 = embedder.embed(Condition(attributes=attributes, subject=torch.zeros(2, 16)))
    assert torch.equal(vector_0, vector) and not mask_0[:, -1].any()  # all-zero: exactly the base condition
    assert mask_p.shape == (2, 41) and mask_p[:, -1].all() and (vector_p - vector).abs().amax() > 1e-3
    dropped = Condition(attributes=attributes, subject=person).dropped()
    assert not dropped.subject.any()  # the unconditional branch has no person: guidance amplifies it


def _subject(name: str, base_sha: str, dim: int = 256) -> Subject:
    return Subject(
        name=name,
        method="lora",
        embedding=torch.randn(dim),
        base_sha256=base_sha,
        base_source="runs/base",
        steps=3,
        attributes=torch.zeros(40),
        lora=LoraSpec(("to_q", "to_v"), rank=2, alpha=2.0),
        adapter={"a.lora_A.weight": torch.randn(2, 8), "a.lora_B.weight": torch.zeros(8, 2)},
        options={"steps": 3},
    )


def test_subject_file_round_trip_and_no_silent_overwrite(tmp_path):
    subject = _subject("alice", "ab" * 32)
    path = save_subject(subject, tmp_path / "alice.safetensors")
    loaded = load_subject(path)
    assert loaded.name == "alice" and loaded.lora == subject.lora and loaded.options == subject.options
    assert torch.equal(loaded.embedding, subject.embedding)
    assert loaded.adapter.keys() == subject.adapter.keys()
    assert all(torch.equal(loaded.adapter[k], v.half().float()) for k, v in subject.adapter.items())  # kept in fp16
    with pytest.raises(FileExistsError, match="--overwrite"):
        save_subject(subject, path)


def test_a_subject_for_another_base_is_refused_in_one_line(tiny_pipe, tmp_path):
    other = FacePipeline.from_checkpoint(save_tiny_base(tmp_path, seed=1), device="cpu")
    path = save_subject(_subject("alice", base_fingerprint(other.net)), tmp_path / "alice.safetensors")
    with pytest.raises(ValueError, match="another base model") as err:
        tiny_pipe.with_subject(path)
    assert "\n" not in str(err.value)


def test_a_subject_samples_without_the_models_default_guide_and_refuses_another(tiny_pipe):
    dim = tiny_pipe.net.cond_embedder.dim
    subject = replace(_subject("alice", base_fingerprint(tiny_pipe.net), dim), method="textual-inversion", lora=None)
    config = copy.deepcopy(tiny_pipe.config)
    config.sampler.guide = "its_guide"  # as a bundled model's config names its guide
    by_default = replace(tiny_pipe, config=config, guide=Guide(tiny_pipe.net, 2.0, "its_guide"))
    assert by_default.guided_by_default and by_default.with_subject(subject).guide is None  # it knows no subject
    explicit = replace(by_default, guide=Guide(tiny_pipe.net, 2.0, "runs/another_model"))
    with pytest.raises(ValueError, match="subject and autoguidance do not go together"):
        explicit.with_subject(subject)
    with pytest.raises(ValueError, match="subject and autoguidance do not go together"):  # the CLI's order
        by_default.with_subject(subject).with_guide(tiny_pipe)


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", b"\x08" + b"\x00" * 7 + b"{}"])
def test_a_damaged_or_foreign_file_is_one_line(tmp_path, content):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.safetensors"):
        load_subject(path)
