"""Video training end to end on camera-motion clips of real CelebA photos: frozen image weights, exact resume,
starting from an image model, and clips through the CLI (plain and image-to-video)."""

import numpy as np
import pytest
import torch

from facegen.cli import main
from facegen.config import load_config
from facegen.pipeline import FacePipeline
from facegen.run import train
from facegen.training.trainer import Trainer


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def image_model(celeba_root, cache_dir, tmp_path_factory):
    """A tiny image model trained a few steps and exported: where every video run here starts."""
    from facegen.pretrained import export_model

    out = tmp_path_factory.mktemp("image")
    train(video_config(celeba_root, out, cache_dir, **{"video.frames": None, "exp_name": "image"}))
    return export_model(out / "image", out / "model")


def video_config(root, out, cache_dir, **extra):
    values = {
        "exp_name": "video", "output_dir": out, "data.root": root, "data.cache_dir": cache_dir,
        "data.max_images": 16, "data.image_size": 16, "model.size": "tiny", "model.dit.patch_size": 4,
        "model.dit.depth": 2, "model.dit.hidden_size": 64, "model.dit.num_heads": 2, "video.frames": 4,
        "train.batch_size": 4, "train.max_steps": 4, "train.warmup_steps": 1, "train.log_every": 1,
        "train.sample_every": 0, "train.ckpt_every": 2, "train.mixed_precision": "fp32", "train.lr": 1e-2,
        "sampler.steps": 2, "train.init_from": extra.pop("init_from", None), **extra,
    }  # fmt: skip
    return load_config(None, [f"{k}={'null' if v is None else v}" for k, v in values.items()])


def test_a_train_step_moves_only_the_temporal_weights(celeba_root, image_model, cache_dir, tmp_path):
    trainer = Trainer(video_config(celeba_root, tmp_path, cache_dir, init_from=image_model))
    try:
        net = trainer.unwrapped
        temporal = {id(p) for p in net.temporal_parameters()}
        before = {name: p.detach().clone() for name, p in net.named_parameters()}
        trainer.train(stop_at=2)
        changed = {name for name, p in net.named_parameters() if not torch.equal(p, before[name])}
        for name, p in net.named_parameters():
            if id(p) in temporal:
                continue
            assert p.grad is None and not p.requires_grad, name  # frozen: no gradient at all
        assert changed and all(".mixer." in name for name in changed)
        assert {name for name, p in net.named_parameters() if id(p) in temporal} >= {n for n in changed}
        assert len(trainer.optimizer.param_groups[0]["params"]) == len(temporal)
    finally:
        trainer.close()


def test_resume_is_exact(celeba_root, image_model, cache_dir, tmp_path):
    train(video_config(celeba_root, tmp_path / "a", cache_dir, init_from=image_model))
    half = video_config(celeba_root, tmp_path / "b", cache_dir, init_from=image_model)
    train(half, stop_at=2)
    train(half, resume="auto")
    a = FacePipeline.from_checkpoint(tmp_path / "a" / "video", device="cpu", use_ema=False)
    b = FacePipeline.from_checkpoint(tmp_path / "b" / "video", device="cpu", use_ema=False)
    for (name, pa), pb in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(pa, pb), name
    trained = [p for name, p in a.net.named_parameters() if name.endswith("mixer.out.weight")]
    assert trained and all(p.abs().sum() > 0 for p in trained)  # the zero-initialised outputs moved


def test_a_video_run_starts_as_its_image_model(celeba_root, image_model, cache_dir, tmp_path):
    image = FacePipeline.from_pretrained(image_model, device="cpu")
    cfg = video_config(celeba_root, tmp_path, cache_dir, init_from=image_model)
    trainer = Trainer(cfg)
    try:
        x, t = torch.randn(2, 4, 3, 16, 16), torch.rand(2)
        expected = image.net(x.flatten(0, 1), t.repeat_interleave(4)).unflatten(0, (2, 4))
        assert expected.abs().mean() > 0  # a trained image model, not DiT's zero function
        assert torch.equal(trainer.unwrapped.eval()(x, t), expected)
    finally:
        trainer.close()


def test_cli_trains_and_samples_clips_and_image_to_video(celeba_root, image_model, cache_dir, tmp_path, capsys):
    import imageio.v3 as iio

    cfg = video_config(celeba_root, tmp_path, cache_dir, init_from=image_model)
    overrides = [f"{k}={v}" for k, v in {"exp_name": "video", "output_dir": tmp_path, "data.root": celeba_root,
                 "data.cache_dir": cache_dir}.items()]  # fmt: skip
    from facegen.config import save_config

    save_config(cfg, tmp_path / "video.yaml")
    assert main(["train", "--config", str(tmp_path / "video.yaml"), *overrides]) == 0
    run = str(tmp_path / "video")
    assert main(["sample", "--checkpoint", run, "--num-samples", "2", "--frames", "6", "--out", str(tmp_path / "s"),
                 "--steps", "2"]) == 0  # fmt: skip
    video = iio.imread(tmp_path / "s" / "clip_000.mp4")
    assert video.shape == (6, 16, 16, 3) and (tmp_path / "s" / "clips.png").exists()
    photo = sorted((celeba_root / "img_align_celeba").iterdir())[3]
    assert main(["sample", "--checkpoint", run, "--num-samples", "1", "--first-frame", str(photo), "--out",
                 str(tmp_path / "i2v"), "--video-format", "gif", "--steps", "2"]) == 0  # fmt: skip
    from facegen.clips import sample_clips
    from facegen.data.transforms import load_face

    pipe = FacePipeline.from_checkpoint(run, device="cpu")
    clips = sample_clips(pipe, 2, first_frame=photo, steps=2, progress=False)
    assert clips.shape == (2, 4, 3, 16, 16)
    face = load_face(photo, 16)[0]
    assert torch.allclose(clips[0, 0], face, atol=1e-5) and torch.allclose(clips[1, 0], face, atol=1e-5)
    assert not torch.allclose(clips[0, 1:], clips[1, 1:])  # the other frames come from each clip's noise
    capsys.readouterr()
    assert main(["sample", "--model", str(image_model), "--frames", "4", "--out", str(tmp_path / "x")]) == 2
    assert "clips need a video model" in capsys.readouterr().err


def test_dataset_clip_order_is_a_pure_function_of_the_step(celeba_root, image_model, cache_dir, tmp_path):
    trainer = Trainer(video_config(celeba_root, tmp_path, cache_dir, init_from=image_model))
    try:
        first = trainer.data.batch(*trainer.plan(3))["image"]
        assert first.shape == (4, 4, 3, 16, 16)
        assert torch.equal(first, trainer.data.batch(*trainer.plan(3))["image"])
        assert np.isfinite(first.numpy()).all()
    finally:
        trainer.close()


def test_correlated_frame_noise_is_kept_with_the_run_and_makes_frames_alike(
    celeba_root, image_model, cache_dir, tmp_path
):
    from dataclasses import replace

    from facegen.clips import sample_clips

    train(video_config(celeba_root, tmp_path, cache_dir, init_from=image_model, **{"video.noise_correlation": 0.9}))
    pipe = FacePipeline.from_checkpoint(tmp_path / "video", device="cpu")
    assert pipe.objective.frame_correlation == 0.9  # the run's config carries the prior to sampling
    independent = replace(pipe, objective=pipe.objective.with_frame_noise(0.0))

    def spread(p):  # how far each frame lies from its clip's mean frame
        clips = sample_clips(p, 4, seed=1, steps=2, progress=False)
        return (clips - clips.mean(dim=1, keepdim=True)).abs().mean().item()

    assert spread(pipe) < 0.6 * spread(independent)
    with pytest.raises(Exception, match="video.noise_correlation"):
        video_config(celeba_root, tmp_path, cache_dir, **{"video.noise_correlation": 1.0})


def test_moving_frame_noise_comes_from_the_config(celeba_root, cache_dir, tmp_path):
    from facegen.builders import objective_from_config

    moving = {"video.noise_correlation": 0.9, "video.noise_shift": "[-1,0]"}
    objective = objective_from_config(video_config(celeba_root, tmp_path, cache_dir, init_from="x", **moving))
    assert (objective.frame_correlation, objective.frame_shift) == (0.9, (-1, 0))
    with pytest.raises(Exception, match=r"video.noise_shift=\[-1, 0\] .* video.noise_correlation > 0"):
        video_config(celeba_root, tmp_path, cache_dir, init_from="x", **{"video.noise_shift": "[-1,0]"})


def test_a_given_first_frame_is_an_input_and_image_to_video_keeps_it(celeba_root, image_model, cache_dir, tmp_path):
    """video.given_first_frame: the net sees frame 0 clean at t = 1 and is scored on the others; sampling from a
    photo gives it the same way (frame 0 exactly the photo, the other frames at the sampler's times)."""
    from facegen.clips import sample_clips
    from facegen.data.transforms import load_face

    cfg = video_config(celeba_root, tmp_path, cache_dir, init_from=image_model, **{"video.given_first_frame": 1.0})
    trainer = Trainer(cfg)
    try:
        seen = []
        net = trainer.unwrapped
        net.register_forward_hook(lambda module, args, out: seen.append((args[0].clone(), args[1].clone())))
        trainer.train(stop_at=1)
        x_t, t = seen[-1]
        assert t.shape == (4, 4) and torch.all(t[:, 0] == 1) and torch.all(t[:, 1:] < 1)
        assert torch.all(t[:, 1:] == t[:, 1:2])  # one time for the noised frames of a clip
    finally:
        trainer.close()
    train(
        video_config(celeba_root, tmp_path / "b", cache_dir, init_from=image_model, **{"video.given_first_frame": 1.0})
    )
    pipe = FacePipeline.from_checkpoint(tmp_path / "b" / "video", device="cpu")
    photo = sorted((celeba_root / "img_align_celeba").iterdir())[3]
    calls = []
    pipe.net.register_forward_hook(lambda module, args, out: calls.append(args[1].clone()))
    clips = sample_clips(pipe, 2, first_frame=photo, steps=2, progress=False)
    face = load_face(photo, 16)[0]
    assert torch.allclose(clips[0, 0], face, atol=1e-5) and torch.allclose(clips[1, 0], face, atol=1e-5)
    assert not torch.allclose(clips[0, 1:], clips[1, 1:])
    assert calls and all(t.dim() == 2 and torch.all(t[:, 0] == 1) and torch.all(t[:, 1:] == t[:, 1:2]) for t in calls)
    assert [t[0, 1].item() for t in calls] == [0, 0.5, 0.5, 1]  # Heun 2 steps: the others follow the sampler
