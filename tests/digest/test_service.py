"""DigestService against a real catalogue, the real scheduler, a moved clock and a recording sink."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.config import Settings
from bot.digest.dry_run import dry_run
from bot.digest.schedule import Scheduler
from bot.digest.service import DigestService, SubscriptionError
from bot.models import Subscription
from bot.render.digest import Rendered
from bot.render.plain import rendered_text
from tests.digest.conftest import Clock, Crash, RecordingSink, entries, make_paper, make_settings

UTC = dt.UTC
BERLIN, TOKYO = 111, 222


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=UTC)


def two_channels(**extra: Any) -> Settings:
    return make_settings(
        [
            {"channel_id": BERLIN, "time": dt.time(9, 0), "timezone": "Europe/Berlin", "top_n": 3},
            {"channel_id": TOKYO, "time": dt.time(8, 30), "timezone": "Asia/Tokyo", "top_n": 2},
        ],
        **extra,
    )


async def fill(catalogue: Any, first: dt.date, days: int, per_day: int = 5) -> None:
    for i in range(days):
        day = first + dt.timedelta(days=i)
        papers = [make_paper(i * 100 + n, upvotes=10 * n) for n in range(1, per_day + 1)]
        await catalogue.record_day(day, entries(day, papers))


@asynccontextmanager
async def running(
    catalogue: Any, sink: RecordingSink, clock: Clock, settings: Settings, **kw: Any
) -> AsyncIterator[DigestService]:
    """A started service + scheduler; leaving the block is the process stopping."""
    scheduler = Scheduler(now=clock)
    service = DigestService(catalogue, sink, scheduler, settings, **kw)
    scheduler.start()
    try:
        await service.start()
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


async def test_posts_at_local_times_for_two_zones_over_days(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 10, 20), 8)
    clock = Clock(at(2026, 10, 22, 12))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, two_channels()) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 26, 12))
    berlin = [post[0].at for post in sink.posts(BERLIN)]
    tokyo = [post[0].at for post in sink.posts(TOKYO)]
    # Berlin leaves summer time on 25 October: 09:00 is 07:00 UTC before, 08:00 UTC from then on.
    assert berlin == [at(2026, 10, 23, 7), at(2026, 10, 24, 7), at(2026, 10, 25, 8), at(2026, 10, 26, 8)]
    # Tokyo 08:30 is 23:30 UTC the day before.
    assert tokyo == [
        at(2026, 10, 22, 23, 30),
        at(2026, 10, 23, 23, 30),
        at(2026, 10, 24, 23, 30),
        at(2026, 10, 25, 23, 30),
    ]
    # Each post shows the latest ended UTC day, top_n papers by upvotes.
    first = sink.posts(BERLIN)[0][0].message
    assert "2026-10-22" in (first.embeds[0].title or "")
    assert len(first.embeds) == 1 + 3
    tokyo_first = sink.posts(TOKYO)[0][0].message
    assert "2026-10-21" in (tokyo_first.embeds[0].title or "") and len(tokyo_first.embeds) == 3


async def test_a_restart_after_posted_does_not_post_again(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 3)
    clock = Clock(at(2026, 11, 26, 7, 59))
    sink = RecordingSink(clock)
    settings = two_channels()
    async with running(catalogue, sink, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 8, 5))
    assert len(sink.posts(BERLIN)) == 1
    clock.set(at(2026, 11, 26, 8, 10))
    async with running(catalogue, sink, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 13))
    assert len(sink.posts(BERLIN)) == 1
    assert (await catalogue.digests.post(BERLIN, dt.date(2026, 11, 26))).state == "posted"


@pytest.mark.parametrize(
    "crash", ["before the first message", "after the first message", "before its record", "before posted"]
)
async def test_crash_between_posting_and_posted_is_reconciled(catalogue: Any, crash: str) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 3, per_day=25)
    settings = make_settings([{"channel_id": BERLIN, "time": dt.time(9), "timezone": "Europe/Berlin", "top_n": 25}])
    clock = Clock(at(2026, 11, 26, 7))
    sink = RecordingSink(clock)
    # The process that crashes: its scheduler never runs, so only the post below touches the channel.
    service = DigestService(catalogue, sink, Scheduler(now=clock), settings)
    await service.start()
    clock.set(at(2026, 11, 26, 8))
    if crash == "before posted":  # every message is out; the process dies before writing 'posted'
        finish = catalogue.digests.finish_post

        async def die(*args: Any, **kwargs: Any) -> None:
            raise Crash

        catalogue.digests.finish_post = die
    elif crash == "before its record":  # the first message is out but the record does not know it
        progress = catalogue.digests.record_part

        async def die_progress(*args: Any, **kwargs: Any) -> None:
            raise Crash

        catalogue.digests.record_part = die_progress
    else:
        sink.crash_after = 0 if crash == "before the first message" else 1
    with pytest.raises(Crash):
        await service.post_due(BERLIN)
    if crash == "before posted":
        catalogue.digests.finish_post = finish
        assert len(sink.posted) == 3
    if crash == "before its record":
        catalogue.digests.record_part = progress
        assert len(sink.posted) == 1
        assert (await catalogue.digests.post(BERLIN, dt.date(2026, 11, 26))).message_ids == {}
    record = await catalogue.digests.post(BERLIN, dt.date(2026, 11, 26))
    assert record.state == "posting"
    sink.crash_after = None
    clock.set(at(2026, 11, 26, 8, 20))
    async with running(catalogue, sink, clock, settings):
        pass
    parts = [p.message.part for p in sink.in_channel(BERLIN)]
    assert len(parts) >= 3 and parts == list(range(1, len(parts) + 1))  # 26 embeds: each part exactly once
    assert (await catalogue.digests.post(BERLIN, dt.date(2026, 11, 26))).state == "posted"


async def test_down_at_post_time_back_within_grace_posts_once(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 3)
    settings = two_channels(grace_hours=2)
    clock = Clock(at(2026, 11, 25, 12))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, settings):
        pass  # first seen: config channels are owed posts from now on
    clock.set(at(2026, 11, 26, 9, 30))  # Berlin 10:30: 1.5 h late; Tokyo's 08:30 is 10 h past
    async with running(catalogue, sink, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 9, 50))
    assert [p[0].at for p in sink.posts(BERLIN)] == [at(2026, 11, 26, 9, 30)]
    assert sink.posts(TOKYO) == []


async def test_down_past_the_grace_window_posts_nothing(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 3)
    settings = two_channels(grace_hours=1)
    clock = Clock(at(2026, 11, 25, 12))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, settings):
        pass
    clock.set(at(2026, 11, 26, 9, 30))
    async with running(catalogue, sink, clock, settings):
        pass
    assert sink.posted == []


async def test_a_config_channel_is_not_owed_posts_from_before_it_was_first_seen(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 3)
    clock = Clock(at(2026, 11, 26, 8, 30))  # Berlin's 09:00 (08:00 UTC) has passed
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, two_channels()) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 12))
        assert sink.posts(BERLIN) == []
        await step_to(clock, service.scheduler, at(2026, 11, 27, 8, 1))
    assert [p[0].at for p in sink.posts(BERLIN)] == [at(2026, 11, 27, 8)]


async def test_subscribing_after_todays_time_waits_for_tomorrow(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 4)
    clock = Clock(at(2026, 11, 26, 10))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, make_settings()) as service:
        await service.subscribe(Subscription(channel_id=5, guild_id=1, time=dt.time(9), timezone="UTC"))
        await step_to(clock, service.scheduler, at(2026, 11, 26, 23))
        assert sink.posted == []
        await step_to(clock, service.scheduler, at(2026, 11, 27, 9, 1))
        assert [p[0].at for p in sink.posts(5)] == [at(2026, 11, 27, 9)]
        assert await service.unsubscribe(5)
        assert "digest:5" not in service.scheduler.job_ids()
        await step_to(clock, service.scheduler, at(2026, 11, 28, 10))
    assert len(sink.posts(5)) == 1


async def test_database_settings_override_the_file_and_config_channels_cannot_be_unsubscribed(
    catalogue: Any,
) -> None:
    clock = Clock(at(2026, 11, 26, 6))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, two_channels()) as service:
        await service.subscribe(Subscription(channel_id=BERLIN, time=dt.time(10), timezone="UTC", top_n=7))
        sub = await service.subscription(BERLIN)
        assert sub is not None and (sub.time, sub.timezone, sub.top_n, sub.source) == (dt.time(10), "UTC", 7, "config")
        assert service.scheduler.next_run(f"digest:{BERLIN}") == at(2026, 11, 26, 10)
        with pytest.raises(SubscriptionError, match=r"configuration file.*channel_id = 111"):
            await service.unsubscribe(BERLIN)
        statuses = {s.subscription.channel_id: s for s in await service.statuses()}
        assert statuses[BERLIN].overridden and statuses[BERLIN].in_config
        assert statuses[TOKYO].next_post == at(2026, 11, 26, 23, 30)


@pytest.mark.parametrize("failure", ["gone", "forbidden"])
async def test_a_gone_or_forbidden_channel_is_marked_failing_and_not_retried(catalogue: Any, failure: str) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 4)
    clock = Clock(at(2026, 11, 25, 12))
    sink = RecordingSink(clock)
    getattr(sink, failure).add(BERLIN)
    attempts = 0
    original = sink.send

    async def counting(channel_id: int, message: Any) -> int:
        nonlocal attempts
        attempts += channel_id == BERLIN
        return await original(channel_id, message)

    sink.send = counting  # type: ignore[method-assign]
    async with running(catalogue, sink, clock, two_channels()) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 12))  # many catch-up runs after 08:00
        assert attempts == 1
        sub = await service.subscription(BERLIN)
        assert sub is not None and sub.failing_reason and ("404" in sub.failing_reason or "403" in sub.failing_reason)
        status = {s.subscription.channel_id: s for s in await service.statuses()}[BERLIN]
        assert status.last_post is not None and status.last_post.state == "failed"
        # Tokyo is unaffected.
        assert len(sink.posts(TOKYO)) == 1
        # Fixed by tomorrow: one attempt at the next post time succeeds and clears the failing state.
        getattr(sink, failure).clear()
        await step_to(clock, service.scheduler, at(2026, 11, 27, 8, 1))
        assert attempts == 2 and len(sink.posts(BERLIN)) == 1
        sub = await service.subscription(BERLIN)
        assert sub is not None and sub.failing_reason is None


async def test_a_transient_error_is_retried_by_the_catch_up_job(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 24), 4)
    clock = Clock(at(2026, 11, 25, 12))
    sink = RecordingSink(clock)
    sink.transient.add(BERLIN)
    async with running(catalogue, sink, clock, two_channels()) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 8, 5))
        assert sink.posts(BERLIN) == []
        sink.transient.clear()
        await step_to(clock, service.scheduler, at(2026, 11, 26, 8, 15))
    assert [p[0].at for p in sink.posts(BERLIN)] == [at(2026, 11, 26, 8, 10)]


async def test_the_list_is_refreshed_just_before_posting(catalogue: Any) -> None:
    clock = Clock(at(2026, 11, 25, 12))
    sink = RecordingSink(clock)
    asked: list[tuple[dt.date, dt.datetime]] = []

    async def refresh(day: dt.date) -> None:
        asked.append((day, clock()))
        await catalogue.record_day(day, entries(day, [make_paper(7, upvotes=99)]))

    async with running(catalogue, sink, clock, two_channels(), refresh=refresh) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 8, 1))
    # Tokyo's 08:30 on the 26th is 23:30 UTC on the 25th: it shows the 24th; Berlin's 09:00 shows the 25th.
    assert asked == [(dt.date(2026, 11, 24), at(2026, 11, 25, 23, 30)), (dt.date(2026, 11, 25), at(2026, 11, 26, 8))]
    berlin = sink.posts(BERLIN)[0][0].message
    assert "Paper number 7" in (berlin.embeds[1].title or "")


async def test_a_failing_refresh_still_posts_the_stored_list(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 25), 1)
    clock = Clock(at(2026, 11, 25, 12))
    sink = RecordingSink(clock)

    async def refresh(day: dt.date) -> None:
        raise OSError("network down")

    async with running(catalogue, sink, clock, two_channels(), refresh=refresh) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 8, 1))
    assert len(sink.posts(BERLIN)) == 1


@pytest.mark.parametrize(("mode", "expected"), [("skip", 0), ("note", 1), ("week", 1)])
async def test_empty_day_in_each_mode(catalogue: Any, mode: str, expected: int) -> None:
    await fill(catalogue, dt.date(2026, 11, 20), 1)  # a paper earlier in the week, nothing on the 25th
    settings = make_settings([{"channel_id": BERLIN, "time": dt.time(9), "timezone": "UTC", "empty_days": mode}])
    clock = Clock(at(2026, 11, 25, 12))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 12))
    posts = sink.posts(BERLIN)
    assert len(posts) == expected
    state = (await catalogue.digests.post(BERLIN, dt.date(2026, 11, 26))).state
    assert state == ("skipped" if mode == "skip" else "posted")
    if mode == "note":
        assert len(posts[0][0].message.embeds) == 1
        assert "No papers were listed on 2026-11-25" in (posts[0][0].message.embeds[0].description or "")
    if mode == "week":
        assert "best of the week" in (posts[0][0].message.embeds[0].title or "")
        assert len(posts[0][0].message.embeds) == 1 + 5  # the 20th's five papers


async def test_preview_renders_today_without_recording(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 25), 1)
    clock = Clock(at(2026, 11, 26, 6))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, two_channels()) as service:
        sub = await service.subscription(BERLIN)
        assert sub is not None
        rendered = await service.preview(sub)
    assert len(rendered.messages[0].embeds) == 4 and sink.posted == []
    assert await catalogue.digests.post(BERLIN, dt.date(2026, 11, 26)) is None


async def test_dry_run_renders_the_same_post_as_the_bot(catalogue: Any) -> None:
    await fill(catalogue, dt.date(2026, 11, 25), 1)
    settings = two_channels()
    clock = Clock(at(2026, 11, 26, 7, 59))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 26, 8, 1))
    posted = sink.posts(BERLIN)[0]
    text = await dry_run(settings, catalogue, None, BERLIN, now=at(2026, 11, 26, 8))
    expected = rendered_text(Rendered(marker="", messages=tuple(p.message for p in posted))).rstrip()
    assert expected in text
    assert "channel 111 (config file) · 09:00 Europe/Berlin · top 3" in text
    everything = await dry_run(settings, catalogue, dt.date(2026, 11, 25), None, now=at(2026, 11, 26, 8))
    assert "channel 111" in everything and "channel 222" in everything
    unknown = await dry_run(settings, catalogue, dt.date(2026, 11, 20), 999, now=at(2026, 11, 26, 8))
    assert "not subscribed: [digest] defaults" in unknown and "paperbot ingest --date 2026-11-20" in unknown
    empty = await dry_run(make_settings(), catalogue, dt.date(2026, 11, 25), None, now=at(2026, 11, 26, 8))
    assert "no channel is subscribed" in empty and "Paper number" in empty


async def test_a_config_channel_removed_and_added_back_counts_from_when_it_is_seen_again(catalogue: Any) -> None:
    await catalogue.digests.see_channels([BERLIN, TOKYO], now=at(2026, 11, 1))
    await catalogue.digests.mark_failing(TOKYO, "gone", now=at(2026, 11, 2))
    assert set(await catalogue.digests.see_channels([TOKYO], now=at(2026, 11, 5))) == {TOKYO}
    assert (await catalogue.digests.see_channels([BERLIN, TOKYO], now=at(2026, 11, 9)))[BERLIN] == at(2026, 11, 9)
    states = await catalogue.digests.channel_states()
    assert states[TOKYO].first_seen == at(2026, 11, 1) and states[TOKYO].failing_reason == "gone"
    await catalogue.digests.see_channels([], now=at(2026, 11, 10))
    assert await catalogue.digests.channel_states() == {}  # no config channel, no subscription, no state
