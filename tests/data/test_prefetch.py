"""The prefetcher gives exactly the synchronous batches, from any step, and never leaves a thread behind."""

import threading
import time

import numpy as np
import pytest
import torch

from facegen.data import ImageCache, Prefetcher

pytestmark = pytest.mark.timeout(60)  # a hang in the pipeline fails the test instead of the whole run

N, BATCH = 32, 4


def tiny_cache() -> ImageCache:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (N, 3, 4, 4), dtype=np.uint8)
    attributes = rng.choice(np.array([-1, 1], dtype=np.int8), (N, 40))
    return ImageCache(None, pixels, attributes, np.arange(N, dtype=np.int64) % 5, [], {})


def plan(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A pure function of the step, as the trainer's: rows from a seeded draw, flips from a per-step generator."""
    indices = torch.from_numpy(np.sort(np.random.default_rng([7, step]).choice(N, BATCH, replace=False)))
    return indices, torch.rand(BATCH, generator=torch.Generator().manual_seed(step)) < 0.5


def expected(cache, step: int) -> dict:
    return cache.batch(*plan(step))


def assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for name in want:
        assert torch.equal(got[name], want[name]), name


def prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "facegen-prefetch"]


def test_same_batches_as_the_synchronous_path_in_order():
    cache = tiny_cache()
    with Prefetcher(cache, plan, "cpu") as prefetcher:
        for step in range(12):
            assert_same(prefetcher.get(step), expected(cache, step))
    assert not prefetch_threads()


def test_starts_mid_run_and_restarts_on_an_out_of_order_step():
    cache = tiny_cache()
    with Prefetcher(cache, plan, "cpu", depth=3) as prefetcher:
        for step in [40, 41, 42, 7, 8, 100, 3, 3, 4]:  # resume, going back, skipping ahead, repeating a step
            assert_same(prefetcher.get(step), expected(cache, step))
        assert len(prefetch_threads()) == 1  # each restart joined the thread it replaced


def test_non_tensor_values_pass_through():
    class Captioned:
        def batch(self, indices, flip):
            return {"image": indices.float(), "caption": [f"face {int(i)}" for i in indices], "flip": flip}

    with Prefetcher(Captioned(), plan, "cpu") as prefetcher:
        got = prefetcher.get(5)
    indices, flip = plan(5)
    assert got["caption"] == [f"face {int(i)}" for i in indices]
    assert torch.equal(got["flip"], flip) and torch.equal(got["image"], indices.float())


def test_an_error_on_the_thread_is_raised_by_that_step_then_the_pipeline_recovers():
    cache = tiny_cache()

    def failing(step):
        if step == 5:
            raise ValueError("row 17 is unreadable")
        return plan(step)

    with Prefetcher(cache, failing, "cpu") as prefetcher:
        for step in range(3, 5):  # the steps before the failing one arrive intact
            assert_same(prefetcher.get(step), expected(cache, step))
        with pytest.raises(ValueError, match="row 17 is unreadable"):
            prefetcher.get(5)
        assert not prefetch_threads()  # the failed thread ended; nothing waits on it
        assert_same(prefetcher.get(6), expected(cache, 6))
    assert not prefetch_threads()


class SlowCache:
    """``batch`` takes ``seconds`` (a memory map paging in, a big gather), without holding the GIL."""

    def __init__(self, seconds: float) -> None:
        self.cache, self.seconds = tiny_cache(), seconds

    def batch(self, indices, flip):
        time.sleep(self.seconds)
        return self.cache.batch(indices, flip)


def test_close_stops_the_thread_promptly_and_a_later_get_starts_again():
    before = threading.active_count()
    prefetcher = Prefetcher(SlowCache(0.2), plan, "cpu", depth=2)
    prefetcher.get(0)
    time.sleep(0.7)  # the queue is full and the thread is blocked on it
    start = time.perf_counter()
    prefetcher.close()
    assert time.perf_counter() - start < 2.0  # at most the one batch in preparation, never a hang
    assert threading.active_count() == before and not prefetch_threads()
    prefetcher.close()  # idempotent
    assert torch.equal(prefetcher.get(1)["image"], SlowCache(0).batch(*plan(1))["image"])
    prefetcher.close()
    assert threading.active_count() == before


def test_gathering_overlaps_the_consumers_compute():
    """Gather and compute each 50 ms a step: in turn that is 100 ms a step, overlapped about 50 ms."""
    steps, seconds = 10, 0.05
    cache = SlowCache(seconds)
    start = time.perf_counter()
    for step in range(steps):
        cache.batch(*plan(step))
        time.sleep(seconds)  # the training step
    in_turn = time.perf_counter() - start
    start = time.perf_counter()
    with Prefetcher(cache, plan, "cpu") as prefetcher:
        for step in range(steps):
            prefetcher.get(step)
            time.sleep(seconds)
    overlapped = time.perf_counter() - start
    print(f"\n{steps} steps: in turn {in_turn:.3f} s, prefetched {overlapped:.3f} s")
    assert overlapped < 0.8 * in_turn  # ideal 0.55; the margin absorbs a busy machine


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batches_equal_the_synchronous_copy():
    cache = tiny_cache()
    with Prefetcher(cache, plan, "cuda") as prefetcher:
        for step in [0, 1, 2, 9, 10]:
            got = prefetcher.get(step)
            assert all(value.is_cuda for value in got.values())
            want = {name: value.cuda() for name, value in expected(cache, step).items()}
            assert_same(got, want)
    assert not prefetch_threads()
