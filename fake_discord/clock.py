"""Clocks for the fake: the interaction deadline is measured on an injectable monotonic clock.

Discord refuses an initial interaction response more than 3 s after the interaction was created (10062).
Tests of that rule must not wait 3 real seconds, so the fake reads time through a callable and tests may pass
a :class:`ManualClock` and ``advance()`` it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Clock", "ManualClock", "monotonic"]

Clock = Callable[[], float]
monotonic: Clock = time.monotonic


class ManualClock:
    """A monotonic clock that only moves when told to (``clock.advance(3.5)``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        self._now += seconds
