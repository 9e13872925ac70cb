"""Training end to end on real CelebA faces with a tiny DiT: resume equivalence, DDP, sampling from the run."""

import gc
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from facegen.config import load_config
from facegen.pipeline import FacePipeline
from facegen.run import train
from facegen.training.trainer import BatchOrder, Trainer, warmup_cosine
from facegen.utils.io import LockedError


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def tiny_overrides(root, out, cache_dir, **extra):
    values = {
        "exp_name": "tiny",
        "output_dir": out,
        "data.root": root,
        "data.cache_dir": cache_dir,
        "data.max_images": 64,
        "data.image_size": 16,
        "data.num_workers": 0,
        "model.size": "tiny",
        "model.dit.patch_size": 4,
        "model.dit.depth": 2,
        "model.dit.hidden_size": 64,
        "model.dit.num_heads": 2,
        "train.batch_size": 8,
        "train.max_steps": 6,
        "train.warmup_steps": 2,
        "train.log_every": 1,
        "train.sample_every": 0,
        "train.ckpt_every": 3,
        "train.num_sample_images": 4,
        "sampler.steps": 3,
        "train.mixed_precision": "fp32",
        "train.lr": 1e-3,
    }
    values.update(extra)
    return [f"{k}={v}" for k, v in values.items()]


def losses(run_dir):
    return [json.loads(line)["loss"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_warmup_then_cosine():
    f = warmup_cosine(warmup=4, total=14, min_ratio=0.1, schedule="cosine")
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(9) == pytest.approx(0.55) and f(14) == pytest.approx(0.1) and f(100) == pytest.approx(0.1)
    assert warmup_cosine(0, 10, 0.0, "constant")(7) == 1.0


def test_batch_order_shards_an_epoch_without_overlap():
    ranks = [BatchOrder(20, 8, rank, 2, seed=3) for rank in range(2)]
    epoch = np.concatenate([r.indices(s) for s in range(2) for r in ranks])
    assert len(set(epoch.tolist())) == 16  # 2 steps x 8, no image twice within an epoch
    assert not np.array_equal(ranks[0].indices(2), BatchOrder(20, 8, 0, 2, seed=3).indices(0))  # new epoch order
    assert np.array_equal(ranks[0].indices(5), BatchOrder(20, 8, 0, 2, seed=3).indices(5))  # pure function of step
    with pytest.raises(ValueError, match="divisible by the 3 processes"):
        BatchOrder(20, 8, 0, 3, seed=0)


def test_train_resume_and_sample(celeba_root, cache_dir, tmp_path):
    base = tiny_overrides(celeba_root, tmp_path / "a", cache_dir)
    straight = train(load_config(None, base))
    run_a = tmp_path / "a" / "tiny"
    assert straight["step"] == 6 and len(losses(run_a)) == 6
    assert all(np.isfinite(losses(run_a)))

    # Stop after 3 steps (a checkpoint), then resume in a new trainer: the same losses and the same weights.
    cfg_b = load_config(None, tiny_overrides(celeba_root, tmp_path / "b", cache_dir))
    train(cfg_b, stop_at=3)
    run_b = tmp_path / "b" / "tiny"
    with (run_b / "metrics.jsonl").open("a") as handle:  # a crashed run may have logged past its checkpoint
        handle.write(json.dumps({"step": 4, "loss": 99.0}) + "\n")
    train(cfg_b, resume="auto")
    assert losses(run_b) == losses(run_a)
    a = FacePipeline.from_checkpoint(run_a, device="cpu")
    b = FacePipeline.from_checkpoint(run_b, device="cpu")
    for (name, pa), pb in zip(a.net.state_dict().items(), b.net.state_dict().values()):
        assert torch.equal(pa, pb), name

    # The run folder holds what the docs promise.
    for name in ("config.yaml", "metrics.jsonl", "train_summary.json", "logs", "checkpoints/latest"):
        assert (run_a / name).exists(), name
    images, trajectory = a.generate(num_samples=3, steps=4, sampler="heun", seed=1, return_trajectory=True)
    assert images.shape == (3, 3, 16, 16) and len(trajectory) == 5
    assert torch.equal(images, a.generate(num_samples=3, steps=4, sampler="heun", seed=1))  # seeded
    assert images.min() >= -1 and images.max() <= 1


def test_a_run_resumed_with_new_optimizer_settings_trains_with_them(celeba_root, cache_dir, tmp_path):
    train(load_config(None, tiny_overrides(celeba_root, tmp_path, cache_dir)), stop_at=3)
    changed = {"train.lr": 4e-4, "train.beta2": 0.95, "train.weight_decay": 0.01}
    trainer = Trainer(load_config(None, tiny_overrides(celeba_root, tmp_path, cache_dir, **changed)), resume="auto")
    try:
        group = trainer.optimizer.param_groups[0]
        expected = 4e-4 * warmup_cosine(2, 6, 0.0, "cosine")(3)  # this config's rate at step 3, not the saved 1e-3's
        assert group["lr"] == pytest.approx(expected) and trainer.scheduler.get_last_lr() == [group["lr"]]
        assert group["betas"] == (0.9, 0.95) and group["weight_decay"] == 0.01
        assert trainer.optimizer.state_dict()["state"]  # the moments are still the run's
        trainer.train(stop_at=4)
        assert trainer.scheduler.get_last_lr()[0] == pytest.approx(4e-4 * warmup_cosine(2, 6, 0.0, "cosine")(4))
    finally:
        trainer.close()


def test_sample_command_writes_grid_pngs_and_gif(celeba_root, cache_dir, tmp_path):
    from facegen.cli import main

    overrides = tiny_overrides(celeba_root, tmp_path, cache_dir, **{"train.max_steps": 2, "train.sample_every": 2})
    assert main(["train", *overrides]) == 0
    run = tmp_path / "tiny"
    assert (run / "samples" / "step_00000002.png").exists() and (run / "gifs" / "step_00000002.gif").exists()
    out = tmp_path / "out"
    assert (
        main(["sample", "--checkpoint", str(run), "--num-samples", "5", "--steps", "3", "--out", str(out), "--gif"])
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "0000.png",
        "0001.png",
        "0002.png",
        "0003.png",
        "0004.png",
        "grid.png",
        "trajectory.gif",
    ]


def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch):
    from facegen.cli import main

    monkeypatch.chdir(tmp_path)  # the default --out is relative: a user's own samples/ must not change the test
    assert main(["sample", "--checkpoint", str(tmp_path)]) == 2
    assert "no checkpoint found" in capsys.readouterr().err
    assert main(["train", "train.lr=-1"]) == 2
    assert "train.lr=-1.0: must be > 0" in capsys.readouterr().err


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_process_ddp_keeps_ranks_in_sync(celeba_root, cache_dir, tmp_path):
    """Attributes with the semantic encoder: the conditioning with the most parameters that must all get gradients
    (DDP's static graph, grad_accum=1), and the auxiliary loss."""
    extra = {"train.max_steps": 3, "conditioning.type": "attributes", "conditioning.semantic_dim": 8}
    overrides = tiny_overrides(celeba_root, tmp_path, cache_dir, **extra)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        str(free_port()),
        "-m",
        "facegen.cli",
        "train",
        *overrides,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "tiny" / "train_summary.json").read_text())
    assert summary["num_processes"] == 2 and summary["ranks_in_sync"] and summary["step"] == 3


def test_ema_copies_first_then_warms_up_then_holds_its_decay():
    from facegen.training.ema import EMA, ema_weight

    assert ema_weight(0.99, 0) == 1.0
    assert ema_weight(0.99, 1) == pytest.approx(1 - 2 / 11)  # decay (1 + 1) / (10 + 1)
    assert ema_weight(0.99, 10_000) == pytest.approx(0.01)  # capped at the configured decay
    model = torch.nn.Linear(2, 1)
    ema = EMA(model, 0.99)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.equal(ema.module.weight, model.weight) and ema.num_updates == 1
    with torch.no_grad():
        model.weight.fill_(3.0)
    ema.update(model)
    assert torch.allclose(ema.module.weight, torch.full_like(model.weight, 1 + 2 * (1 - 2 / 11)))
    assert not ema.module.weight.requires_grad


class Deterministic:
    """A loss without random draws (noise, times), so micro-batches see exactly what the whole batch sees."""

    def loss(self, net, images, cond=None, return_parts=False):
        loss = (net(images, torch.full((len(images),), 0.5), cond) - images).pow(2).mean()
        return (loss, {}) if return_parts else loss


def test_gradient_accumulation_gives_the_whole_batch_gradient(celeba_root, cache_dir, tmp_path):
    """batch 16 in one pass == batch 16 as 2 micro-batches of 8 (train.grad_accum=2), fp32 on the CPU."""
    from facegen.training.trainer import Trainer

    grads = []
    for accum in (1, 2):
        extra = {"train.batch_size": 16, "train.grad_accum": accum, "train.grad_clip": 0, "exp_name": f"a{accum}"}
        trainer = Trainer(load_config(None, tiny_overrides(celeba_root, tmp_path, cache_dir, **extra)))
        trainer.loss_fn = Deterministic().loss
        trainer._train_step()
        grads.append([p.grad.clone() for p in trainer.unwrapped.parameters()])
    for whole, accumulated in zip(*grads):
        torch.testing.assert_close(accumulated, whole, rtol=1e-5, atol=1e-7)


def test_grad_accum_must_divide_the_batch():
    from facegen.config import ConfigError

    with pytest.raises(ConfigError, match=r"train.grad_accum=3 must divide train.batch_size=16"):
        load_config(None, ["train.batch_size=16", "train.grad_accum=3"])
    with pytest.raises(ConfigError, match=r"train.grad_accum=0: must be >= 1"):
        load_config(None, ["train.grad_accum=0"])


def test_callbacks_run_every_n_steps_and_at_the_end(celeba_root, cache_dir, tmp_path):
    from facegen.training.trainer import Trainer

    class Counter:
        def __init__(self, every, at_end):
            self.every, self.at_end, self.steps = every, at_end, []

        def __call__(self, trainer):
            self.steps.append(trainer.step)

    counters = [Counter(2, True), Counter(4, True), Counter(4, False), Counter(0, True)]
    cfg = load_config(None, tiny_overrides(celeba_root, tmp_path, cache_dir, **{"train.max_steps": 5}))
    Trainer(cfg, callbacks=counters).train()
    assert [c.steps for c in counters] == [[2, 4, 5], [4, 5], [4], []]


def test_training_never_imports_the_pipeline():
    code = "import facegen.training.trainer, sys; assert 'facegen.pipeline' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_cuda_engine_choices_follow_the_device():
    from facegen.models import build_model
    from facegen.training.trainer import optimizer_options

    assert optimizer_options(torch.device("cuda")) == {"fused": True}
    assert optimizer_options(torch.device("cpu")) == {}  # the CPU path keeps the default (foreach) AdamW
    assert build_model("unet", image_size=16, size="tiny").channels_last
    assert not build_model("dit", image_size=16, size="tiny", patch_size=4).channels_last


def test_batch_order_lives_on_the_data_device():
    order = BatchOrder(20, 8, 0, 1, seed=3, device="cpu")
    indices = order.indices(0)
    assert isinstance(indices, torch.Tensor) and indices.device.type == "cpu"
    assert torch.equal(indices, indices.sort().values) and len(indices.unique()) == 8


def test_two_trainers_on_one_folder_never_run_at_once(tiny_run):
    cfg = tiny_run("shared", **{"train.max_steps": 1})
    first = Trainer(cfg)
    config = (cfg.run_dir / "config.yaml").read_bytes()
    with pytest.raises(LockedError, match=f"{cfg.run_dir} is in use by another training run"):
        Trainer(cfg, overwrite=True)  # would have deleted the first one's files
    assert (cfg.run_dir / "config.yaml").read_bytes() == config
    first.train()
    with pytest.raises(LockedError):
        Trainer(cfg, resume="auto")  # trained, not closed: still the first's
    first.close()
    second = Trainer(cfg, resume="auto")
    assert second.step == 1
    del second  # a Trainer dropped without close() lets the folder go too
    gc.collect()
    Trainer(cfg, overwrite=True).close()
