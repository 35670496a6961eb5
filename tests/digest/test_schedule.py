"""Post instants (DST rules), the owed-post window, and the real AsyncIOScheduler driven by a moved clock."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.digest.schedule import DailyTrigger, Scheduler
from bot.digest.timing import list_day_for, local_instant, next_slot, owed_slot, slot, zone
from bot.models import Subscription
from tests.digest.conftest import Clock

UTC = dt.UTC
BERLIN = "Europe/Berlin"


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=UTC)


def test_spring_forward_gap_posts_at_the_next_valid_minute() -> None:
    # 2026-03-29: Berlin jumps 02:00 CET -> 03:00 CEST (01:00 UTC); 02:30 does not exist.
    assert local_instant(dt.date(2026, 3, 29), dt.time(2, 30), zone(BERLIN)) == at(2026, 3, 29, 1, 0)
    assert local_instant(dt.date(2026, 3, 28), dt.time(2, 30), zone(BERLIN)) == at(2026, 3, 28, 1, 30)
    assert local_instant(dt.date(2026, 3, 30), dt.time(2, 30), zone(BERLIN)) == at(2026, 3, 30, 0, 30)


def test_fall_back_repeated_time_posts_once_at_its_first_occurrence() -> None:
    # 2026-10-25: Berlin repeats 02:00-03:00; 02:30 happens at 00:30 and 01:30 UTC.
    trigger = DailyTrigger(dt.time(2, 30), BERLIN)
    first = trigger.get_next_fire_time(None, at(2026, 10, 24, 12))
    second = trigger.get_next_fire_time(first, first)
    assert first == at(2026, 10, 25, 0, 30)
    assert second == at(2026, 10, 26, 1, 30)  # not 01:30 the same day


def test_list_day_is_the_latest_ended_utc_day() -> None:
    assert list_day_for(at(2026, 11, 26, 8)) == dt.date(2026, 11, 25)
    # 09:00 in Kiritimati (UTC+14) is 19:00 UTC the day before: the list is two local days old.
    sub = Subscription(1, time=dt.time(9), timezone="Pacific/Kiritimati")
    assert slot(sub, dt.date(2026, 11, 26), 6).list_day == dt.date(2026, 11, 24)


def test_owed_window_is_grace_capped_by_the_end_of_the_local_day() -> None:
    sub = Subscription(1, time=dt.time(21), timezone=BERLIN, created_at=at(2026, 1, 1))
    s = slot(sub, dt.date(2026, 11, 26), 6)
    assert s.instant == at(2026, 11, 26, 20) and s.deadline == at(2026, 11, 26, 23)  # local midnight
    assert owed_slot(sub, at(2026, 11, 26, 19, 59), 6) is None
    assert owed_slot(sub, at(2026, 11, 26, 20), 6) == s
    assert owed_slot(sub, at(2026, 11, 26, 22, 59), 6) == s
    assert owed_slot(sub, at(2026, 11, 26, 23), 6) is None


def test_grace_zero_still_owes_the_post_at_its_time() -> None:
    """grace_hours = 0 means "on time or not at all", never "not at all": the job firing at 09:00 posts."""
    sub = Subscription(1, time=dt.time(9), timezone=BERLIN, created_at=at(2026, 1, 1))
    s = slot(sub, dt.date(2026, 11, 26), 0)
    instant = at(2026, 11, 26, 8)
    assert s.instant == instant
    assert owed_slot(sub, instant, 0) == s  # the job fired exactly on time
    assert owed_slot(sub, instant + dt.timedelta(milliseconds=7), 0) == s  # a few ms late, as schedulers are
    assert owed_slot(sub, instant + dt.timedelta(seconds=59), 0) == s  # still the minute of 09:00
    assert owed_slot(sub, instant - dt.timedelta(seconds=1), 0) is None
    # After the minute of its time (a restart, the 10-minute catch-up job) nothing is made late.
    assert owed_slot(sub, instant + dt.timedelta(minutes=1), 0) is None
    assert owed_slot(sub, instant + dt.timedelta(minutes=10), 0) is None


def test_a_tiny_grace_is_never_shorter_than_the_minute_of_the_post_time() -> None:
    sub = Subscription(1, time=dt.time(23, 59), timezone="UTC", created_at=at(2026, 1, 1))
    s = slot(sub, dt.date(2026, 11, 26), 0.001)  # 3.6 s
    assert (s.instant, s.deadline) == (at(2026, 11, 26, 23, 59), at(2026, 11, 27))
    assert owed_slot(sub, s.instant + dt.timedelta(seconds=30), 0.001) == s
    # A longer grace keeps its meaning: the window is the grace, capped by local midnight.
    assert slot(sub, dt.date(2026, 11, 26), 6).deadline == at(2026, 11, 27)


def test_a_subscription_is_owed_nothing_from_before_it_existed() -> None:
    sub = Subscription(1, time=dt.time(9), timezone="UTC", created_at=at(2026, 11, 26, 10))
    assert owed_slot(sub, at(2026, 11, 26, 10, 5), 6) is None
    assert owed_slot(sub, at(2026, 11, 27, 9), 6) is not None
    unseen = Subscription(1, time=dt.time(9), timezone="UTC", created_at=None)
    assert owed_slot(unseen, at(2026, 11, 27, 9), 6) is None


def test_next_slot_for_list() -> None:
    sub = Subscription(1, time=dt.time(9), timezone=BERLIN)
    assert next_slot(sub, at(2026, 11, 26, 7, 59), 6).instant == at(2026, 11, 26, 8)
    assert next_slot(sub, at(2026, 11, 26, 8), 6).instant == at(2026, 11, 27, 8)


@given(
    day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2037, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    tz=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC"]),
)
def test_one_instant_per_local_day_on_that_day_at_or_after_the_wall_time(
    day: dt.date, hour: int, minute: int, tz: str
) -> None:
    when = dt.time(hour, minute)
    instant = local_instant(day, when, zone(tz))
    local = instant.astimezone(zone(tz))
    assert local.replace(tzinfo=None) >= dt.datetime.combine(day, when)
    assert local.replace(tzinfo=None) - dt.datetime.combine(day, when) <= dt.timedelta(hours=2)
    trigger = DailyTrigger(when, tz)
    following = trigger.get_next_fire_time(instant, instant)
    assert following == local_instant(day + dt.timedelta(days=1), when, zone(tz))


async def test_real_scheduler_runs_cron_jobs_when_the_clock_moves() -> None:
    clock = Clock(at(2026, 11, 26, 8, 10))
    scheduler = Scheduler(now=clock)
    runs: list[dt.datetime] = []

    async def job() -> None:
        runs.append(clock())

    scheduler.add_cron_job("ingest", "*/30 * * * *", job)
    scheduler.start()
    try:
        assert scheduler.next_run("ingest") == at(2026, 11, 26, 8, 30)
        await scheduler.wakeup()
        assert runs == []
        clock.set(at(2026, 11, 26, 8, 30))
        await scheduler.wakeup()
        assert runs == [at(2026, 11, 26, 8, 30)]
        clock.set(at(2026, 11, 26, 12, 45))  # slept through 7 firings: coalesced into one run
        await scheduler.wakeup()
        assert len(runs) == 2 and scheduler.next_run("ingest") == at(2026, 11, 26, 13)
    finally:
        scheduler.shutdown()
    assert not scheduler.running


async def test_daily_jobs_fire_at_local_time_across_a_dst_change() -> None:
    clock = Clock(at(2026, 10, 23, 14))
    scheduler = Scheduler(now=clock)
    fired: list[tuple[str, dt.datetime]] = []

    def record(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            fired.append((name, clock()))

        return run

    scheduler.add_daily_job("berlin", dt.time(9), BERLIN, record("berlin"))
    scheduler.add_daily_job("ny", dt.time(9), "America/New_York", record("ny"))
    scheduler.start()
    try:
        # Step through three days minute-exactly at each next run time.
        for _ in range(6):
            when = min(t for t in (scheduler.next_run("berlin"), scheduler.next_run("ny")) if t)
            clock.set(when)
            await scheduler.wakeup()
    finally:
        scheduler.shutdown()
    assert fired == [
        ("berlin", at(2026, 10, 24, 7)),  # CEST
        ("ny", at(2026, 10, 24, 13)),  # EDT
        ("berlin", at(2026, 10, 25, 8)),  # CET from 25 October
        ("ny", at(2026, 10, 25, 13)),
        ("berlin", at(2026, 10, 26, 8)),
        ("ny", at(2026, 10, 26, 13)),
    ]


async def test_a_failing_job_is_logged_and_keeps_its_schedule(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock(at(2026, 11, 26, 8, 59))
    scheduler = Scheduler(now=clock)

    async def broken() -> None:
        raise RuntimeError("boom")

    scheduler.add_cron_job("broken", "0 9 * * *", broken)
    scheduler.start()
    try:
        clock.set(at(2026, 11, 26, 9))
        with caplog.at_level(logging.ERROR):
            await scheduler.wakeup()
        assert any("broken" in r.getMessage() and r.exc_info for r in caplog.records)
        assert scheduler.next_run("broken") == at(2026, 11, 27, 9)
    finally:
        scheduler.shutdown()


async def test_removing_and_replacing_jobs() -> None:
    scheduler = Scheduler(now=Clock(at(2026, 11, 26)))

    async def noop() -> None:
        return None

    scheduler.add_daily_job("a", dt.time(9), "UTC", noop)
    scheduler.add_daily_job("a", dt.time(10), "UTC", noop)
    assert scheduler.job_ids() == ["a"] and scheduler.next_run("a") == at(2026, 11, 26, 10)
    scheduler.remove_job("a")
    scheduler.remove_job("a")
    assert scheduler.job_ids() == []


async def test_a_nonexistent_local_time_fires_at_the_next_valid_minute() -> None:
    clock = Clock(at(2026, 3, 28, 12))
    scheduler = Scheduler(now=clock)
    fired: list[dt.datetime] = []

    async def job() -> None:
        fired.append(clock())

    scheduler.add_daily_job("berlin", dt.time(2, 30), BERLIN, job)
    scheduler.start()
    try:
        for _ in range(2):
            when = scheduler.next_run("berlin")
            assert when is not None
            clock.set(when)
            await scheduler.wakeup()
    finally:
        scheduler.shutdown()
    # 29 March 02:30 does not exist in Berlin: 03:00 CEST (01:00 UTC); the 30th: 02:30 CEST (00:30 UTC).
    assert fired == [at(2026, 3, 29, 1), at(2026, 3, 30, 0, 30)]
