"""One resolution of sampler steps and guidance for every sampling path, and sampling through torch.compile."""

import pytest
import torch

from facegen import scoring
from facegen.builders import autoencoder_from_config, model_from_config, objective_from_config
from facegen.config import load_config
from facegen.pipeline import FacePipeline

# A DiT small enough to compile in seconds on 2 CPU cores, conditioned on attributes (a Condition crosses the graph).
TINY = [
    "data.image_size=8",
    "model.name=dit",
    "model.size=tiny",
    "model.dit.patch_size=4",
    "model.dit.depth=1",
    "model.dit.hidden_size=32",
    "model.dit.num_heads=2",
    "conditioning.type=attributes",
    "sampler.steps=3",
    "sampler.cfg_scale=2.5",
]


def tiny_pipeline(out=None) -> FacePipeline:
    cfg = load_config(None, [*TINY, f"output_dir={out or 'unused'}"])
    torch.manual_seed(0)
    net = model_from_config(cfg)
    with torch.no_grad():  # the DiT starts as the zero function: move every weight so outputs differ
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    net.eval().requires_grad_(False)
    autoencoder = autoencoder_from_config(cfg)
    return FacePipeline(net, objective_from_config(cfg), cfg, torch.device("cpu"), autoencoder)


def test_sampling_settings_default_to_the_model_config_and_take_explicit_values():
    pipe = tiny_pipeline()
    assert pipe.sampling_settings() == (3, 2.5)
    assert pipe.sampling_settings(steps=1) == (1, 2.5)
    assert pipe.sampling_settings(cfg_scale=0.0) == (3, 0.0)  # zero is a scale, not "the default"
    assert pipe.sampling_settings(7, 1.0) == (7, 1.0)


@pytest.mark.parametrize(
    "steps, cfg_scale, message",
    [
        (0, None, "steps must be >= 1, got 0"),
        (-2, None, "steps must be >= 1, got -2"),
        (None, -0.5, "cfg_scale must be >= 0, got -0.5"),
        (None, float("nan"), "cfg_scale must be >= 0, got nan"),
    ],
)
def test_bad_settings_fail_in_every_sampling_path(steps, cfg_scale, message):
    pipe = tiny_pipeline()
    with pytest.raises(ValueError, match=f"^{message}$"):
        pipe.sampling_settings(steps, cfg_scale)
    with pytest.raises(ValueError, match=message):
        pipe.generate(1, steps=steps, cfg_scale=cfg_scale, progress=False)
    with pytest.raises(ValueError, match=message):
        pipe.interpolate(seeds=(0, 1), num_frames=2, steps=steps, cfg_scale=cfg_scale)
    with pytest.raises(ValueError, match=message):  # before the photo is even read
        pipe.edit("no-such-face.png", {"Smiling": 1}, steps=steps, cfg_scale=cfg_scale)


def test_generate_samples_with_the_resolved_settings(monkeypatch):
    pipe = tiny_pipeline()
    seen = []
    sample = pipe.objective.sample

    def spy(net, noise, **options):
        seen.append((options["steps"], options["guidance"]))
        return sample(net, noise, **options)

    monkeypatch.setattr(pipe.objective, "sample", spy)
    pipe.generate(1, progress=False)
    pipe.generate(1, steps=1, cfg_scale=0.0, progress=False)
    pipe.interpolate(seeds=(0, 1), num_frames=2, steps=2)
    assert seen == [(3, 2.5), (1, 0.0), (2, 2.5)]


@pytest.mark.parametrize("steps, cfg_scale, recorded", [(None, None, (3, 2.5)), (1, 0.0, (1, 0.0))])
def test_score_reports_the_settings_it_sampled_with(monkeypatch, celeba_root, steps, cfg_scale, recorded):
    pipe = tiny_pipeline()
    pipe.config.conditioning.type = "none"  # no reference labels needed: the net still runs on its null condition
    calls = []
    generate = pipe.generate
    monkeypatch.setattr(pipe, "generate", lambda *a, **k: calls.append(k) or generate(*a, **k))
    monkeypatch.setattr(scoring, "evaluate", lambda images, metrics, **options: {"metrics": {}, "protocol": {}})
    options = {"num_samples": 2, "celeba_root": str(celeba_root), "progress": False}  # the reference is checked first
    report = scoring.score(pipe, ["fd_attr"], steps=steps, cfg_scale=cfg_scale, **options)
    protocol = report["protocol"]
    assert (protocol["sampler_steps"], protocol["cfg_scale"]) == recorded
    assert (calls[0]["steps"], calls[0]["cfg_scale"]) == recorded
    with pytest.raises(ValueError, match="steps must be >= 1, got 0"):
        scoring.score(pipe, ["fd_attr"], steps=0, **options)


def test_score_checks_before_generating(monkeypatch):
    """score() runs the checks ``facegen eval`` runs, so an API caller is refused before the samples, not after."""
    pipe = tiny_pipeline()
    pipe.config.conditioning.type = "none"
    monkeypatch.setattr(pipe, "generate", lambda *a, **k: pytest.fail("generated before checking"))
    with pytest.raises(ValueError, match="attr_consistency needs an attribute-conditioned model; this one is 'none'"):
        scoring.score(pipe, ["attr_consistency"], num_samples=2, progress=False)
    with pytest.raises(ValueError, match="clip_score needs a text-conditioned model and --clip-model"):
        scoring.score(pipe, ["clip_score"], num_samples=2, progress=False)


def test_compiled_sampling_gives_the_same_images(tmp_path, monkeypatch):
    """Through dynamo with its ``eager`` backend: the capture (guards, the wrapper, which net samples) without
    inductor's ~20 s of C++ compilation on 2 CPU cores; inductor's kernels are torch's to test."""
    from facegen import pipeline
    from facegen.checkpoint import save_checkpoint

    # fp32: under bf16 autocast eager and compiled round differently (eager bf16 is itself 0.2 off fp32 here).
    monkeypatch.setattr(pipeline, "resolve_precision", lambda *_: "fp32")
    monkeypatch.setattr(pipeline, "compile_options", lambda device: {"backend": "eager"})
    pipe = tiny_pipeline(tmp_path)
    state = pipe.net.state_dict()
    save_checkpoint(pipe.config.run_dir / "checkpoints", 1, pipe.config, state, state, {"step": 1})
    plain = FacePipeline.load(checkpoint=pipe.config.run_dir, device="cpu")
    compiled = FacePipeline.load(checkpoint=pipe.config.run_dir, device="cpu", compile=True)
    assert plain.sampling_net is plain.net and not plain.compile
    assert compiled.sampling_net is not compiled.net and compiled.sampling_net is compiled.sampling_net
    assert compiled.net.state_dict().keys() == state.keys()  # the plain module keeps the parameters

    options = dict(num_samples=2, steps=1, sampler="euler", attributes="Smiling=1", seed=0, progress=False)
    expected = plain.generate(**options)
    torch.testing.assert_close(compiled.generate(**options), expected, rtol=1e-4, atol=1e-4)
    assert not torch.equal(expected, plain.generate(**{**options, "attributes": "Smiling=0"}))

    from facegen.pretrained import export_model

    exported = FacePipeline.load(model=export_model(pipe.config.run_dir, tmp_path / "model"), compile=True)
    assert exported.compile and exported.sampling_net is not exported.net  # compiled on first use, not run here


def test_a_time_shift_moves_the_steps_of_a_new_pipeline_and_other_objectives_refuse_it():
    pipe = tiny_pipeline()
    base = pipe.generate(2, seed=1, progress=False)
    assert torch.equal(pipe.with_time_shift(1.0).generate(2, seed=1, progress=False), base)  # 1: the even grid
    shifted = pipe.with_time_shift(3.0)
    assert shifted.config.sampler.time_shift == 3.0 and pipe.config.sampler.time_shift == 1.0
    assert not torch.allclose(shifted.generate(2, seed=1, progress=False), base)
    with pytest.raises(ValueError, match="time shift must be > 0, got 0"):
        pipe.with_time_shift(0)
    ddpm = load_config(None, [*TINY, "objective.name=ddpm", "output_dir=unused"])
    ddpm_pipe = FacePipeline(pipe.net, objective_from_config(ddpm), ddpm, torch.device("cpu"), pipe.autoencoder)
    with pytest.raises(ValueError, match=r"sampler.time_shift=2: .*only for objective.name='rectified_flow' \(or 1\)"):
        ddpm_pipe.with_time_shift(2.0)
