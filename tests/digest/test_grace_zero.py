"""`grace_hours = 0` through the real DigestService and scheduler: on time or not at all, never "never".

A grace of zero is a valid setting ("post at 09:00, and if the bot was down then, skip the day"). It used to
make the owed window empty (deadline == instant), so not one digest was ever posted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.config import Settings
from bot.digest.schedule import Scheduler
from bot.digest.service import DigestService
from tests.digest.conftest import Clock, RecordingSink, entries, make_paper, make_settings

UTC = dt.UTC
BERLIN = 111
POST_TIME_UTC = dt.datetime(2026, 11, 26, 8, tzinfo=UTC)  # 09:00 in Berlin (CET)


def _settings(**digest: Any) -> Settings:
    return make_settings([{"channel_id": BERLIN, "time": dt.time(9), "timezone": "Europe/Berlin"}], **digest)


async def _fill(catalogue: Any, first: dt.date, days: int) -> None:
    for i in range(days):
        day = first + dt.timedelta(days=i)
        await catalogue.record_day(day, entries(day, [make_paper(i * 100 + n) for n in range(1, 4)]))


@asynccontextmanager
async def _running(
    catalogue: Any, sink: RecordingSink, clock: Clock, settings: Settings
) -> AsyncIterator[DigestService]:
    """A started service + scheduler; leaving the block is the process stopping."""
    scheduler = Scheduler(now=clock)
    service = DigestService(catalogue, sink, scheduler, settings)
    scheduler.start()
    try:
        await service.start()
        yield service
    finally:
        scheduler.shutdown()


async def _fire_next(clock: Clock, scheduler: Scheduler, *, late: dt.timedelta = dt.timedelta()) -> dt.datetime:
    """Move the clock to the next run of the digest job (plus `late`, how late the scheduler wakes) and run it."""
    when = scheduler.next_run(f"digest:{BERLIN}")
    assert when is not None
    clock.set(when + late)
    await scheduler.wakeup()
    return when


@pytest.mark.parametrize("late", [dt.timedelta(), dt.timedelta(milliseconds=4), dt.timedelta(seconds=20)])
async def test_grace_zero_posts_at_the_post_time(catalogue: Any, late: dt.timedelta) -> None:
    await _fill(catalogue, dt.date(2026, 11, 23), 4)
    clock = Clock(POST_TIME_UTC - dt.timedelta(days=1, hours=1))
    sink = RecordingSink(clock)
    async with _running(catalogue, sink, clock, _settings(grace_hours=0)) as service:
        assert await _fire_next(clock, service.scheduler, late=late) == POST_TIME_UTC - dt.timedelta(days=1)
        assert await _fire_next(clock, service.scheduler, late=late) == POST_TIME_UTC
        # The catch-up job runs every 10 minutes; the day's post is made, so it adds nothing.
        clock.set(POST_TIME_UTC + dt.timedelta(minutes=10))
        await service.scheduler.wakeup()
    assert [post[0].at for post in sink.posts(BERLIN)] == [
        POST_TIME_UTC - dt.timedelta(days=1) + late,
        POST_TIME_UTC + late,
    ]
    assert all(len(post) == 1 for post in sink.posts(BERLIN))
    assert (await catalogue.digests.post(BERLIN, dt.date(2026, 11, 26))).state == "posted"


async def test_a_per_channel_grace_of_zero_posts_too(catalogue: Any) -> None:
    await _fill(catalogue, dt.date(2026, 11, 23), 4)
    settings = make_settings(
        [{"channel_id": BERLIN, "time": dt.time(9), "timezone": "Europe/Berlin", "grace_hours": 0}], grace_hours=6
    )
    clock = Clock(POST_TIME_UTC - dt.timedelta(hours=1))
    sink = RecordingSink(clock)
    async with _running(catalogue, sink, clock, settings) as service:
        await _fire_next(clock, service.scheduler, late=dt.timedelta(milliseconds=3))
    assert len(sink.posts(BERLIN)) == 1


async def test_grace_zero_down_at_the_post_time_makes_no_late_post(catalogue: Any) -> None:
    await _fill(catalogue, dt.date(2026, 11, 23), 5)
    settings = _settings(grace_hours=0)
    clock = Clock(POST_TIME_UTC - dt.timedelta(days=1, hours=2))
    sink = RecordingSink(clock)
    async with _running(catalogue, sink, clock, settings):
        pass  # first seen a day before: owed posts from then on
    # Down through 09:00; back two minutes later, then the 10-minute catch-up job runs: nothing is posted late.
    clock.set(POST_TIME_UTC - dt.timedelta(days=1) + dt.timedelta(minutes=2))
    async with _running(catalogue, sink, clock, settings) as service:
        clock.set(POST_TIME_UTC - dt.timedelta(days=1) + dt.timedelta(minutes=10))
        await service.scheduler.wakeup()
        assert sink.posted == []
        # The next day it is up at 09:00 and posts on time.
        await _fire_next(clock, service.scheduler)
    assert [post[0].at for post in sink.posts(BERLIN)] == [POST_TIME_UTC]
