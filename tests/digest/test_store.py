"""DigestStore on every backend (the shared `catalogue` fixture): subscriptions with every setting, first-seen,
post records with their threads, the settled-upvotes edits (leases, and two processes racing for one), and
cancellation safety."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest

from bot.catalogue import NewPost, open_catalogue
from bot.models import RolePing, Subscription

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


# Discord ids are 64-bit snowflakes, beyond what a float (or a JSON number read as one) holds exactly.
SNOWFLAKE = 1_234_567_890_123_456_789


async def test_discord_ids_round_trip_exactly(catalogue: Any) -> None:
    sub = Subscription(SNOWFLAKE, guild_id=SNOWFLAKE + 1, pings=(RolePing(SNOWFLAKE + 2, ("llm",)),))
    saved = await catalogue.digests.subscribe(sub, now=NOW)
    assert (saved.channel_id, saved.guild_id, saved.pings) == (sub.channel_id, sub.guild_id, sub.pings)
    assert [s.pings for s in await catalogue.digests.subscriptions()] == [sub.pings]
    day = dt.date(2026, 11, 26)
    new = NewPost(dt.date(2026, 11, 25), payload="[1]", nonces={1: "n"}, guild_id=SNOWFLAKE + 1)
    lease = NOW + dt.timedelta(minutes=2)
    assert await catalogue.digests.claim_post(SNOWFLAKE, day, owner="a", lease_until=lease, now=NOW, new=new)
    assert await catalogue.digests.record_part(SNOWFLAKE, day, 1, SNOWFLAKE + 3, owner="a", now=NOW)
    assert await catalogue.digests.record_thread(SNOWFLAKE, day, owner="a", thread_id=SNOWFLAKE + 3)
    record = await catalogue.digests.post(SNOWFLAKE, day)
    assert (record.guild_id, record.thread_id, record.message_ids) == (
        SNOWFLAKE + 1,
        SNOWFLAKE + 3,
        {1: SNOWFLAKE + 3},
    )


async def _posted_with_edit(store: Any, channel: int, day: dt.date, due: dt.datetime) -> None:
    new = NewPost(dt.date(2026, 11, 25), payload="[1]", nonces={1: "n1", 2: "n2"})
    lease = NOW + dt.timedelta(minutes=2)
    assert await store.claim_post(channel, day, owner="poster", lease_until=lease, now=NOW, new=new)
    assert await store.finish_post(channel, day, "posted", owner="poster", now=NOW, edit_at=due)


async def test_an_edit_is_closed_only_by_its_holder_and_stays_closed(catalogue: Any) -> None:
    store, day, due = catalogue.digests, dt.date(2026, 11, 26), NOW + dt.timedelta(hours=1)
    await _posted_with_edit(store, 5, day, due)
    assert not await store.record_edit(5, day, 1, owner="a", now=due)  # 'due': nobody holds it yet
    assert not await store.finish_edit(5, day, "edited", owner="a", now=due)
    with pytest.raises(ValueError, match="'edited' or 'failed'"):
        await store.finish_edit(5, day, "due", owner="a", now=due)
    lease = due + dt.timedelta(minutes=5)
    assert await store.claim_edit(5, day, owner="a", lease_until=lease, now=due, payload="[2]")
    assert await store.claim_edit(5, day, owner="a", lease_until=lease, now=due) is not None  # its own, again
    assert await store.finish_edit(5, day, "failed", owner="a", now=due, error="the message was deleted")
    failed = await store.edit(5, day)
    assert failed is not None
    assert (failed.state, failed.error, failed.finished_at, failed.lease_until) == (
        "failed",
        "the message was deleted",
        due,
        None,
    )
    assert await store.claim_edit(5, day, owner="b", lease_until=lease, now=lease, payload="[3]") is None
    assert not await store.record_edit(5, day, 1, owner="a", now=due)
    assert await store.edits_open() == [] and await store.edit(5, dt.date(2026, 11, 27)) is None
    assert [e.state for e in await store.all_edits()] == ["failed"]


async def test_open_edits_come_by_due_time(catalogue: Any) -> None:
    store, day = catalogue.digests, dt.date(2026, 11, 26)
    for channel, hours in ((1, 3), (2, 1), (3, 2)):
        await _posted_with_edit(store, channel, day, NOW + dt.timedelta(hours=hours))
    assert [e.channel_id for e in await store.edits_open()] == [2, 3, 1]


async def test_two_processes_claiming_one_due_edit_only_one_gets_it(shared_target: str) -> None:
    """Two catalogues on one target (two bot processes): for each post, exactly one claim starts the edit and
    the other is refused, whoever's transaction commits first."""
    due, lease = NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)
    days = [dt.date(2026, 11, 1) + dt.timedelta(days=n) for n in range(12)]
    async with await open_catalogue(shared_target) as first, await open_catalogue(shared_target) as second:
        for day in days:
            await _posted_with_edit(first.digests, 5, day, due)
        for day in days:
            claims = await asyncio.gather(
                *(
                    store.claim_edit(5, day, owner=owner, lease_until=lease, now=due, payload=f'["{owner}"]')
                    for store, owner in ((first.digests, "first"), (second.digests, "second"))
                )
            )
            won = [claim for claim in claims if claim is not None]
            assert len(won) == 1 and won[0].created, (day, claims)
            edit = await second.digests.edit(5, day)
            assert edit is not None and edit.owner == won[0].edit.owner and edit.payload == won[0].edit.payload
