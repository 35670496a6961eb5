"""FollowStore on every backend (the shared `catalogue` fixture): a member's follows, the list entries, and the
exactly-once DM records. Written against the protocol only, so a new backend passes or fails the same tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from bot.catalogue import FOLLOW_LIMIT, Catalogue, NewFollow, NewFollowDM, open_catalogue
from bot.models import DailyEntry, Paper

UTC = dt.UTC
NOW = dt.datetime(2026, 11, 26, 8, tzinfo=UTC)
TODAY = NOW.date()
ANN, BO = 1001, 1002
LEASE = dt.timedelta(minutes=5)


def paper(n: int, **fields: object) -> Paper:
    return Paper(id=f"2611.{n:05d}", title=f"Paper {n}", **fields)  # type: ignore[arg-type]


def terms(*keywords: str, author: str | None = None) -> NewFollow:
    key = "|".join(sorted(k.casefold() for k in keywords)) + "@" + (author or "").casefold()
    return NewFollow(keywords=tuple(keywords), author=author, key=key)


async def list_papers(catalogue: Catalogue, day: dt.date, *numbers: int, at: dt.datetime = NOW) -> None:
    entries = [DailyEntry(day=day, paper=paper(n), upvotes=n) for n in numbers]
    await catalogue.record_day(day, entries, fetched_at=at)


# ---- a member's follows --------------------------------------------------------------------------------------


async def test_a_member_adds_lists_and_removes_only_their_own_follows(catalogue: Catalogue) -> None:
    store = catalogue.follows
    assert await store.follower(ANN) is None and await store.followers() == []
    added = await store.add_follow(ANN, terms("diffusion", "robot"), guild_id=7, now=NOW)
    assert added.status == "added" and added.count == 1 and added.follow is not None
    assert (added.follow.keywords, added.follow.author, added.follow.guild_id) == (("diffusion", "robot"), None, 7)
    by_author = await store.add_follow(ANN, terms(author="Jane Smith"), guild_id=8, now=NOW)
    theirs = await store.add_follow(BO, terms("diffusion"), guild_id=7, now=NOW)
    assert by_author.follow is not None and theirs.follow is not None

    ann = await store.follower(ANN)
    assert ann is not None and [f.follow_id for f in ann.follows] == [
        added.follow.follow_id,
        by_author.follow.follow_id,
    ]
    assert ann.follows[1].author == "Jane Smith" and ann.follows[1].created_at == NOW
    assert [f.user_id for f in await store.followers()] == [ANN, BO]

    # Bo cannot remove Ann's follow, whatever id he sends; Ann can.
    assert not await store.remove_follow(BO, added.follow.follow_id)
    assert len((await store.follower(ANN)).follows) == 2  # type: ignore[union-attr]
    assert await store.remove_follow(ANN, added.follow.follow_id)
    assert not await store.remove_follow(ANN, added.follow.follow_id)
    assert await store.remove_follow(ANN, by_author.follow.follow_id)
    assert await store.follower(ANN) is None
    assert [f.user_id for f in await store.followers()] == [BO]


async def test_the_same_terms_are_one_follow(catalogue: Catalogue) -> None:
    first = await catalogue.follows.add_follow(ANN, terms("LLM"), guild_id=None, now=NOW)
    again = await catalogue.follows.add_follow(ANN, terms("llm"), guild_id=None, now=NOW + dt.timedelta(hours=1))
    assert again.status == "exists" and again.follow == first.follow and again.count == 1


async def test_the_cap_holds_even_for_concurrent_adds(catalogue: Catalogue) -> None:
    results = await asyncio.gather(
        *(
            catalogue.follows.add_follow(ANN, terms(f"topic {i}"), guild_id=None, now=NOW)
            for i in range(FOLLOW_LIMIT + 5)
        )
    )
    assert sorted(r.status for r in results).count("added") == FOLLOW_LIMIT
    assert {r.status for r in results} == {"added", "limit"}
    assert len((await catalogue.follows.follower(ANN)).follows) == FOLLOW_LIMIT  # type: ignore[union-attr]
    # At the cap, the terms a member already has are still recognised (and resume a pause).
    assert (await catalogue.follows.add_follow(ANN, terms("topic 0"), guild_id=None, now=NOW)).status == "exists"
    assert (await catalogue.follows.add_follow(BO, terms("topic 0"), guild_id=None, now=NOW)).status == "added"


# ---- list entries ------------------------------------------------------------------------------------------


async def test_papers_enter_the_lists_once_in_the_order_they_were_first_listed(catalogue: Catalogue) -> None:
    store = catalogue.follows
    assert await store.list_position() == 0
    d1, d2 = dt.date(2026, 11, 24), dt.date(2026, 11, 25)
    await list_papers(catalogue, d1, 1, 2)
    start = await store.list_position()
    await list_papers(catalogue, d2, 3, 1)  # paper 1 again, on another day: it entered already
    await list_papers(catalogue, d1, 1, 2, 4)  # a late addition to an older day's list enters now
    await list_papers(catalogue, d1, 1, 2, 4)  # the same fetch again changes nothing
    newest = await store.list_position()
    entries = await store.list_entries(0, newest, since_day=d1)
    assert [(e.paper.id, e.day) for e in entries] == [
        (paper(1).id, d1),
        (paper(2).id, d1),
        (paper(3).id, d2),
        (paper(4).id, d1),
    ]
    positions = [e.position for e in entries]
    assert positions == sorted(positions) and len(set(positions)) == 4 and positions[-1] == newest
    assert entries[0].paper.title == "Paper 1"

    after_start = await store.list_entries(start, newest, since_day=d1)
    assert [e.paper.id for e in after_start] == [paper(3).id, paper(4).id]
    assert [e.paper.id for e in await store.list_entries(start, newest, since_day=d2)] == [paper(3).id]
    assert await store.list_entries(0, start, since_day=d1) == entries[:2]


async def test_a_first_follow_starts_at_the_newest_entry(catalogue: Catalogue) -> None:
    await list_papers(catalogue, dt.date(2026, 11, 24), 1, 2, 3)
    await catalogue.follows.add_follow(ANN, terms("x"), guild_id=None, now=NOW)
    ann = await catalogue.follows.follower(ANN)
    assert ann is not None
    assert ann.position == await catalogue.follows.list_position() > 0
    assert ann.active_since == NOW and not ann.paused and ann.last_dm_at is None


# ---- DM records -----------------------------------------------------------------------------------------------


async def _follower_with_news(catalogue: Catalogue) -> tuple[int, int]:
    await catalogue.follows.add_follow(ANN, terms("x"), guild_id=None, now=NOW - dt.timedelta(days=1))
    before = await catalogue.follows.list_position()
    await list_papers(catalogue, dt.date(2026, 11, 25), 1, 2)
    return before, await catalogue.follows.list_position()


async def test_a_dm_is_claimed_once_and_sent_moves_the_position(catalogue: Catalogue) -> None:
    store = catalogue.follows
    start, newest = await _follower_with_news(catalogue)
    new = NewFollowDM(from_position=start, to_position=newest, payload='["p"]')
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW) is None  # nothing to make
    claim = await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=new)
    assert claim is not None and claim.created and claim.previous_owner is None
    record = claim.record
    assert (record.state, record.owner, record.payload, record.from_position, record.to_position) == (
        "sending",
        "a",
        '["p"]',
        start,
        newest,
    )
    # Another process finds it held; the holder itself (after a restart) takes it straight back.
    assert await store.claim_dm(ANN, TODAY, owner="b", lease_until=NOW + LEASE, now=NOW, new=new) is None
    again = await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + 2 * LEASE, now=NOW)
    assert again is not None and not again.created and again.previous_owner == "a"
    assert [r.user_id for r in await store.dms_in_state("sending")] == [ANN]

    assert not await store.finish_dm(ANN, TODAY, "sent", owner="b", now=NOW)  # not the holder: nothing written
    assert (await store.follower(ANN)).position == start  # type: ignore[union-attr]
    assert await store.finish_dm(ANN, TODAY, "sent", owner="a", now=NOW + dt.timedelta(seconds=3))
    done = await store.dm(ANN, TODAY)
    assert done is not None and done.state == "sent" and done.finished_at == NOW + dt.timedelta(seconds=3)
    assert done.lease_until is None
    ann = await store.follower(ANN)
    assert ann is not None and ann.position == newest and ann.last_dm_at == NOW + dt.timedelta(seconds=3)
    # Closed: nobody claims it again, with or without new content.
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=new) is None
    assert await store.dms_in_state("sending") == []


async def test_a_dead_owners_dm_is_taken_over_after_its_lease(catalogue: Catalogue) -> None:
    store = catalogue.follows
    start, newest = await _follower_with_news(catalogue)
    new = NewFollowDM(from_position=start, to_position=newest, payload='["first"]')
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=new)
    later = NOW + LEASE
    other = NewFollowDM(from_position=start, to_position=newest, payload='["other"]')
    taken = await store.claim_dm(ANN, TODAY, owner="b", lease_until=later + LEASE, now=later, new=other)
    assert taken is not None and not taken.created and taken.previous_owner == "a"
    assert taken.record.payload == '["first"]' and taken.record.owner == "b"  # finished as it was begun
    assert not await store.finish_dm(ANN, TODAY, "sent", owner="a", now=later)  # the old owner lost it


async def test_a_transient_failure_releases_the_dm_until_its_retry_time(catalogue: Catalogue) -> None:
    store = catalogue.follows
    start, newest = await _follower_with_news(catalogue)
    new = NewFollowDM(from_position=start, to_position=newest, payload="[]")
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=new)
    retry_at = NOW + dt.timedelta(minutes=10)
    assert not await store.release_dm(ANN, TODAY, owner="b", retry_at=retry_at, error="503")
    assert await store.release_dm(ANN, TODAY, owner="a", retry_at=retry_at, error="Discord answered 503")
    record = await store.dm(ANN, TODAY)
    assert record is not None and (record.owner, record.attempts, record.error) == (None, 1, "Discord answered 503")
    # Not even the old owner may retry early: the retry time is for everyone.
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW + LEASE) is None
    claim = await store.claim_dm(ANN, TODAY, owner="b", lease_until=retry_at + LEASE, now=retry_at)
    assert claim is not None and claim.previous_owner is None and claim.record.attempts == 1


async def test_failed_keeps_the_position_and_closed_dms_pause_the_member(catalogue: Catalogue) -> None:
    store = catalogue.follows
    start, newest = await _follower_with_news(catalogue)
    new = NewFollowDM(from_position=start, to_position=newest, payload="[]")
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=new)
    reason = "your DMs are closed"
    assert await store.finish_dm(ANN, TODAY, "failed", owner="a", now=NOW, error=reason, pause=True)
    ann = await store.follower(ANN)
    assert ann is not None and ann.paused and (ann.paused_reason, ann.paused_at) == (reason, NOW)
    assert ann.position == start  # nothing was delivered
    assert (await store.dm(ANN, TODAY)).error == reason  # type: ignore[union-attr]

    # Following again — even the same terms — resumes, from the newest entry on.
    await list_papers(catalogue, dt.date(2026, 11, 26), 3)
    resumed_at = NOW + dt.timedelta(hours=2)
    assert (await store.add_follow(ANN, terms("x"), guild_id=None, now=resumed_at)).status == "exists"
    ann = await store.follower(ANN)
    assert ann is not None and not ann.paused and ann.paused_at is None
    assert ann.position == await store.list_position() and ann.active_since == resumed_at


async def test_a_pause_from_a_dm_begun_before_a_re_follow_is_not_applied(catalogue: Catalogue) -> None:
    store = catalogue.follows
    start, newest = await _follower_with_news(catalogue)
    new = NewFollowDM(from_position=start, to_position=newest, payload="[]")
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=new)
    await store.add_follow(ANN, terms("y"), guild_id=None, now=NOW)  # not paused: nothing restarts
    assert (await store.follower(ANN)).active_since < NOW  # type: ignore[union-attr]
    # The member resumed (paused earlier by another day's DM, then followed again) after this DM began.
    await store.remove_follow(ANN, (await store.follower(ANN)).follows[0].follow_id)  # type: ignore[union-attr]
    await store.remove_follow(ANN, (await store.follower(ANN)).follows[0].follow_id)  # type: ignore[union-attr]
    await store.add_follow(ANN, terms("z"), guild_id=None, now=NOW + dt.timedelta(minutes=1))
    assert await store.finish_dm(
        ANN, TODAY, "failed", owner="a", now=NOW + dt.timedelta(minutes=2), error="closed", pause=True
    )
    assert not (await store.follower(ANN)).paused  # type: ignore[union-attr]


async def test_skip_is_written_once_and_moves_the_position(catalogue: Catalogue) -> None:
    store = catalogue.follows
    start, newest = await _follower_with_news(catalogue)
    assert await store.skip_dm(ANN, TODAY, to_position=newest, now=NOW)
    assert not await store.skip_dm(ANN, TODAY, to_position=newest + 5, now=NOW)
    record = await store.dm(ANN, TODAY)
    assert record is not None and (record.state, record.from_position, record.to_position) == ("skipped", start, newest)
    assert (await store.follower(ANN)).position == newest  # type: ignore[union-attr]
    new = NewFollowDM(from_position=start, to_position=newest, payload="[]")
    assert await store.claim_dm(ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=new) is None


async def test_the_position_never_moves_back(catalogue: Catalogue) -> None:
    store = catalogue.follows
    start, newest = await _follower_with_news(catalogue)
    assert await store.claim_dm(
        ANN, TODAY, owner="a", lease_until=NOW + LEASE, now=NOW, new=NewFollowDM(start, start + 1, "[]")
    )
    assert await store.skip_dm(ANN, TODAY - dt.timedelta(days=1), to_position=newest, now=NOW)
    assert await store.finish_dm(ANN, TODAY, "sent", owner="a", now=NOW)
    assert (await store.follower(ANN)).position == newest  # type: ignore[union-attr]


async def test_finishing_as_sending_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(ValueError, match="closes a DM"):
        await catalogue.follows.finish_dm(ANN, TODAY, "sending", owner="a", now=NOW)


# ---- db copy ---------------------------------------------------------------------------------------------------


async def test_restoring_follows_into_another_catalogue_keeps_them_and_starts_members_at_its_newest_entry(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    source = catalogue
    await source.follows.add_follow(ANN, terms("diffusion"), guild_id=7, now=NOW - dt.timedelta(days=3))
    await source.follows.add_follow(ANN, terms(author="Jane Smith"), guild_id=8, now=NOW - dt.timedelta(days=2))
    await source.follows.add_follow(BO, terms("graphs"), guild_id=7, now=NOW - dt.timedelta(days=1))
    assert await source.follows.skip_dm(BO, TODAY, to_position=0, now=NOW)
    start = await source.follows.list_position()
    await list_papers(source, TODAY, 1)
    new = NewFollowDM(from_position=start, to_position=start + 1, payload="[]")
    assert await source.follows.claim_dm(BO, TODAY + dt.timedelta(days=1), owner="a", lease_until=NOW, now=NOW, new=new)
    await source.follows.finish_dm(
        BO, TODAY + dt.timedelta(days=1), "failed", owner="a", now=NOW, error="closed", pause=True
    )

    target = await open_catalogue(tmp_path / "copy" / "papers.db")  # db copy to an SQLite file
    try:
        await list_papers(target, TODAY, 1, 2)
        copied_at = NOW + dt.timedelta(days=5)
        followers = await source.follows.followers()
        assert await target.follows.restore_follows(followers, now=copied_at) == 3
        assert await target.follows.restore_follows(followers, now=copied_at) == 0  # again: nothing new
        got = await target.follows.followers()
        assert [[(f.keywords, f.author, f.guild_id, f.created_at) for f in m.follows] for m in got] == [
            [(f.keywords, f.author, f.guild_id, f.created_at) for f in m.follows] for m in followers
        ]
        ann, bo = got
        assert ann.position == bo.position == await target.follows.list_position()
        assert ann.active_since == copied_at and not ann.paused
        assert (bo.paused_reason, bo.paused_at) == ("closed", NOW)
    finally:
        await target.close()
