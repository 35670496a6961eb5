"""Snowflake ids that decode to the current time, as Discord's do.

discord.py derives message creation times from ids (``utils.snowflake_time``) and uses them, e.g. to choose
the delete-message rate-limit bucket, so the fake's ids must be real time-based snowflakes, strictly increasing.
"""

from __future__ import annotations

import itertools
import time

__all__ = ["DISCORD_EPOCH_MS", "SnowflakeFactory", "snowflake_time_ms"]

DISCORD_EPOCH_MS = 1420070400000


def snowflake_time_ms(snowflake: int) -> int:
    return (snowflake >> 22) + DISCORD_EPOCH_MS


class SnowflakeFactory:
    """Generates strictly increasing snowflakes from wall-clock milliseconds plus a counter."""

    def __init__(self, worker: int = 1) -> None:
        self._worker = worker & 0x1F
        self._counter = itertools.count()
        self._last = 0

    def __call__(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (self._worker << 17) | (next(self._counter) & 0xFFF)
        if value <= self._last:
            value = self._last + 1
        self._last = value
        return value
