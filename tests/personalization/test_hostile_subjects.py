"""Subject files from strangers, and personalizations that go wrong (issue 20): checked against the base before
anything is allocated, non-finite values refused and never written, no training on its own preview."""

from __future__ import annotations

import json

import pytest
import torch

from facegen.cli import main
from facegen.personalization import LoraSpec, Subject, base_fingerprint, save_subject
from facegen.personalization.lora import DEFAULT_TARGETS


def _lora_subject(pipe, rank: int = 2) -> Subject:
    from facegen.personalization.lora import adapter_state, with_lora

    spec = LoraSpec(DEFAULT_TARGETS["unet"][:1], rank, float(rank))
    return Subject(
        "alice",
        "lora",
        torch.randn(pipe.net.cond_embedder.dim) * 0.02,
        base_fingerprint(pipe.net),
        "base",
        1,
        torch.zeros(40),
        spec,
        adapter_state(with_lora(pipe.net, spec)),
    )


def _with_header(path, change) -> None:
    """Rewrite the facegen JSON in a subject file's header, keeping the header's length."""
    data = path.read_bytes()
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    meta = json.loads(header["__metadata__"]["facegen"])
    change(meta)
    header["__metadata__"]["facegen"] = json.dumps(meta, separators=(",", ":"))
    text = json.dumps(header, separators=(",", ":")).encode().ljust(length)
    assert len(text) == length
    path.write_bytes(data[:8] + text + data[8 + length :])


def test_a_lora_rank_of_100000_is_refused_before_allocation(tiny_pipe, tmp_path):
    path = save_subject(_lora_subject(tiny_pipe), tmp_path / "alice.safetensors")
    _with_header(path, lambda meta: meta["lora"].update(rank=100000))
    with pytest.raises(ValueError, match="LoRA rank 100000 is over"):
        tiny_pipe.with_subject(path)


def test_tensors_of_other_shapes_are_refused_before_reading(tiny_pipe, tmp_path):
    subject = _lora_subject(tiny_pipe)
    wrong = {k: torch.zeros(3, 3) if k.endswith("lora_A.weight") else v for k, v in subject.adapter.items()}
    path = save_subject(Subject(**{**subject.__dict__, "adapter": wrong}), tmp_path / "alice.safetensors")
    with pytest.raises(ValueError, match=r"alice.safetensors: tensor lora\..* is F16 \(3, 3\), expected"):
        tiny_pipe.with_subject(path)


def test_nan_in_a_subject_file_is_refused(tiny_pipe, tmp_path):
    subject = _lora_subject(tiny_pipe)
    path = save_subject(subject, tmp_path / "alice.safetensors")
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[:8], "little")
    offsets = json.loads(data[8 : 8 + length])["embedding"]["data_offsets"]
    data[8 + length + offsets[0] : 8 + length + offsets[0] + 4] = torch.tensor([float("nan")]).numpy().tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="embedding holds NaN or infinite values"):
        tiny_pipe.with_subject(path)
    with pytest.raises(FloatingPointError, match="not written"):  # and no such file is ever written
        save_subject(Subject(**{**subject.__dict__, "embedding": torch.full((4,), float("inf"))}), tmp_path / "b.st")
    assert not (tmp_path / "b.st").exists()


def test_a_file_larger_than_its_header_says_is_not_read(tiny_pipe, tmp_path):
    path = save_subject(_lora_subject(tiny_pipe), tmp_path / "alice.safetensors")
    with open(path, "r+b") as handle:
        handle.truncate(3 * 2**30)  # sparse: 3 GB that would have been read whole
    with pytest.raises(ValueError, match="alice.safetensors is not a facegen-subject-1 file"):
        tiny_pipe.with_subject(path)


def _personalize(capsys, tiny_base, images, out, *extra) -> tuple[int, str]:
    argv = ["personalize", "--checkpoint", tiny_base, "--images", images, "--name", "alice", "--out", out]
    code = main([str(a) for a in [*argv, "--steps", "3", "--batch-size", "2", "--preview", "1", *extra]])
    return code, capsys.readouterr().err


def test_a_diverging_personalization_stops_in_one_line_and_writes_nothing(tiny_base, person_photos, tmp_path, capsys):
    out = tmp_path / "alice.safetensors"
    code, err = _personalize(capsys, tiny_base, person_photos, out, "--lr", "1e30", "--embedding-lr", "1e30")
    assert code == 1 and err.count("facegen: error:") == 1 and "diverged" in err and "--lr" in err, err
    assert list(tmp_path.iterdir()) == [], "a diverged run left files"


def test_out_inside_images_is_refused(tiny_base, person_photos, tmp_path, capsys):
    images = tmp_path / "photos"
    images.mkdir()
    for photo in person_photos.iterdir():
        (images / photo.name).write_bytes(photo.read_bytes())
    for out in (images / "alice.safetensors", images / "sub" / "alice.safetensors"):
        code, err = _personalize(capsys, tiny_base, images, out)
        assert code == 2 and err.count("facegen: error:") == 1 and "is inside --images" in err, err
    assert sorted(p.name for p in images.iterdir()) == sorted(p.name for p in person_photos.iterdir())
