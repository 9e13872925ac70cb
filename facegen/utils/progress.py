"""One progress bar over every sampler step of every batch: whoever knows the total opens it, samplers advance it.

The sampler loops sit several calls below the pipeline and know nothing of batches, so the bar travels in a context
variable instead of through every objective's and sampler's signature; with no bar open, ``advance`` does nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from tqdm.auto import tqdm

_BAR: ContextVar[tqdm | None] = ContextVar("facegen_step_bar", default=None)


@contextmanager
def step_bar(total: int, desc: str, enabled: bool = True) -> Iterator[tqdm]:
    """A bar of ``total`` sampler steps that ``advance`` moves while the block runs."""
    with tqdm(total=total, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True) as bar:
        token = _BAR.set(bar)
        try:
            yield bar
        finally:
            _BAR.reset(token)


def advance(steps: int = 1) -> None:
    """Count ``steps`` sampler steps done on the open bar, if any."""
    bar = _BAR.get()
    if bar is not None:
        bar.update(steps)
