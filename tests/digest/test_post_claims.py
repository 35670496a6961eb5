"""Post claims with leases, and once-only scheduler slots, on every backend (the shared `catalogue` fixture).

Two processes on one catalogue are two catalogue objects opened on the same target (`two_processes`): separate
connections, so a claim is decided by the database, not by one object's lock.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import Catalogue, NewPost, open_catalogue
from bot.catalogue.sqlite._migrate import available_migrations

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 8, tzinfo=UTC)
DAY, LIST_DAY = dt.date(2026, 11, 26), dt.date(2026, 11, 25)
CHANNEL = 5
NEW = NewPost(LIST_DAY, payload='["the rendered parts"]', nonces={1: "nonce-1", 2: "nonce-2", 3: "nonce-3"})


def minutes(n: float) -> dt.datetime:
    return NOW + dt.timedelta(minutes=n)


@pytest.fixture
async def two_processes(shared_target: str) -> AsyncIterator[tuple[Catalogue, Catalogue]]:
    """Two catalogues opened on one target: what two bot processes sharing a database see."""
    async with await open_catalogue(shared_target) as first, await open_catalogue(shared_target) as second:
        yield first, second


async def test_a_live_lease_refuses_other_owners_and_an_expired_one_is_taken_over_as_it_was_left(
    catalogue: Any,
) -> None:
    store = catalogue.digests
    claim = await store.claim_post(CHANNEL, DAY, owner="a", lease_until=minutes(2), now=NOW, new=NEW)
    assert claim is not None and claim.created
    assert claim.record.owner == "a" and claim.record.lease_until == minutes(2) and claim.record.started_at == NOW
    assert await store.record_part(CHANNEL, DAY, 1, 1001, owner="a", now=minutes(0.5))

    # Another process, while "a"'s lease lives: refused, whether or not it brings a render of its own.
    assert await store.claim_post(CHANNEL, DAY, owner="b", lease_until=minutes(3), now=minutes(1), new=NEW) is None
    assert await store.claim_post(CHANNEL, DAY, owner="b", lease_until=minutes(3), now=minutes(1)) is None

    # The lease ends at its instant: "b" takes the post over exactly as "a" left it.
    other = NewPost(LIST_DAY, payload='["another render"]', nonces={1: "x"})
    taken = await store.claim_post(CHANNEL, DAY, owner="b", lease_until=minutes(4), now=minutes(2), new=other)
    assert taken is not None and not taken.created and taken.previous_owner == "a"
    record = taken.record
    assert (record.owner, record.lease_until, record.started_at) == ("b", minutes(4), NOW)
    assert record.payload == NEW.payload and record.nonces == dict(NEW.nonces) and record.message_ids == {1: 1001}

    # The stale owner learns it lost the lease at every step, and writes nothing.
    assert not await store.renew_post(CHANNEL, DAY, owner="a", lease_until=minutes(10))
    assert not await store.record_part(CHANNEL, DAY, 2, 1002, owner="a", now=minutes(2))
    assert not await store.finish_post(CHANNEL, DAY, "posted", owner="a", now=minutes(2))
    assert await store.claim_post(CHANNEL, DAY, owner="a", lease_until=minutes(5), now=minutes(3)) is None
    record = await store.post(CHANNEL, DAY)
    assert record.state == "posting" and record.owner == "b" and record.message_ids == {1: 1001}

    # The new owner records and closes.
    assert await store.record_part(CHANNEL, DAY, 2, 2002, owner="b", now=minutes(3))
    assert await store.record_part(CHANNEL, DAY, 3, 2003, owner="b", now=minutes(3))
    assert await store.finish_post(CHANNEL, DAY, "posted", owner="b", now=minutes(3))
    record = await store.post(CHANNEL, DAY)
    assert record.state == "posted" and record.message_ids == {1: 1001, 2: 2002, 3: 2003}
    assert record.lease_until is None and record.finished_at == minutes(3)
    # A closed post is never claimed again, whatever the lease said.
    assert await store.claim_post(CHANNEL, DAY, owner="c", lease_until=minutes(60), now=minutes(50), new=NEW) is None


async def test_a_live_owner_keeps_its_post_by_renewing(catalogue: Any) -> None:
    store = catalogue.digests
    assert await store.claim_post(CHANNEL, DAY, owner="a", lease_until=minutes(2), now=NOW, new=NEW)
    assert await store.renew_post(CHANNEL, DAY, owner="a", lease_until=minutes(5))
    assert await store.claim_post(CHANNEL, DAY, owner="b", lease_until=minutes(6), now=minutes(4)) is None
    assert (await store.post(CHANNEL, DAY)).lease_until == minutes(5)
    # Its own process (after a restart, or the next catch-up) may claim again at any time.
    mine = await store.claim_post(CHANNEL, DAY, owner="a", lease_until=minutes(7), now=minutes(4))
    assert mine is not None and mine.previous_owner == "a" and mine.record.lease_until == minutes(7)
    # An owner whose lease ran out but whom nobody replaced still holds the record.
    assert await store.record_part(CHANNEL, DAY, 1, 1001, owner="a", now=minutes(30))
    assert await store.finish_post(CHANNEL, DAY, "failed", owner="a", error="gone", now=minutes(30))
    assert not await store.renew_post(CHANNEL, DAY, owner="a", lease_until=minutes(40))
    record = await store.post(CHANNEL, DAY)
    assert (record.state, record.error, record.message_ids) == ("failed", "gone", {1: 1001})


async def test_a_part_recorded_twice_keeps_its_first_message(catalogue: Any) -> None:
    store = catalogue.digests
    assert await store.claim_post(CHANNEL, DAY, owner="a", lease_until=minutes(2), now=NOW, new=NEW)
    assert await store.record_part(CHANNEL, DAY, 2, 1002, owner="a", now=NOW)
    assert await store.record_part(CHANNEL, DAY, 2, 9999, owner="a", now=NOW)
    assert await store.record_part(CHANNEL, DAY, 4, 1004, owner="a", now=NOW)  # a part without a nonce row
    record = await store.post(CHANNEL, DAY)
    assert record.message_ids == {2: 1002, 4: 1004} and record.nonces == dict(NEW.nonces)
    with pytest.raises(ValueError, match="must be 'posted'"):
        await store.finish_post(CHANNEL, DAY, "posting", owner="a", now=NOW)


async def test_nothing_to_claim_without_a_render_and_a_skipped_day_stays_skipped(catalogue: Any) -> None:
    store = catalogue.digests
    assert await store.claim_post(CHANNEL, DAY, owner="a", lease_until=minutes(2), now=NOW) is None
    assert await store.post(CHANNEL, DAY) is None
    assert await store.skip_post(CHANNEL, DAY, LIST_DAY, now=NOW)
    assert not await store.skip_post(CHANNEL, DAY, LIST_DAY, now=minutes(1))
    assert await store.claim_post(CHANNEL, DAY, owner="a", lease_until=minutes(2), now=NOW, new=NEW) is None
    record = await store.post(CHANNEL, DAY)
    assert (record.state, record.finished_at, record.owner, record.message_ids) == ("skipped", NOW, None, {})
    # A day that already has a record is not skipped over it.
    assert await store.claim_post(
        CHANNEL, DAY + dt.timedelta(days=1), owner="a", lease_until=minutes(2), now=NOW, new=NEW
    )
    assert not await store.skip_post(CHANNEL, DAY + dt.timedelta(days=1), LIST_DAY, now=NOW)


async def test_two_processes_racing_for_one_post_give_it_to_exactly_one(
    two_processes: tuple[Catalogue, Catalogue],
) -> None:
    first, second = two_processes

    async def claim(catalogue: Catalogue, owner: str) -> str | None:
        got = await catalogue.digests.claim_post(CHANNEL, DAY, owner=owner, lease_until=minutes(2), now=NOW, new=NEW)
        return owner if got is not None else None

    winners = await asyncio.gather(*(claim((first, second)[i % 2], f"p{i}") for i in range(8)))
    [winner] = [w for w in winners if w is not None]
    for catalogue in (first, second):
        record = await catalogue.digests.post(CHANNEL, DAY)
        assert record is not None and record.owner == winner
    # After the lease, exactly one of the others takes it over.
    later = await asyncio.gather(
        *(
            (first, second)[i % 2].digests.claim_post(
                CHANNEL, DAY, owner=f"q{i}", lease_until=minutes(5), now=minutes(3)
            )
            for i in range(8)
        )
    )
    taken = [c for c in later if c is not None]
    assert len(taken) == 1 and taken[0].previous_owner == winner


async def test_each_slot_is_claimed_once_across_processes_and_old_claims_are_pruned(
    two_processes: tuple[Catalogue, Catalogue],
) -> None:
    first, second = two_processes
    slot = dt.datetime(2026, 11, 26, 6, 30, tzinfo=UTC)
    results = await asyncio.gather(
        *((first, second)[i % 2].digests.claim_slot("ingest", slot, owner=f"p{i}", now=slot) for i in range(6))
    )
    assert sorted(results) == [False] * 5 + [True]
    assert await second.digests.claim_slot("other-job", slot, owner="p1", now=slot)  # slots are per job
    assert await first.digests.claim_slot("ingest", slot + dt.timedelta(minutes=30), owner="p1", now=slot)
    # A week later the old claims are gone: the table does not grow forever.
    week_later = slot + dt.timedelta(days=8)
    assert await first.digests.claim_slot("ingest", week_later, owner="p2", now=week_later)
    assert await second.digests.claim_slot("ingest", slot, owner="p3", now=week_later)


async def test_a_version_4_catalogue_keeps_its_post_records(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    with sqlite3.connect(path) as db:
        for version, _name, sql in available_migrations()[:4]:
            db.executescript(sql)
            db.execute(f"PRAGMA user_version = {version}")
        db.executemany(
            "INSERT INTO digest_posts (channel_id, local_date, list_day, state, message_ids, started_at)\n"
            "VALUES (5, ?, ?, ?, ?, ?)",
            [
                ("2026-11-25", "2026-11-24", "posted", '{"1": 11, "2": 12}', "2026-11-25T08:00:00+00:00"),
                ("2026-11-26", "2026-11-25", "posting", '{"1": 21}', "2026-11-26T08:00:00+00:00"),
            ],
        )
    catalogue = await open_catalogue(path)
    try:
        store = catalogue.digests
        assert (await store.post(5, dt.date(2026, 11, 25))).message_ids == {1: 11, 2: 12}
        half = await store.post(5, DAY)
        assert half.message_ids == {1: 21} and half.owner is None and half.lease_until is None
        # A 'posting' record from before leases has no holder: the first process to look takes it over.
        claim = await store.claim_post(5, DAY, owner="a", lease_until=minutes(2), now=NOW)
        assert claim is not None and claim.previous_owner is None and claim.record.message_ids == {1: 21}
    finally:
        await catalogue.close()
