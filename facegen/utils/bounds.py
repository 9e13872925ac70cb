"""Allowed numeric ranges of config keys (torch-free: config and the backbone / objective specs share it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bound:
    """An allowed numeric range; the error message prints it."""

    low: float | None = None
    high: float | None = None
    high_open: bool = False  # high itself is not allowed
    low_open: bool = False

    def admits(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def __str__(self) -> str:
        low, high = (int(x) if x is not None and x == int(x) else x for x in (self.low, self.high))
        if high is None:
            return f"{'>' if self.low_open else '>='} {low}"
        return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


POSITIVE, NON_NEGATIVE, PROBABILITY = Bound(1), Bound(0), Bound(0, 1, high_open=True)
