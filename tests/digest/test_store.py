"""DigestStore on a real SQLite catalogue: subscriptions, first-seen, post records, and cancellation safety."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest

from bot.catalogue import NewPost
from bot.models import Subscription

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 8, tzinfo=UTC)


async def test_subscription_round_trip_keeps_creation_time_and_clears_failing(catalogue: Any) -> None:
    sub = Subscription(5, guild_id=9, time=dt.time(7, 5), timezone="Asia/Tokyo", keywords=("LLM", "rl"))
    saved = await catalogue.digests.subscribe(sub, now=NOW)
    assert (saved.time, saved.timezone, saved.keywords, saved.created_at) == (
        dt.time(7, 5),
        "Asia/Tokyo",
        ("LLM", "rl"),
        NOW,
    )
    await catalogue.digests.mark_failing(5, "gone", now=NOW)
    await catalogue.digests.mark_failing(5, "still gone", now=NOW + dt.timedelta(days=1))
    [listed] = await catalogue.digests.subscriptions()
    assert (listed.failing_reason, listed.failing_since) == ("still gone", NOW)  # since the first failure
    again = await catalogue.digests.subscribe(Subscription(5, top_n=3), now=NOW + dt.timedelta(days=2))
    assert again.created_at == NOW and again.guild_id == 9 and again.top_n == 3
    [listed] = await catalogue.digests.subscriptions()
    assert listed.failing_reason is None
    assert await catalogue.digests.unsubscribe(5) and not await catalogue.digests.unsubscribe(5)
    assert await catalogue.digests.channel_states() == {}


async def test_post_records_are_claimed_once(catalogue: Any) -> None:
    day, list_day = dt.date(2026, 11, 26), dt.date(2026, 11, 25)
    lease = NOW + dt.timedelta(minutes=2)
    new = NewPost(list_day, payload="[1]", nonces={1: "n1", 2: "n2"})
    first = await catalogue.digests.claim_post(5, day, owner="a", lease_until=lease, now=NOW, new=new)
    assert first is not None and first.created and first.previous_owner is None
    again = await catalogue.digests.claim_post(5, day, owner="a", lease_until=lease, now=NOW, new=new)
    assert again is not None and not again.created and again.previous_owner == "a"  # its own 'posting' resumes
    assert await catalogue.digests.record_part(5, day, 1, 111, owner="a", now=NOW)
    assert await catalogue.digests.record_part(5, day, 2, 222, owner="a", now=NOW)
    assert await catalogue.digests.finish_post(5, day, "posted", owner="a", now=NOW)
    assert await catalogue.digests.claim_post(5, day, owner="a", lease_until=lease, now=NOW, new=new) is None
    record = await catalogue.digests.post(5, day)
    assert record.state == "posted" and record.message_ids == {1: 111, 2: 222} and record.finished_at == NOW
    assert record.nonces == {1: "n1", 2: "n2"} and record.owner == "a" and record.lease_until is None
    assert (await catalogue.digests.last_posts())[5] == record
    assert await catalogue.digests.posts_in_state("posting") == []


async def test_a_cancelled_write_never_leaves_the_connection_inside_a_transaction(catalogue: Any) -> None:
    # Shutdown cancels running jobs. If the cancel lands while BEGIN waits in aiosqlite's queue, BEGIN still
    # runs afterwards on the worker thread; the store must undo it, or every later write fails.
    if catalogue.backend != "sqlite":
        pytest.skip("aiosqlite's worker-thread queue is the SQLite backend's own")
    writer = catalogue._db._writer
    release = threading.Event()
    blocker = asyncio.ensure_future(writer._execute(release.wait))  # holds the worker thread
    write = asyncio.create_task(catalogue.digests.see_channels([1, 2], now=NOW))
    for _ in range(5):
        await asyncio.sleep(0)  # let the write take the lock and queue BEGIN (yields only, no waiting)
    assert not write.done()
    write.cancel()
    for _ in range(5):
        await asyncio.sleep(0)
    release.set()
    await asyncio.gather(write, blocker, return_exceptions=True)
    assert write.cancelled()
    assert await catalogue.digests.see_channels([3], now=NOW) == {3: NOW}
    assert not writer.in_transaction
