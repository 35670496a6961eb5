"""Shards: how fast a process may IDENTIFY its shards, and how it reports each shard's state.

Discord lets a bot start `max_concurrency` sessions per 5 seconds, one per rate-limit bucket
(`shard_id % max_concurrency`), and tells it the number in `GET /gateway/bot`'s `session_start_limit`.
discord.py's default `before_identify_hook` ignores that and sleeps 5 s before every IDENTIFY but the very
first — 4 shards take 15 s to come up even when Discord would take them at once, and a shard that lost its
session waits 5 s even when nothing else identified for minutes. `IdentifyPacer` waits only as long as the
shard's bucket needs: the first IDENTIFY of each bucket goes at once, the next one 5 s after the previous
one of the same bucket. It paces the shards of this process; shard processes that share a bucket and start
at the same moment are told to retry by Discord (INVALID_SESSION), which discord.py does by itself.

`ShardReport` turns discord.py's shard events into one log line each and the `paperbot_shard_up` gauge, so an
operator sees which shards a process runs and when each became ready, resumed, or lost its connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import discord

from bot import metrics

__all__ = [
    "IDENTIFY_WINDOW_S",
    "IdentifyPacer",
    "ShardReport",
    "ShardsOutOfRange",
    "check_shard_ids",
    "describe_shards",
]

log = logging.getLogger(__name__)

IDENTIFY_WINDOW_S = 5.0  # Discord: max_concurrency IDENTIFYs per 5 seconds, one per bucket


class IdentifyPacer:
    """Waits before an IDENTIFY only as long as the shard's rate-limit bucket requires.

    `max_concurrency` is read once, on the first IDENTIFY, through `read_max_concurrency` (the gateway's
    session start limit); when that read fails the pacer assumes 1 bucket — Discord's value for all but very
    large bots — rather than failing to connect. `clock` and `sleep` are injectable for tests.
    """

    def __init__(
        self,
        read_max_concurrency: Callable[[], Awaitable[int]],
        *,
        window_s: float = IDENTIFY_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._read_max_concurrency = read_max_concurrency
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self.max_concurrency: int | None = None
        self._reading = asyncio.Lock()
        self._buckets: dict[int, asyncio.Lock] = {}
        self._last: dict[int, float] = {}
        #: (shard id, seconds waited) of every IDENTIFY let through, oldest first (for the log and for tests)
        self.identified: list[tuple[int | None, float]] = []

    async def _concurrency(self) -> int:
        async with self._reading:
            if self.max_concurrency is None:
                try:
                    self.max_concurrency = max(1, int(await self._read_max_concurrency()))
                except Exception as exc:  # a start must not fail over a pacing hint: pace as Discord's default
                    log.warning("Could not read the gateway's session start limit (%s); identifying 1 per 5 s", exc)
                    self.max_concurrency = 1
            return self.max_concurrency

    async def wait(self, shard_id: int | None) -> None:
        """Return when `shard_id` may IDENTIFY, and count that IDENTIFY against its bucket."""
        bucket = (shard_id or 0) % await self._concurrency()
        lock = self._buckets.setdefault(bucket, asyncio.Lock())
        async with lock:
            last = self._last.get(bucket)
            delay = 0.0 if last is None else max(0.0, last + self.window_s - self._clock())
            if delay > 0:
                log.info(
                    "Shard %s waits %.1f s to identify (Discord allows one per 5 s in its bucket)", shard_id, delay
                )
                await self._sleep(delay)
            self._last[bucket] = self._clock()
            self.identified.append((shard_id, delay))


class ShardsOutOfRange(discord.ClientException):
    """Shard ids were configured without `shard_count`, and Discord's recommended count is too small for them."""


def check_shard_ids(shard_ids: Sequence[int], shard_count: int) -> list[int]:
    """`shard_ids` sorted, when each is below `shard_count`; else ShardsOutOfRange saying what to set."""
    outside = sorted(shard for shard in shard_ids if not 0 <= shard < shard_count)
    if outside:
        raise ShardsOutOfRange(
            f"shard id(s) {', '.join(map(str, outside))} are not below Discord's recommended shard count "
            f"({shard_count}); set [discord] shard_count (or --shard-count) to the total over all processes"
        )
    return sorted(shard_ids)


def describe_shards(shard_ids: Sequence[int], shard_count: int) -> str:
    """ "shards 0, 1 of 4" (or "shard 2 of 4"): how the log names what a process runs."""
    ids = ", ".join(str(shard) for shard in sorted(shard_ids))
    return f"shard{'s' if len(shard_ids) != 1 else ''} {ids} of {shard_count}"


class ShardReport:
    """One log line and the `paperbot_shard_up` gauge for each shard event of this process."""

    def __init__(self, guilds_of: Callable[[int], int]) -> None:
        #: how many guilds a shard holds now (read from the client's cache when the shard is ready)
        self._guilds_of = guilds_of

    def launching(self, shard_ids: Sequence[int], shard_count: int) -> None:
        """This process is about to connect `shard_ids`; the gauge shows them down until each is ready."""
        for shard in shard_ids:
            metrics.set_shard_up(shard, False)
        log.info("Running %s", describe_shards(shard_ids, shard_count))

    def ready(self, shard_id: int) -> None:
        metrics.set_shard_up(shard_id, True)
        log.info("Shard %d ready: %d guild(s)", shard_id, self._guilds_of(shard_id))

    def resumed(self, shard_id: int) -> None:
        metrics.set_shard_up(shard_id, True)
        log.info("Shard %d resumed its session", shard_id)

    def lost(self, shard_id: int) -> None:
        metrics.set_shard_up(shard_id, False)
        log.warning("Shard %d lost its gateway connection; reconnecting", shard_id)

    def closed(self, shard_ids: Sequence[int]) -> None:
        """The process is shutting down: its shards are no longer served by it."""
        for shard in shard_ids:
            metrics.set_shard_up(shard, False)
