"""Guidance settings through the pipeline and the command line. Autoguidance: a weak model of the same faces takes
the unconditional branch's place; guided by itself, the model's samples are its unguided ones (weak + s * (net -
weak) = net). Guidance on an interval: outside it the conditional prediction alone."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from facegen.cli import main
from facegen.pipeline import FacePipeline

LEGACY = Path(__file__).parent / "fixtures" / "legacy"  # small exported models (test_legacy_checkpoints.py)
MODEL, OTHER_KIND = LEGACY / "dit_attributes_flow" / "model", LEGACY / "unet_none_ddpm" / "model"


def conditional_pipeline() -> FacePipeline:
    pipe = FacePipeline.from_pretrained(MODEL)
    generator = torch.Generator().manual_seed(0)
    for p in pipe.net.parameters():  # the fixture barely trained: make the condition matter, so guidance does
        p.add_(0.3 * torch.randn(p.shape, generator=generator))
    return pipe


def test_guidance_outside_its_interval_is_the_conditional_prediction_alone():
    pipe = conditional_pipeline()
    options = dict(num_samples=2, seed=3, attributes="Smiling=1", progress=False, steps=1)  # Heun: t = 0 and 1
    unguided = pipe.generate(cfg_scale=1.0, **options)
    torch.testing.assert_close(pipe.generate(cfg_scale=4.0, guidance_interval=(0.4, 0.6), **options), unguided)
    all_the_way = pipe.generate(cfg_scale=4.0, guidance_interval=(0, 1), **options)
    torch.testing.assert_close(all_the_way, pipe.generate(cfg_scale=4.0, **options))
    assert not torch.allclose(all_the_way, unguided, atol=1e-3)
    with pytest.raises(ValueError, match="guidance_interval must be"):
        pipe.generate(guidance_interval=(0.6, 0.2), **options)


def test_a_model_guided_by_itself_samples_its_unguided_faces():
    pipe = conditional_pipeline()
    options = dict(num_samples=2, seed=3, attributes="Smiling=1", progress=False)
    unguided = pipe.generate(cfg_scale=1.0, **options)
    guided = pipe.with_guide(pipe).generate(cfg_scale=4.0, **options)
    torch.testing.assert_close(guided, unguided, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(pipe.generate(cfg_scale=4.0, **options), unguided, atol=1e-3)  # CFG does change them


def test_a_guide_of_another_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="guide .*: (autoencoder|data.image_size|conditioning.type) is"):
        FacePipeline.from_pretrained(MODEL).with_guide(FacePipeline.from_pretrained(OTHER_KIND))


def test_cli_guide(tmp_path, capsys):
    args = ["sample", "--model", str(MODEL), "--num-samples", "2", "--seed", "3", "--attributes", "Smiling=1"]
    assert main([*args, "--cfg-scale", "1", "--out", str(tmp_path / "plain")]) == 0
    assert main([*args, "--cfg-scale", "4", "--guide", str(MODEL), "--out", str(tmp_path / "self")]) == 0
    for name in ("0000.png", "0001.png"):  # the fixture ignores its condition: this checks the wiring
        plain = Image.open(tmp_path / "plain" / name).convert("RGB")
        by_itself = Image.open(tmp_path / "self" / name).convert("RGB")
        diff = torch.tensor(list(plain.getdata())) - torch.tensor(list(by_itself.getdata()))
        assert diff.abs().max() <= 1  # rounding to 8 bits
    assert main([*args, "--guide", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) != 0
    assert "missing" in capsys.readouterr().err


def test_cli_guidance_interval(tmp_path, capsys):
    args = ["sample", "--model", str(MODEL), "--num-samples", "1", "--out", str(tmp_path / "a")]
    assert main([*args, "--guidance-interval", "0.3,1"]) == 0
    assert main([*args, "--guidance-interval", "0.8,0.2", "--overwrite"]) == 2
    assert "expected LO,HI with 0 <= LO < HI <= 1, got '0.8,0.2'" in capsys.readouterr().err


def test_a_guided_pipeline_refuses_a_subject_in_one_line(tmp_path):
    pipe = FacePipeline.from_pretrained(MODEL)
    with pytest.raises(ValueError, match="subject and autoguidance do not go together"):
        pipe.with_guide(pipe).with_subject(tmp_path / "anyone.safetensors")
