"""Follow test helpers: a recording DM sink that fails like Discord does, a started service on a hand-moved clock,
and two catalogues on one store (two processes). The `catalogue` fixture is the shared one (tests/stores.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.config import FollowsSettings, Settings
from bot.digest.schedule import Scheduler
from bot.follows.service import FollowService
from bot.follows.sink import DmError, FollowDM
from bot.models import DailyEntry, Paper
from tests.digest.conftest import Clock, Crash
from tests.stores import BACKENDS, catalogue_target

UTC = dt.UTC
DM_TIME = dt.time(8, 0)


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=UTC)


@dataclass
class Attempt:
    dm: FollowDM
    at: dt.datetime
    delivered: bool


@dataclass
class RecordingSink:
    """A FollowSink that records DMs and can fail like Discord: closed DMs (50007), 503s, or the process dying
    right before or right after a DM went out."""

    clock: Clock
    attempts: list[Attempt] = field(default_factory=list)
    closed: set[int] = field(default_factory=set)  # members whose DMs are closed
    transient: dict[int, int] = field(default_factory=dict)  # member -> how many more sends answer 503
    broken: dict[int, int] = field(default_factory=dict)  # member -> how many more sends hit a bug (not DmError)
    crash_before_send: bool = False
    crash_after_send: bool = False
    hold: asyncio.Event | None = None  # when set up: the first send waits for it (a send in flight)
    holding: asyncio.Event = field(default_factory=asyncio.Event)  # set while that first send waits

    async def send_dm(self, dm: FollowDM) -> None:
        assert dm.papers, "a DM is never empty"
        if self.hold is not None and not self.holding.is_set():
            self.holding.set()
            await self.hold.wait()
        if self.crash_before_send:
            raise Crash
        if dm.user_id in self.closed:
            self.attempts.append(Attempt(dm, self.clock(), False))
            raise DmError("Discord refused: the member does not accept DMs (50007)", dms_closed=True, status=403)
        if self.broken.get(dm.user_id, 0) > 0:
            self.broken[dm.user_id] -= 1
            self.attempts.append(Attempt(dm, self.clock(), False))
            raise RuntimeError("a bug in the sink")
        if self.transient.get(dm.user_id, 0) > 0:
            self.transient[dm.user_id] -= 1
            self.attempts.append(Attempt(dm, self.clock(), False))
            raise DmError("Discord answered 503", status=503)
        self.attempts.append(Attempt(dm, self.clock(), True))
        if self.crash_after_send:
            raise Crash

    async def delivered(self, dm: FollowDM) -> bool:
        return any(a.delivered and (a.dm.user_id, a.dm.dm_date) == (dm.user_id, dm.dm_date) for a in self.attempts)

    def dms(self, user_id: int) -> list[FollowDM]:
        """The DMs that reached `user_id`, in order."""
        return [a.dm for a in self.attempts if a.delivered and a.dm.user_id == user_id]

    def tries(self, user_id: int) -> list[Attempt]:
        return [a for a in self.attempts if a.dm.user_id == user_id]


def make_settings(time: dt.time = DM_TIME) -> Settings:
    return Settings(follows=FollowsSettings(time=time))


def paper(n: int, title: str, *, authors: tuple[str, ...] = ("Ann Lee",), upvotes: int = 10) -> Paper:
    return Paper(id=f"2611.{n:05d}", title=title, abstract="An abstract.", authors=authors, upvotes=upvotes)


async def list_papers(catalogue: Catalogue, day: dt.date, papers: Iterable[Paper], *, at: dt.datetime) -> None:
    """Record papers on a day's list as a fetch at `at` would (the list grows; earlier papers stay)."""
    known = await catalogue.day_papers(day)
    listed = {p.id: p for p in [*known, *papers]}
    entries = [DailyEntry(day=day, paper=p, upvotes=p.upvotes or 0) for p in listed.values()]
    await catalogue.record_day(day, entries, fetched_at=at)


@asynccontextmanager
async def running(
    catalogue: Catalogue, sink: RecordingSink, clock: Clock, settings: Settings | None = None, **kw: Any
) -> AsyncIterator[FollowService]:
    """A started service with its scheduler, the start-up run finished; leaving the block is the process stopping."""
    scheduler = Scheduler(now=clock)
    service = FollowService(catalogue, sink, scheduler, settings or make_settings(), **kw)
    scheduler.start()
    try:
        await service.start()
        await scheduler.wakeup()
        assert service.ready.is_set()
        yield service
    finally:
        scheduler.shutdown()


async def step_to(clock: Clock, scheduler: Scheduler, until: dt.datetime) -> None:
    """Move the clock job by job up to `until`, waking the scheduler at every run time (no sleeps)."""
    while True:
        upcoming = [t for j in scheduler.job_ids() if (t := scheduler.next_run(j)) is not None and t <= until]
        if not upcoming:
            break
        clock.set(min(upcoming))
        await scheduler.wakeup()
    clock.set(until)
    await scheduler.wakeup()


@pytest.fixture(params=BACKENDS)
async def two_catalogues(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Catalogue, Catalogue]]:
    """One store opened twice, as two bot processes would."""
    target = await catalogue_target(request.param, tmp_path, request)
    first = await open_catalogue(target)
    second = await open_catalogue(target)
    try:
        yield first, second
    finally:
        await second.close()
        await first.close()


__all__ = ["Crash", "at"]
