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


async def test_every_subscription_setting_a_command_can_give_round_trips(catalogue: Any) -> None:
    from bot.models import RolePing

    sub = Subscription(
        6,
        guild_id=9,
        thread=True,
        pings=(RolePing(11, ("robot", "Diffusion models")), RolePing(12, ("rl",))),
        update_after_hours=12.5,
        cadence="weekly",
        weekday=4,
    )
    saved = await catalogue.digests.subscribe(sub, now=NOW)
    assert (saved.thread, saved.pings, saved.update_after_hours, saved.cadence, saved.weekday) == (
        True,
        (RolePing(11, ("robot", "Diffusion models")), RolePing(12, ("rl",))),
        12.5,
        "weekly",
        4,
    )
    changed = await catalogue.digests.subscribe(Subscription(6, pings=()), now=NOW)
    assert (changed.thread, changed.pings, changed.cadence) == (False, (), "daily")


async def test_a_post_keeps_its_guild_and_thread_and_its_edit_is_made_once(catalogue: Any) -> None:
    day, list_day = dt.date(2026, 11, 26), dt.date(2026, 11, 25)
    lease = NOW + dt.timedelta(minutes=2)
    new = NewPost(list_day, payload="[1]", nonces={1: "n1", 2: "n2"}, guild_id=77)
    assert await catalogue.digests.claim_post(5, day, owner="a", lease_until=lease, now=NOW, new=new)
    assert not await catalogue.digests.record_thread(5, day, owner="b", thread_id=111)  # not the holder
    assert await catalogue.digests.record_thread(5, day, owner="a", thread_id=None, error="no permission")
    assert await catalogue.digests.record_part(5, day, 1, 111, owner="a", now=NOW)
    assert await catalogue.digests.record_part(5, day, 2, 222, owner="a", now=NOW)
    due = NOW + dt.timedelta(hours=6)
    assert await catalogue.digests.finish_post(5, day, "posted", owner="a", now=NOW, edit_at=due)
    record = await catalogue.digests.post(5, day)
    assert (record.guild_id, record.thread_id, record.thread_error) == (77, None, "no permission")

    [edit] = await catalogue.digests.edits_open()
    assert (edit.state, edit.due_at, edit.payload, edit.edited_parts) == ("due", due, None, frozenset())
    claim = catalogue.digests.claim_edit
    assert await claim(5, day, owner="a", lease_until=due, now=due - dt.timedelta(minutes=1), payload="[2]") is None
    assert await claim(5, day, owner="a", lease_until=due, now=due) is None  # a first claim brings the payload
    first = await claim(5, day, owner="a", lease_until=due + dt.timedelta(minutes=5), now=due, payload="[2]")
    assert first is not None and first.created and first.edit.state == "editing" and first.edit.payload == "[2]"
    assert await claim(5, day, owner="b", lease_until=due, now=due, payload="[3]") is None  # held, lease live
    assert await catalogue.digests.record_edit(5, day, 1, owner="a", now=due)
    assert not await catalogue.digests.record_edit(5, day, 2, owner="b", now=due)
    later = due + dt.timedelta(minutes=6)  # a's lease ran out: b takes over, same payload, part 1 stays edited
    taken = await claim(5, day, owner="b", lease_until=later + dt.timedelta(minutes=5), now=later, payload="[3]")
    assert taken is not None and not taken.created and taken.edit.payload == "[2]"
    assert taken.edit.edited_parts == frozenset({1})
    assert not await catalogue.digests.finish_edit(5, day, "edited", owner="a", now=later)
    assert await catalogue.digests.record_edit(5, day, 2, owner="b", now=later)
    assert await catalogue.digests.finish_edit(5, day, "edited", owner="b", now=later)
    done = await catalogue.digests.edit(5, day)
    assert done is not None and done.state == "edited" and done.edited_parts == frozenset({1, 2})
    assert await catalogue.digests.edits_open() == []
    assert await claim(5, day, owner="b", lease_until=later, now=later, payload="[4]") is None


async def test_a_post_closed_without_edit_at_or_not_posted_has_no_edit(catalogue: Any) -> None:
    day, list_day = dt.date(2026, 11, 26), dt.date(2026, 11, 25)
    lease = NOW + dt.timedelta(minutes=2)
    for channel, state in ((7, "posted"), (8, "failed")):
        new = NewPost(list_day, payload="[1]", nonces={1: "n"})
        assert await catalogue.digests.claim_post(channel, day, owner="a", lease_until=lease, now=NOW, new=new)
        edit_at = None if state == "posted" else NOW
        assert await catalogue.digests.finish_post(channel, day, state, owner="a", now=NOW, edit_at=edit_at)
    assert await catalogue.digests.edits_open() == []
