"""`db copy` of the digest's state across backends: every subscription setting, channel states, post records with
their guild, thread (or why there is none) and parts (nonces, message ids, edit times), and the posts'
settled-upvotes edits in every state — SQLite → PostgreSQL → SQLite exact, and a copy again rewrites nothing.

A moved bot must neither post nor edit a day's digest twice, and must finish an edit another process had begun.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, DigestStore, NewPost, open_catalogue
from bot.catalogue.copy import copy_catalogue
from bot.models import RolePing, Subscription
from tests.stores import catalogue_target

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 8, 0, 0, 123_456, tzinfo=UTC)  # microseconds: no backend may round them
SNOWFLAKE = 1_234_567_890_123_456_789  # a 64-bit Discord id
LIST_DAY = dt.date(2026, 11, 25)


def at(minutes: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


async def _post(store: DigestStore, channel: int, day: dt.date, *, guild_id: int | None = None) -> None:
    """Claim a new post for owner "a" with two parts."""
    nonces = {1: f"{channel}-1", 2: f"{channel}-2"}
    new = NewPost(LIST_DAY, payload=f'["post {channel} {day}"]', nonces=nonces, guild_id=guild_id)
    assert await store.claim_post(channel, day, owner="a", lease_until=at(30), now=NOW, new=new)


async def _fill_digest_state(cat: Catalogue) -> None:
    """One of everything the digest stores: posts and edits in every state."""
    store, day = cat.digests, dt.date(2026, 11, 26)
    weekly = Subscription(
        SNOWFLAKE,
        guild_id=SNOWFLAKE + 1,
        time=dt.time(7, 30),
        timezone="Europe/Berlin",
        top_n=5,
        min_upvotes=3,
        keywords=("diffusion", "Überblick"),
        empty_days="week",
        thread=True,
        pings=(RolePing(SNOWFLAKE + 2, ("robot", "rl")), RolePing(SNOWFLAKE + 3, ("llm",))),
        update_after_hours=12.5,
        cadence="weekly",
        weekday=4,
    )
    await store.subscribe(weekly, now=NOW)
    await store.subscribe(Subscription(42, guild_id=7), now=at(1))
    await store.see_channels([43], now=NOW)
    await store.mark_failing(42, "missing permissions (403)", now=at(2))

    # Posted, thread started, edit made: every part edited, at its own time.
    await _post(store, 1, day, guild_id=SNOWFLAKE + 1)
    assert await store.record_part(1, day, 1, SNOWFLAKE + 10, owner="a", now=at(1))
    assert await store.record_part(1, day, 2, SNOWFLAKE + 11, owner="a", now=at(1))
    assert await store.record_thread(1, day, owner="a", thread_id=SNOWFLAKE + 10)
    assert await store.finish_post(1, day, "posted", owner="a", now=at(2), edit_at=at(60))
    assert await store.claim_edit(1, day, owner="e", lease_until=at(70), now=at(60), payload='["edited 1"]')
    assert await store.record_edit(1, day, 1, owner="e", now=at(61.5))
    assert await store.record_edit(1, day, 2, owner="e", now=at(62.25))
    assert await store.finish_edit(1, day, "edited", owner="e", now=at(63))
    # Posted without a thread (no permission); its edit half made by a process that holds it still.
    await _post(store, 2, day)
    assert await store.record_thread(2, day, owner="a", thread_id=None, error="missing Create Public Threads")
    assert await store.record_part(2, day, 1, 2001, owner="a", now=at(1))
    assert await store.finish_post(2, day, "posted", owner="a", now=at(2), edit_at=at(60))
    assert await store.claim_edit(2, day, owner="e", lease_until=at(70), now=at(60), payload='["edited 2"]')
    assert await store.record_edit(2, day, 1, owner="e", now=at(61))
    # Posted, its edit still due; another whose edit failed.
    await _post(store, 3, day)
    assert await store.finish_post(3, day, "posted", owner="a", now=at(2), edit_at=at(600))
    await _post(store, 4, day)
    assert await store.finish_post(4, day, "posted", owner="a", now=at(2), edit_at=at(60))
    assert await store.claim_edit(4, day, owner="e", lease_until=at(70), now=at(60), payload='["edited 4"]')
    assert await store.finish_edit(4, day, "failed", owner="e", now=at(61), error="message deleted")
    # A failed post, a post being made (held under its lease), and a skipped day.
    await _post(store, 5, day)
    assert await store.finish_post(5, day, "failed", owner="a", now=at(2), error="channel gone (404)")
    await _post(store, 6, day)
    assert await store.record_part(6, day, 1, 6001, owner="a", now=at(1))
    assert await store.skip_post(7, day, LIST_DAY, now=NOW)


async def _digest_state(cat: Catalogue) -> tuple[object, ...]:
    store = cat.digests
    return (
        await store.subscriptions(),
        await store.channel_states(),
        await store.all_posts(),
        await store.all_edits(),
    )


async def test_digest_state_round_trips_sqlite_postgresql_sqlite_exactly(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    places = [
        await catalogue_target("sqlite", tmp_path / "first", request),
        await catalogue_target("postgresql", tmp_path, request),
        await catalogue_target("sqlite", tmp_path / "back", request),
    ]
    first, middle, back = [await open_catalogue(place) for place in places]
    try:
        assert middle.backend == "postgresql"
        await _fill_digest_state(first)
        expected = await _digest_state(first)
        posts, edits = expected[2], expected[3]
        assert isinstance(posts, list) and isinstance(edits, list)
        assert len(posts) == 7 and [e.state for e in edits] == ["edited", "editing", "due", "failed"]
        assert posts[0].edited_at == {1: at(61.5), 2: at(62.25)} and posts[0].thread_id == SNOWFLAKE + 10

        to_middle = await copy_catalogue(first, middle)
        assert (to_middle.subscriptions, to_middle.posts, to_middle.edits) == (2, 7, 4)
        assert await _digest_state(middle) == expected
        await copy_catalogue(middle, back)
        assert await _digest_state(back) == expected

        # Copying again either way finds every record equal: nothing is rewritten.
        for source, target in ((first, middle), (middle, back), (back, middle)):
            await copy_catalogue(source, target)
            for record in await source.digests.all_posts():
                assert not await target.digests.restore_post(record)
            for edit in await source.digests.all_edits():
                assert not await target.digests.restore_edit(edit)
        assert await _digest_state(middle) == await _digest_state(back) == expected
    finally:
        for cat in (first, middle, back):
            await cat.close()


async def test_a_copied_edit_is_finished_where_it_was_left_and_a_later_copy_brings_its_end(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    source = await open_catalogue(await catalogue_target("sqlite", tmp_path / "source", request))
    target = await open_catalogue(await catalogue_target("postgresql", tmp_path, request))
    day = dt.date(2026, 11, 26)
    try:
        await _fill_digest_state(source)
        await copy_catalogue(source, target)
        # On the new catalogue, the half-made edit is taken over once its lease ran out: same payload, part 1
        # already edited (never edited again); the edited post is not claimable at all.
        taken = await target.digests.claim_edit(2, day, owner="moved", lease_until=at(90), now=at(80), payload="[]")
        assert taken is not None and not taken.created
        assert (taken.edit.payload, taken.edit.edited_parts) == ('["edited 2"]', frozenset({1}))
        assert await target.digests.claim_edit(1, day, owner="moved", lease_until=at(90), now=at(80)) is None
        # The source finishes its own half-made edit; the next copy brings that end, and the edit time, over.
        assert await source.digests.claim_edit(2, day, owner="e", lease_until=at(90), now=at(80))
        assert await source.digests.finish_edit(2, day, "edited", owner="e", now=at(81))
        await copy_catalogue(source, target)
        assert await target.digests.edit(2, day) == await source.digests.edit(2, day)
        assert await target.digests.all_posts() == await source.digests.all_posts()
    finally:
        await source.close()
        await target.close()
