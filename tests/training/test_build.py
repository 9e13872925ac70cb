"""build_training: the parts of a run from one config, resolved before anything is built, and never written into."""

import dataclasses

import pytest
import torch
import yaml

from facegen.training.build import build_training
from facegen.training.trainer import Trainer, TrainState, make_accelerator


def test_the_text_width_is_resolved_into_a_new_config_not_written_into_the_given_one(tiny_run, tmp_path):
    cfg = tiny_run("text", **{"conditioning.type": "text", "conditioning.max_text_length": 8})
    assert cfg.conditioning.text_dim is None
    trainer = Trainer(cfg)
    try:
        assert cfg.conditioning.text_dim is None  # the caller's config is untouched
        assert trainer.cfg.conditioning.text_dim == 384  # MiniLM's width, known once its encoder is open
        saved = yaml.safe_load((tmp_path / "text" / "config.yaml").read_text())
        assert saved["conditioning"]["text_dim"] == 384
        assert trainer.unwrapped.cond_embedder.text_dim == 384
    finally:
        trainer.close()


def test_build_training_returns_the_parts_without_touching_the_run_folder(tiny_run, tmp_path):
    cfg = tiny_run("parts")
    accelerator, _, _ = make_accelerator(cfg.train)
    parts = build_training(cfg, accelerator)
    assert not (tmp_path / "parts").exists()  # claiming, locking and logging are the Trainer's
    assert parts.unwrapped is accelerator.unwrap_model(parts.model)
    first, again = parts.plan(3), parts.plan(3)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])  # a pure function of the step
    assert len(first[0]) == cfg.train.batch_size
    assert parts.scheduler.get_last_lr()[0] == pytest.approx(cfg.train.lr / cfg.train.warmup_steps)


def test_callbacks_see_a_frozen_state_of_the_step(tiny_run):
    seen = []

    class Record:
        every, at_end = 2, False

        def __call__(self, state):
            seen.append(state)

    trainer = Trainer(tiny_run("state", **{"train.max_steps": 4}), callbacks=[Record()])
    try:
        trainer.train()
    finally:
        trainer.close()
    assert [s.step for s in seen] == [2, 4] and all(isinstance(s, TrainState) for s in seen)
    with pytest.raises(dataclasses.FrozenInstanceError):
        seen[0].step = 7
    assert seen[-1].ema is trainer.ema.module and not seen[-1].ema.training
    assert seen[-1].first_conditions(3).attributes.shape == (3, 40)
