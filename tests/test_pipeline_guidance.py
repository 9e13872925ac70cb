"""Guidance settings through the pipeline and the command line. Autoguidance: a push away from a weak model of the
same faces on top of CFG; guided by itself, the push is zero and the samples are CFG's alone. A model's config may
name a bundled guide (``sampler.guide``), loaded with it. Guidance on an interval: outside it the conditional
prediction alone."""

import shutil
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from facegen import pretrained
from facegen.cli import _pipeline, build_parser, main
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


def test_a_model_guided_by_itself_samples_what_cfg_alone_samples():
    pipe = conditional_pipeline()
    options = dict(num_samples=2, seed=3, attributes="Smiling=1", progress=False)
    by_itself = pipe.with_guide(pipe, 3.0)
    torch.testing.assert_close(by_itself.generate(cfg_scale=4.0, **options), pipe.generate(cfg_scale=4.0, **options))
    unguided = pipe.generate(cfg_scale=1.0, **options)
    torch.testing.assert_close(by_itself.generate(cfg_scale=1.0, **options), unguided, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(pipe.generate(cfg_scale=4.0, **options), unguided, atol=1e-3)  # CFG does change them


def test_a_weaker_guide_pushes_the_samples_by_its_weight():
    pipe, weak = conditional_pipeline(), FacePipeline.from_pretrained(MODEL)  # weak: the fixture as trained
    options = dict(num_samples=2, seed=3, attributes="Smiling=1", progress=False, cfg_scale=2.0)
    plain = pipe.generate(**options)
    assert not torch.allclose(pipe.with_guide(weak, 2.0).generate(**options), plain, atol=1e-3)
    torch.testing.assert_close(pipe.with_guide(weak, 2.0).with_guide_weight(1.0).generate(**options), plain)
    torch.testing.assert_close(pipe.with_guide(weak).with_guide(None).generate(**options), plain)
    with pytest.raises(ValueError, match="no guide to weigh"):
        pipe.with_guide_weight(2.0)
    with pytest.raises(ValueError, match="guide weight must be >= 0"):
        pipe.with_guide(weak, -1.0)


def model_naming_a_guide(tmp_path, guide: str) -> Path:
    folder = tmp_path / "guided_model"
    shutil.copytree(MODEL, folder)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["sampler"] |= {"guide": guide, "guide_weight": 1.5}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return folder


def test_the_guide_a_model_names_is_a_bundled_model_loaded_with_it(tmp_path, monkeypatch):
    class Fixture(pretrained.PretrainedModel):
        folder = MODEL

    monkeypatch.setitem(pretrained.REGISTRY, "tiny_guide", Fixture("tiny_guide"))
    pipe = FacePipeline.from_pretrained(model_naming_a_guide(tmp_path, "tiny_guide"))
    assert (pipe.guide.name, pipe.guide.weight, pipe.guided_by_default) == ("tiny_guide", 1.5, True)
    assert FacePipeline.from_pretrained(pipe.checkpoint, guide=False).guide is None
    with pytest.raises(ValueError, match="sampler.guide='elsewhere' is not a bundled model"):
        FacePipeline.from_pretrained(model_naming_a_guide(tmp_path / "b", "elsewhere"))
    with pytest.raises(ValueError, match="sampler.guide='../x': null or the name of a bundled model"):
        FacePipeline.from_pretrained(model_naming_a_guide(tmp_path / "c", "../x"))


def test_a_guide_of_another_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="guide .*: (autoencoder|data.image_size|conditioning.type) is"):
        FacePipeline.from_pretrained(MODEL).with_guide(FacePipeline.from_pretrained(OTHER_KIND))


def test_cli_guide(tmp_path, capsys):
    args = ["sample", "--model", str(MODEL), "--num-samples", "2", "--seed", "3", "--attributes", "Smiling=1"]
    assert main([*args, "--cfg-scale", "4", "--out", str(tmp_path / "plain")]) == 0
    assert main([*args, "--cfg-scale", "4", "--guide", str(MODEL), "--out", str(tmp_path / "self")]) == 0
    assert f"(autoguided by {MODEL}, weight 2)" in capsys.readouterr().out
    for name in ("0000.png", "0001.png"):  # guided by itself: CFG's samples (the fixture ignores its condition)
        plain = Image.open(tmp_path / "plain" / name).convert("RGB")
        by_itself = Image.open(tmp_path / "self" / name).convert("RGB")
        diff = torch.tensor(list(plain.getdata())) - torch.tensor(list(by_itself.getdata()))
        assert diff.abs().max() <= 1  # rounding to 8 bits
    assert main([*args, "--guide", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) != 0
    assert "missing" in capsys.readouterr().err
    assert main([*args, "--guide-weight", "2", "--out", str(tmp_path / "y")]) == 2
    assert "no guide to weigh (sampler.guide is null)" in capsys.readouterr().err
    assert main([*args, "--guide", "none", "--out", str(tmp_path / "z")]) == 0


def test_cli_guidance_interval(tmp_path, capsys):
    args = ["sample", "--model", str(MODEL), "--num-samples", "1", "--out", str(tmp_path / "a")]
    assert main([*args, "--guidance-interval", "0.3,1"]) == 0
    assert main([*args, "--guidance-interval", "0.8,0.2", "--overwrite"]) == 2
    assert "expected LO,HI with 0 <= LO < HI <= 1, got '0.8,0.2'" in capsys.readouterr().err


def test_cli_time_shift(tmp_path, capsys):
    args = ["sample", "--model", str(MODEL), "--num-samples", "1", "--out", str(tmp_path / "a")]
    pipe = _pipeline(build_parser().parse_args([*args, "--time-shift", "3"]))
    assert pipe.config.sampler.time_shift == pipe.objective.time_shift == 3.0  # what sampling reads
    assert _pipeline(build_parser().parse_args(args)).objective.time_shift == 1.0  # the model's own
    assert main([*args, "--time-shift", "3"]) == 0
    assert main([*args, "--time-shift", "0", "--overwrite"]) == 2
    assert "--time-shift" in capsys.readouterr().err
    other = [
        "sample",
        "--model",
        str(OTHER_KIND),
        "--num-samples",
        "1",
        "--time-shift",
        "2",
        "--out",
        str(tmp_path / "b"),
    ]
    assert main(other) == 2
    assert "sampler.time_shift=2: where the fixed steps fall, only for objective.name='rectified_flow'" in (
        capsys.readouterr().err
    )


def test_a_guided_pipeline_refuses_a_subject_in_one_line(tmp_path):
    pipe = FacePipeline.from_pretrained(MODEL)
    with pytest.raises(ValueError, match="subject and autoguidance do not go together"):
        pipe.with_guide(pipe).with_subject(tmp_path / "anyone.safetensors")
