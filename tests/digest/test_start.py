"""The digest service starts per subscription and retries by itself: one bad subscription or one failing store
call at start costs only itself, for minutes, not every channel's posts until the next `on_ready`.

Before, `start()` was all or nothing and was tried again only on the next `on_ready` — which a resumed gateway
session never fires: a store call timing out behind another process's write, or one stored time zone that no
longer parses, meant no jobs and no posts for days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot.digest.schedule import Scheduler
from bot.digest.service import (
    JOB_PREFIX,
    RESCHEDULE_JOB_PREFIX,
    START_BACKOFF,
    START_RETRY_JOB,
    DigestService,
    backoff,
)
from bot.errors import CatalogueError
from bot.models import Subscription
from tests.digest.conftest import Clock, RecordingSink, make_settings
from tests.digest.test_service import at, fill, step_to

BERLIN = 111
LOCKED = "the catalogue at papers.db stayed locked by another process for 120 s"


def test_backoff_doubles_up_to_its_longest() -> None:
    first, longest = dt.timedelta(seconds=30), dt.timedelta(minutes=10)
    assert [backoff(n, first, longest).total_seconds() for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]
    assert backoff(10_000, first, longest) == longest


@pytest.mark.parametrize("failing", ["see_channels", "subscriptions"])
async def test_a_start_failing_on_the_store_retries_by_itself_and_then_posts(catalogue: Any, failing: str) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 3)
    await catalogue.digests.subscribe(Subscription(5, time=dt.time(8), timezone="UTC"), now=at(2026, 11, 25))
    clock = Clock(at(2026, 11, 26, 8, 1))  # channel 5's post (08:00 UTC) is owed
    sink = RecordingSink(clock)
    store = catalogue.digests
    real = getattr(store, failing)
    failures = 2

    async def locked(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise CatalogueError(LOCKED)
        return await real(*args, **kwargs)

    setattr(store, failing, locked)
    scheduler = Scheduler(now=clock)
    service = DigestService(catalogue, sink, scheduler, make_settings())
    scheduler.start()
    try:
        await service.start()  # does not raise: the failure is reported and retried
        assert not service.ready.is_set() and service.start_error == LOCKED
        assert not [j for j in scheduler.job_ids() if j.startswith(JOB_PREFIX)]
        first_retry = at(2026, 11, 26, 8, 1) + START_BACKOFF[0]
        assert scheduler.next_run(START_RETRY_JOB) == first_retry
        await service.start()  # another on_ready changes nothing: the retry is already planned
        assert scheduler.next_run(START_RETRY_JOB) == first_retry

        await step_to(clock, scheduler, first_retry)  # fails again: the wait doubles
        assert scheduler.next_run(START_RETRY_JOB) == first_retry + 2 * START_BACKOFF[0]
        assert sink.posted == []
        await step_to(clock, scheduler, first_retry + 2 * START_BACKOFF[0])
        assert service.ready.is_set() and service.start_error is None
        assert f"{JOB_PREFIX}5" in scheduler.job_ids()
        assert [p[0].at for p in sink.posts(5)] == [first_retry + 2 * START_BACKOFF[0]]
    finally:
        scheduler.shutdown()


async def test_a_stored_time_zone_that_no_longer_parses_costs_only_its_own_channel(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 3)
    yesterday = at(2026, 11, 25)
    # Stored by an older paperbot, or a tz database that has since dropped the name.
    await catalogue.digests.subscribe(Subscription(5, time=dt.time(9), timezone="Mars/Olympus_Mons"), now=yesterday)
    await catalogue.digests.subscribe(Subscription(6, time=dt.time(8), timezone="UTC"), now=yesterday)
    settings = make_settings([{"channel_id": BERLIN, "time": dt.time(9), "timezone": "Europe/Berlin"}])
    clock = Clock(at(2026, 11, 26, 7))
    sink = RecordingSink(clock)
    scheduler = Scheduler(now=clock)
    service = DigestService(catalogue, sink, scheduler, settings)
    scheduler.start()
    try:
        await service.start()
        assert service.ready.is_set()
        assert {f"{JOB_PREFIX}6", f"{JOB_PREFIX}{BERLIN}"} <= set(scheduler.job_ids())
        assert f"{JOB_PREFIX}5" not in scheduler.job_ids()
        assert "Mars/Olympus_Mons" in service.unscheduled[5]
        statuses = {s.subscription.channel_id: s for s in await service.statuses()}
        assert statuses[5].next_post is None and "Mars/Olympus_Mons" in (statuses[5].problem or "")
        assert statuses[6].problem is None and statuses[6].next_post == at(2026, 11, 26, 8)

        # The others post; the bad one is tried again after 1 minute, then 2, …
        retry = f"{RESCHEDULE_JOB_PREFIX}5"
        assert scheduler.next_run(retry) == at(2026, 11, 26, 7, 1)
        await step_to(clock, scheduler, at(2026, 11, 26, 7, 1))
        assert scheduler.next_run(retry) == at(2026, 11, 26, 7, 3)
        await step_to(clock, scheduler, at(2026, 11, 26, 8, 1))
        assert len(sink.posts(6)) == 1 and len(sink.posts(BERLIN)) == 1 and sink.posts(5) == []

        # Its time zone is corrected in the store (by another process, say): the next retry schedules it, and
        # the post it owes since 08:00 UTC is made at once.
        await catalogue.digests.subscribe(Subscription(5, time=dt.time(8), timezone="UTC"), now=clock())
        await step_to(clock, scheduler, scheduler.next_run(retry) or clock())
        assert f"{JOB_PREFIX}5" in scheduler.job_ids() and retry not in scheduler.job_ids()
        assert 5 not in service.unscheduled
        assert len(sink.posts(5)) == 1
    finally:
        scheduler.shutdown()
