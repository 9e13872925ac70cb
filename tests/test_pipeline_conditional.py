"""Attribute-conditioned training, guided sampling, editing and interpolation, end to end on real faces."""

import pytest
import torch

from facegen.cli import main
from facegen.config import load_config
from facegen.pipeline import MORPH_SEED, FacePipeline
from facegen.run import train
from facegen.samplers.noise import slerp

CASES = {
    "dit-flow": {
        "model.name": "dit",
        "model.dit.patch_size": 4,
        "model.dit.depth": 2,
        "model.dit.hidden_size": 64,
        "model.dit.num_heads": 2,
    },
    "unet-ddpm": {
        "model.name": "unet",
        "objective.name": "ddpm",
        "objective.prediction": "v",
        "objective.schedule": "cosine",
        "conditioning.dim": 32,
    },
    "dit-flow-semantic": {  # the conditional autoencoder: a jointly trained encoder's code of the face
        "model.name": "dit",
        "model.dit.patch_size": 4,
        "model.dit.depth": 2,
        "model.dit.hidden_size": 64,
        "model.dit.num_heads": 2,
        "conditioning.semantic_dim": 16,
    },
}
# ODE inversion is second order, DDIM's first
RECONSTRUCTION_ERROR = {"dit-flow": 0.02, "unet-ddpm": 0.05, "dit-flow-semantic": 0.02}


@pytest.fixture(scope="module", params=sorted(CASES))
def attr_run(request, celeba_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    overrides = {
        "exp_name": "attr",
        "output_dir": out,
        "data.root": celeba_root,
        "data.cache_dir": out / "cache",
        "data.max_images": 64,
        "data.image_size": 16,
        "data.num_workers": 0,
        "model.size": "tiny",
        "conditioning.type": "attributes",
        "train.batch_size": 8,
        "train.max_steps": 20,
        "train.warmup_steps": 1,
        "train.sample_every": 20,
        "train.num_sample_images": 4,
        "train.mixed_precision": "fp32",
        "sampler.steps": 4,
        "sampler.cfg_scale": 2.0,
        "train.ema_decay": 0.0,
        "train.lr": 2e-3,
        **CASES[request.param],
    }
    summary = train(load_config(None, [f"{k}={v}" for k, v in overrides.items()]))
    assert summary["step"] == 20
    return out / "attr"


def case(run) -> str:
    from facegen.checkpoint import load_checkpoint

    config = load_checkpoint(run).config
    if config.model.name == "unet":
        return "unet-ddpm"
    return "dit-flow-semantic" if config.conditioning.semantic_dim else "dit-flow"


def test_guided_generation_depends_on_attributes(attr_run):
    pipe = FacePipeline.from_checkpoint(attr_run, device="cpu")
    smiling = pipe.generate(2, steps=4, seed=0, attributes="Smiling=1", cfg_scale=3.0, progress=False)
    serious = pipe.generate(2, steps=4, seed=0, attributes={"Smiling": 0}, cfg_scale=3.0, progress=False)
    unguided = pipe.generate(2, steps=4, seed=0, attributes="Smiling=1", cfg_scale=1.0, progress=False)
    assert smiling.shape == (2, 3, 16, 16)
    assert not torch.allclose(smiling, serious) and not torch.allclose(smiling, unguided)
    assert torch.equal(
        smiling, pipe.generate(2, steps=4, seed=0, attributes="Smiling=1", cfg_scale=3.0, progress=False)
    )


def test_inversion_then_regeneration_reconstructs(attr_run, celeba_root):
    pipe = FacePipeline.from_checkpoint(attr_run, device="cpu")
    face = celeba_root / "img_align_celeba" / "000001.jpg"
    result = pipe.edit(face, {"Smiling": 1}, strength=1.0, steps=40, cfg_scale=2.0)
    assert set(result) == {"input", "reconstruction", "edited"}
    error = (result["reconstruction"] - result["input"]).abs().mean().item()
    assert error < RECONSTRUCTION_ERROR[case(attr_run)], (
        error
    )  # the ODE is run back and forth: only discretisation error remains
    assert not torch.allclose(result["edited"], result["reconstruction"])  # the target attributes act


def test_semantic_edits_keep_the_faces_code(attr_run, celeba_root):
    pipe = FacePipeline.from_checkpoint(attr_run, device="cpu")
    face = celeba_root / "img_align_celeba" / "000001.jpg"
    if not pipe.semantic:
        with pytest.raises(ValueError, match="no semantic encoder"):
            pipe.semantic_code(torch.zeros(1, 3, 16, 16))
        return
    logged = (attr_run / "metrics.jsonl").read_text()
    assert '"semantic_kl"' in logged and '"semantic_attr_bce"' in logged
    with_code = pipe.edit(face, {"Smiling": 1}, strength=1.0, steps=8, cfg_scale=2.0)
    without = pipe.edit(face, {"Smiling": 1}, strength=1.0, steps=8, cfg_scale=2.0, use_semantic=False)
    assert torch.equal(with_code["input"], without["input"])
    assert not torch.allclose(with_code["reconstruction"], without["reconstruction"])  # the code conditions
    code = pipe.semantic_code(pipe.autoencoder.encode(with_code["input"]))
    assert code.shape == (1, 16) and code.abs().amax() > 0


def test_variations_of_a_reference_face(attr_run, celeba_root, tmp_path):
    pipe = FacePipeline.from_checkpoint(attr_run, device="cpu")
    faces = [celeba_root / "img_align_celeba" / name for name in ("000001.jpg", "000002.jpg")]
    options = dict(steps=3, seed=0, attributes="Smiling=1", progress=False)
    if not pipe.semantic:
        with pytest.raises(ValueError, match="no semantic encoder"):
            pipe.generate(2, reference=faces[0], **options)
        return
    first, again = (pipe.generate(2, reference=faces[0], **options) for _ in range(2))
    other, plain = pipe.generate(2, reference=faces[1], **options), pipe.generate(2, **options)
    assert torch.equal(first, again) and not torch.allclose(first, other) and not torch.allclose(first, plain)
    out = tmp_path / "variations"
    assert main(["sample", "--checkpoint", str(attr_run), "--reference", str(faces[0]), "--num-samples", "2",
                 "--steps", "2", "--out", str(out)]) == 0  # fmt: skip
    assert (out / "grid.png").exists() and (out / "0001.png").exists()


def test_interpolation_frames(attr_run):
    pipe = FacePipeline.from_checkpoint(attr_run, device="cpu")
    frames = pipe.interpolate(attributes=("Male=1,Smiling=0", "Male=0,Smiling=1"), num_frames=5, steps=3)
    assert frames.shape == (5, 3, 16, 16)
    ends = pipe.generate(1, steps=3, seed=MORPH_SEED, attributes="Male=1,Smiling=0", progress=False)  # the default
    assert torch.allclose(frames[0], ends[0], atol=1e-5)
    assert pipe.interpolate(seeds=(1, 2), num_frames=3, steps=3).shape == (3, 3, 16, 16)


def test_slerp_keeps_norm_and_endpoints():
    a, b = torch.randn(3, 8, 8), torch.randn(3, 8, 8)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    mid = slerp(a, b, 0.5)
    assert abs(mid.norm() - (a.norm() + b.norm()) / 2) < 0.1 * a.norm()


def test_cli_edit_and_interpolate(attr_run, celeba_root, tmp_path, capsys):
    face = celeba_root / "img_align_celeba" / "000001.jpg"
    assert (
        main(
            [
                "edit",
                "--checkpoint",
                str(attr_run),
                "--image",
                str(face),
                "--set",
                "Eyeglasses=1",
                "--steps",
                "3",
                "--out",
                str(tmp_path / "e"),
            ]
        )
        == 0
    )
    assert {p.name for p in (tmp_path / "e").iterdir()} == {
        "input.png",
        "reconstruction.png",
        "edited.png",
        "comparison.png",
        "edit.json",
    }
    assert (
        main(
            [
                "interpolate",
                "--checkpoint",
                str(attr_run),
                "--from",
                "Male=1",
                "--to",
                "Male=0",
                "--frames",
                "3",
                "--steps",
                "2",
                "--out",
                str(tmp_path / "i"),
            ]
        )
        == 0
    )
    assert {p.name for p in (tmp_path / "i").iterdir()} == {"strip.png", "interpolation.gif"}
    not_image = tmp_path / "notes.jpg"
    not_image.write_text("hello")
    assert main(["edit", "--checkpoint", str(attr_run), "--image", str(not_image), "--set", "Smiling=1"]) == 2
    assert "is not a readable image" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(attr_run), "--attributes", "Smilling=1"]) == 2
    assert "Did you mean Smiling" in capsys.readouterr().err


def test_edits_read_a_photos_own_attributes_with_the_classifier(celeba_root):
    from facegen.data import build_dataset
    from facegen.data.transforms import load_face
    from facegen.evaluation.classifier import predicted_attributes

    faces = build_dataset("celeba", celeba_root, "test", image_size=64, max_images=1)
    photo = load_face(faces.image_dir / faces.filenames[0], 64)
    agreement = (predicted_attributes(photo)[0] == faces[0]["attributes"]).float().mean().item()
    assert agreement >= 0.8  # the classifier's mean test accuracy is 89%
