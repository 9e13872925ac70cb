"""Autoguidance through the pipeline and the command line: a weak model of the same faces takes the unconditional
branch's place. Guided by itself, the model's samples are its unguided ones (weak + s * (net - weak) = net)."""

from pathlib import Path

import pytest
import torch
from PIL import Image

from facegen.cli import main
from facegen.pipeline import FacePipeline

LEGACY = Path(__file__).parent / "fixtures" / "legacy"  # small exported models (test_legacy_checkpoints.py)
MODEL, OTHER_KIND = LEGACY / "dit_attributes_flow" / "model", LEGACY / "unet_none_ddpm" / "model"


def test_a_model_guided_by_itself_samples_its_unguided_faces():
    pipe = FacePipeline.from_pretrained(MODEL)
    generator = torch.Generator().manual_seed(0)
    for p in pipe.net.parameters():  # the fixture barely trained: make the condition matter, so guidance does
        p.add_(0.3 * torch.randn(p.shape, generator=generator))
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
