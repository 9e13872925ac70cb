"""A cache too big for the accelerator is prefetched on a thread (facegen.data.prefetch); training from it must be
the same run as training from the cache directly. Forced on the CPU here, where the trainer reads synchronously."""

import json

import pytest
import torch

from facegen.data.prefetch import Prefetcher
from facegen.training.trainer import Trainer


def test_prefetched_batches_train_the_same_run_and_the_thread_ends(tiny_run, tmp_path):
    runs = {}
    for prefetched in (False, True):
        cfg = tiny_run(f"p{prefetched}", **{"train.max_steps": 5})
        trainer = Trainer(cfg)
        assert trainer.prefetcher is None  # the CPU reads its memory map in step
        if prefetched:
            trainer.prefetcher = Prefetcher(trainer.data, trainer.plan, "cpu")
        trainer.train(stop_at=2)
        trainer.train()  # a second call: the prefetcher closed at the end of the first starts again at step 2
        lines = (tmp_path / f"p{prefetched}" / "metrics.jsonl").read_text().splitlines()
        runs[prefetched] = [json.loads(line)["loss"] for line in lines]
        if prefetched:
            assert trainer.prefetcher._pipeline is None  # closed when training ended
    assert len(runs[True]) == 5 and runs[True] == pytest.approx(runs[False], rel=1e-6)


def test_flips_are_a_pure_function_of_the_step(tiny_run):
    cfg = tiny_run("flips", **{"data.max_images": 64, "train.batch_size": 32})
    trainer = Trainer(cfg)
    first = [trainer.plan(step) for step in (3, 0, 5)]
    torch.manual_seed(123)  # the global RNG does not reach them
    again = [trainer.plan(step) for step in (3, 0, 5)]
    for (i, f), (j, g) in zip(first, again):
        assert torch.equal(i, j) and torch.equal(f, g)
    flips = torch.stack([f for _, f in first]).float()
    assert 0.3 < flips.mean() < 0.7 and not torch.equal(first[0][1], first[1][1])


def test_flips_do_not_depend_on_where_the_cache_lives(tiny_run):
    """A resume may find the cache on another device (free memory decides): the flips must not change with it."""
    trainer = Trainer(tiny_run("where", **{"data.max_images": 64, "train.batch_size": 32}))
    on_cpu = trainer.plan(4)[1]
    trainer.order.device = torch.device("meta")  # as if the cache lived elsewhere: indices there, flips moved there
    trainer.order._epoch = -1
    moved = trainer.plan(4)[1]
    assert moved.device.type == "meta" and moved.shape == on_cpu.shape
