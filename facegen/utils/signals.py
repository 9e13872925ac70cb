"""SIGTERM and SIGHUP (a scheduler's stop, a closed terminal) end a command the way Ctrl-C does: as a
``KeyboardInterrupt`` raised in the main thread, so every cleanup and checkpoint save that Ctrl-C runs also runs,
and the process exits with 128 + the signal's number."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """A stop by signal ``signum``, handled like Ctrl-C."""

    def __init__(self, message: str = "", signum: int = signal.SIGTERM) -> None:
        super().__init__(message)
        self.signum = signum


def exit_code(err: KeyboardInterrupt) -> int:
    """128 + the signal that stopped the command: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP."""
    return 128 + int(getattr(err, "signum", signal.SIGINT))


def reworded(err: KeyboardInterrupt, message: str) -> KeyboardInterrupt:
    """The same interruption (its signal kept for the exit code) with a message saying what was saved."""
    err.args = (message,)
    return err


def _raise(signum: int, frame) -> None:
    raise Terminated(signum=signum)


@contextmanager
def stop_signals_as_interrupts() -> Iterator[None]:
    """For the block, SIGTERM and SIGHUP raise ``Terminated`` (only the main thread can take signal handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise) for signum in HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
