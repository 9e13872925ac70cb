"""Batches for the next steps, gathered and copied to the device on a background thread while this step trains.

For a cache that does not fit on the accelerator (``CachedArrays.to`` said no): each step would otherwise read the
memory map and block on a host-to-device copy. Here a thread runs ``cache.batch(*plan(step))`` ahead, pins the rows
(CUDA only) and starts their copy with ``non_blocking=True`` on a side stream; ``get(step)`` makes the consumer's
stream wait for that copy's event instead of blocking the host. On the CPU it is the same thread with no copy.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

import torch

Plan = Callable[[int], tuple[Any, torch.Tensor | None]]  # step -> (indices, flip)


class _Pipeline:
    """One thread preparing steps ``start, start + 1, ...`` into its own bounded queue, until told to stop.

    A restart makes a new pipeline rather than reusing this queue, so a batch of the old run can never be mistaken
    for one of the new."""

    def __init__(self, prepare: Callable[[int], Any], start: int, depth: int) -> None:
        self.next = start  # the step the consumer takes next
        self.items: queue.Queue = queue.Queue(maxsize=depth)  # bounds how far ahead (and how much memory) it runs
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(prepare, start), name="facegen-prefetch", daemon=True)
        self.thread.start()

    def _run(self, prepare: Callable[[int], Any], step: int) -> None:
        while not self.stop.is_set():
            try:
                item = prepare(step)
            except BaseException as error:  # handed to the consumer, which raises it at this step
                self.items.put((step, error))
                return
            self.items.put((step, item))
            step += 1

    def take(self) -> Any:
        step, item = self.items.get()
        if isinstance(item, BaseException):
            raise item  # the worker's own exception: type, message and its traceback
        assert step == self.next, (step, self.next)
        self.next += 1
        return item

    def close(self) -> None:
        self.stop.set()
        # Empty the queue so a put blocked on a full queue returns; the thread then sees ``stop``. It puts at most
        # the one batch it was preparing, and the queue has room for it, so the join waits at most one batch.
        while True:
            try:
                self.items.get_nowait()
            except queue.Empty:
                break
        self.thread.join()


class Prefetcher:
    """``get(step)`` is ``cache.batch(*plan(step))`` with its tensors on ``device``, prepared up to ``depth`` steps
    ahead on a background thread.

    ``plan(step) -> (indices, flip)`` must be a pure function of the step (it runs on the thread, ahead of time:
    draw the flips from a generator seeded by the step, not the global RNG). Any step may be asked for; one other
    than the next restarts the pipeline there (a resume, a skipped step). Non-tensor values pass through unchanged.
    An exception in ``plan`` or ``batch`` is raised by the ``get`` of that step. Call ``get`` from one thread only,
    and ``close()`` (or use ``with``) to stop the thread; a ``get`` after it starts one again.
    """

    def __init__(self, cache: Any, plan: Plan, device: torch.device | str, depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.cache, self.plan, self.depth = cache, plan, depth
        self.device = torch.device(device)
        self.stream = None
        if self.device.type == "cuda" and torch.cuda.is_available():
            if self.device.index is None:  # the thread has its own current device: pin the one meant now
                self.device = torch.device("cuda", torch.cuda.current_device())
            self.stream = torch.cuda.Stream(self.device)  # copies here overlap the training kernels
        self._pipeline: _Pipeline | None = None

    def get(self, step: int) -> dict[str, Any]:
        if self._pipeline is None or self._pipeline.next != step:
            self._restart(step)
        try:
            batch, ready = self._pipeline.take()
        except BaseException:
            self._restart(None)  # the thread has ended; the next get starts a new one
            raise
        if ready is not None:
            consumer = torch.cuda.current_stream(self.device)
            consumer.wait_event(ready)  # the GPU waits for the copy, the host does not
            for value in batch.values():
                if isinstance(value, torch.Tensor) and value.device.type == "cuda":
                    # allocated on the side stream: keep the allocator from reusing it while this stream reads it
                    value.record_stream(consumer)
        return batch

    def _restart(self, step: int | None) -> None:
        # The old thread is joined before a new one starts: ``plan`` (e.g. ``BatchOrder.indices``, which caches the
        # epoch's permutation) never runs on two threads at once.
        if self._pipeline is not None:
            self._pipeline.close()
        self._pipeline = None if step is None else _Pipeline(self._prepare, step, self.depth)

    def _prepare(self, step: int) -> tuple[dict[str, Any], torch.cuda.Event | None]:
        """On the thread: gather the step's rows and start their copy; the event marks when the copy is done."""
        batch = self.cache.batch(*self.plan(step))
        if self.stream is None:
            return {name: _move(value, self.device) for name, value in batch.items()}, None
        with torch.cuda.stream(self.stream):
            # pinned pages copy asynchronously; the pinned buffer is kept until its copy ends by PyTorch's
            # host allocator, which records the copy's stream when the buffer is freed here
            moved = {name: _move(_pinned(value), self.device, non_blocking=True) for name, value in batch.items()}
            ready = torch.cuda.Event()
            ready.record(self.stream)
        return moved, ready

    def close(self) -> None:
        """Stop the thread (after the batch it is preparing, if any); idempotent. A later ``get`` starts a new one
        (a trainer closes it when a ``train`` call ends and may train again)."""
        self._restart(None)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _pinned(value: Any) -> Any:
    return value.pin_memory() if isinstance(value, torch.Tensor) and value.device.type == "cpu" else value


def _move(value: Any, device: torch.device, non_blocking: bool = False) -> Any:
    return value.to(device, non_blocking=non_blocking) if isinstance(value, torch.Tensor) else value
