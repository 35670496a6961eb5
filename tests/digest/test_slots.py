"""Each firing of a scheduled job runs once across the processes that schedule it (the ingest cron).

Two "processes" are two schedulers, each with its own connection to one catalogue, on the hand-moved clock.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from bot.catalogue import Catalogue
from bot.config import load_settings
from bot.digest.schedule import Scheduler, last_firing
from bot.runtime import INGEST_JOB_ID, _schedule_ingest
from bot.sources import open_sources
from tests.digest.conftest import Clock, open_catalogue
from tests.fixture_server import FixtureServer

UTC = dt.UTC


def at(h: int, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(2030, 1, 1, h, mi, s, tzinfo=UTC)


@pytest.fixture
async def two_connections(shared_target: str) -> AsyncIterator[tuple[Catalogue, Catalogue]]:
    async with await open_catalogue(shared_target) as first, await open_catalogue(shared_target) as second:
        yield first, second


def test_a_run_stands_for_the_latest_firing_at_or_before_it() -> None:
    every_half_hour = CronTrigger.from_crontab("*/30 * * * *", timezone=UTC)
    assert last_firing(every_half_hour, at(6, 30)) == at(6, 30)
    assert last_firing(every_half_hour, at(6, 59, 59)) == at(6, 30)  # a late, coalesced run: the same firing
    monthly = CronTrigger.from_crontab("0 5 1 * *", timezone=UTC)
    assert last_firing(monthly, dt.datetime(2030, 3, 17, tzinfo=UTC)) == dt.datetime(2030, 3, 1, 5, tzinfo=UTC)


async def test_each_firing_runs_in_one_process_even_when_they_wake_apart(
    two_connections: tuple[Catalogue, Catalogue],
) -> None:
    clock = Clock(at(0, 5))
    runs: list[tuple[str, dt.datetime]] = []
    schedulers = []
    for name, catalogue in zip(("a", "b"), two_connections, strict=True):
        scheduler = Scheduler(now=clock)

        async def claim(job: str, slot: dt.datetime, catalogue: Catalogue = catalogue, name: str = name) -> bool:
            return await catalogue.digests.claim_slot(job, slot, owner=name, now=clock())

        async def job(name: str = name) -> None:
            runs.append((name, clock()))

        scheduler.add_claimed_cron_job("ingest", "*/30 * * * *", job, claim)
        scheduler.start()
        schedulers.append(scheduler)
    a, b = schedulers
    try:
        clock.set(at(0, 30))
        await a.wakeup()
        await b.wakeup()
        assert len(runs) == 1  # whichever woke first (start-up wakeups are queued in the loop) claimed it
        # The next firing: "b" wakes on time, "a" two minutes late (a busy loop): its run stands for the same
        # 01:00 firing, already claimed, and does nothing.
        clock.set(at(1, 0))
        await b.wakeup()
        clock.set(at(1, 2))
        await a.wakeup()
        assert len(runs) == 2
    finally:
        a.shutdown()
        b.shutdown()


async def test_the_ingest_cron_of_two_bot_processes_fetches_once(fixture_server: FixtureServer, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("", encoding="utf-8")
    settings = load_settings(config, environ={**fixture_server.environ()})
    clock = Clock(at(0, 5))
    target = tmp_path / "p.db"
    async with (
        await open_catalogue(target) as first,
        await open_catalogue(target) as second,
        open_sources(settings) as sources,
    ):
        a, b = Scheduler(now=clock), Scheduler(now=clock)
        _schedule_ingest(a, first, sources, "*/30 * * * *", "process a")
        _schedule_ingest(b, second, sources, "*/30 * * * *", "process b")
        a.start()
        b.start()
        try:
            assert a.next_run(INGEST_JOB_ID) == b.next_run(INGEST_JOB_ID) == at(0, 30)
            clock.set(at(0, 30))
            await a.wakeup()
            await b.wakeup()
        finally:
            a.shutdown()
            b.shutdown()
    asked = Counter(tuple(sorted(r.query.items())) for r in fixture_server.requests_to("/api/daily_papers"))
    assert len(asked) >= 2 and set(asked.values()) == {1}, asked  # yesterday and today, once: not once per process
