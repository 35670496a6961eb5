"""Pace the bot's own messages (digest parts, settled edits, threads, follow DMs) under Discord's global limit.

Discord allows a bot token 50 requests per second across everything it does, and answers a burst over that with
global 429s; a few thousand of them in ten minutes get the bot's IP banned. At 09:00 every subscription's digest
falls due at once. Measured through the fake Discord at Discord's limits (`bench/fanout.py`, docs/scaling.md):
firing them all unpaced lost posts and held slash-command answers for tens of seconds; a cap on requests in
flight alone still drew thousands of 429s; pacing *at* 45–50 per second drew 1,700–2,500 (a late-waking loop
bunches sends into one window and discord.py's own retries overflow the next); **40 messages per second with at
most 50 in flight** was clean and left 10 requests/s for slash commands.

The budget belongs to the token, not the process: N processes that split the shards split it too (each gets
its share of the shards' share of 40/s), so the bot as a whole stays at 40/s whatever the layout.

`MessagePacer.turn()` hands out start times one after another, 1/rate apart (a reservation, so waiters keep
their order and a late-waking loop never sends two at once to catch up), and holds an in-flight slot until
the request returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

__all__ = ["MESSAGES_IN_FLIGHT", "MESSAGES_PER_SECOND", "MessagePacer", "paced"]

MESSAGES_PER_SECOND = 40.0  # per bot token, all processes together (see the module docstring)
MESSAGES_IN_FLIGHT = 50  # per process: only matters when Discord answers slowly

T = TypeVar("T")


class MessagePacer:
    """Start at most `rate()` messages per second, at most `in_flight` at once, in the order they asked."""

    def __init__(
        self,
        rate: Callable[[], float] = lambda: MESSAGES_PER_SECOND,
        *,
        in_flight: int = MESSAGES_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self._rate = rate
        self._slots = asyncio.Semaphore(in_flight)
        self._clock = clock
        self._sleep = sleep
        self._next_start = float("-inf")

    def _reserve(self) -> float:
        """The next free start time (now, or 1/rate after the previous one), taken."""
        rate = self._rate()
        start = max(self._clock(), self._next_start)
        self._next_start = start + 1.0 / rate if rate > 0 else start
        return start

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for this message's turn, then hold an in-flight slot while the body sends it."""
        async with self._slots:
            delay = self._reserve() - self._clock()
            if delay > 0:
                await self._sleep(delay)
            yield


async def paced(pacer: MessagePacer | None, action: Callable[[], Awaitable[T]]) -> T:
    """Run `action` in its turn on `pacer`; at once without one (a sink built unpaced, to measure alternatives)."""
    if pacer is None:
        return await action()
    async with pacer.turn():
        return await action()
