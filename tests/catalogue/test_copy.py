"""`db copy`: any backend into any other, exact, idempotent, and incremental through the change log."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, NewFollow, NewPost, open_catalogue
from bot.catalogue.copy import copy_catalogue
from bot.errors import CatalogueError
from bot.models import DailyEntry, Paper, Subscription
from bot.search import open_search
from tests.stores import BACKENDS, catalogue_target, fixture_days

EVERY_DAY = (dt.date(1990, 1, 1), dt.date(9999, 12, 31))
NOW = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)


@pytest.fixture(params=BACKENDS)
async def target(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(await catalogue_target(request.param, tmp_path / "target", request))
    try:
        yield cat
    finally:
        await cat.close()


async def _everything(catalogue: Catalogue) -> tuple[object, ...]:
    papers = sorted([p async for batch in catalogue.stream_papers() for p in batch], key=lambda p: p.id)
    fetched = await catalogue.fetched_days(*EVERY_DAY)
    days = {day: [(e.paper.id, e.upvotes) for e in await catalogue.day_entries(day)] for day in fetched}
    subs = [
        dataclasses.replace(s, failing_reason=None, failing_since=None) for s in await catalogue.digests.subscriptions()
    ]
    return papers, fetched, days, subs


async def test_a_copy_is_exact_and_a_second_copy_changes_nothing(filled: Catalogue, target: Catalogue) -> None:
    await filled.digests.subscribe(Subscription(channel_id=42, guild_id=7, top_n=3), now=NOW)
    await filled.digests.see_channels([43], now=NOW)
    await filled.digests.mark_failing(43, "missing permissions (403)", now=NOW)
    new = NewPost(list_day=dt.date(2026, 10, 31), payload="[]", nonces={1: "n1", 2: "n2"})
    claim = await filled.digests.claim_post(42, dt.date(2026, 11, 1), owner="a", lease_until=NOW, now=NOW, new=new)
    assert claim is not None
    await filled.digests.record_part(42, dt.date(2026, 11, 1), 1, 1111, owner="a", now=NOW)
    await filled.follows.add_follow(7, NewFollow(("diffusion",), None, "k:diffusion"), guild_id=1, now=NOW)
    first = await copy_catalogue(filled, target)
    assert not first.incremental
    assert first.follows == 1
    assert first.papers_read == first.papers_changed == (await filled.stats()).papers
    assert first.days_read == first.days_changed > 0
    assert first.subscriptions == 1 and first.posts == 1
    assert await _everything(target) == await _everything(filled)
    mark = await target.log_position()
    second = await copy_catalogue(filled, target)
    assert second.incremental and second.papers_read == 0 and second.papers_changed == 0
    assert second.days_changed == 0
    assert await target.log_position() == mark  # nothing rewritten, nothing for the target's views to redo


async def test_a_later_copy_brings_only_what_changed(filled: Catalogue, target: Catalogue) -> None:
    await copy_catalogue(filled, target)
    some = await filled.get("2403.07815")
    assert some is not None
    await filled.upsert_papers([dataclasses.replace(some, upvotes=(some.upvotes or 0) + 100)])
    new_day = dt.date(2026, 1, 5)
    new = Paper(id="2601.00001", title="A brand new paper", abstract="New.", authors=("A. Author",))
    await filled.record_day(new_day, [DailyEntry(new_day, new, 3)], fetched_at=NOW)
    report = await copy_catalogue(filled, target)
    assert report.incremental
    assert report.papers_read == report.papers_changed == 2
    assert report.days_changed == 1
    assert await _everything(target) == await _everything(filled)


async def test_a_source_pruned_past_the_mark_is_compared_whole(filled: Catalogue, target: Catalogue) -> None:
    await copy_catalogue(filled, target)
    some = await filled.get("2403.07815")
    assert some is not None
    await filled.upsert_papers([dataclasses.replace(some, title="Chronos, renamed")])
    await filled.upsert_papers([Paper(id="2601.00002", title="Another new paper")])
    await filled.prune_changes(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    report = await copy_catalogue(filled, target)
    assert not report.incremental
    assert report.papers_changed == 2  # every paper read, only the two that differ written
    assert await _everything(target) == await _everything(filled)


async def test_the_copied_papers_are_searchable_in_the_target(
    filled: Catalogue, target: Catalogue, tmp_path: Path
) -> None:
    await copy_catalogue(filled, target)
    async with open_search(target, tmp_path / "target-index", role="cli") as search:
        found = await search.search("chronos")
        assert "2403.07815" in [p.id for p in found.papers]


async def test_copying_a_catalogue_into_itself_is_refused(catalogue: Catalogue) -> None:
    with pytest.raises(CatalogueError, match="is the catalogue being copied"):
        await copy_catalogue(catalogue, catalogue)


async def test_a_round_trip_sqlite_to_postgresql_and_back_is_exact(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """SQLite → PostgreSQL → a new SQLite file: every paper, day list, fetch time and subscription survives,
    and copying again either way changes nothing."""
    places = [
        await catalogue_target("sqlite", tmp_path / "first", request),
        await catalogue_target("postgresql", tmp_path, request),
        await catalogue_target("sqlite", tmp_path / "back", request),
    ]
    first, middle, back = [await open_catalogue(place) for place in places]
    try:
        for day, entries in fixture_days().items():
            await first.record_day(day, entries, fetched_at=NOW)
        await first.upsert_papers([Paper(id="hep-th/9901001", title="Old style id", withdrawn=True)])
        await first.digests.subscribe(Subscription(channel_id=42, guild_id=7, keywords=("llm",)), now=NOW)
        assert middle.backend == "postgresql"
        await copy_catalogue(first, middle)
        await copy_catalogue(middle, back)
        assert await _everything(back) == await _everything(middle) == await _everything(first)
        for source, target in ((first, middle), (middle, back)):
            again = await copy_catalogue(source, target)
            assert again.incremental and again.papers_changed == 0 and again.days_changed == 0
    finally:
        for cat in (first, middle, back):
            await cat.close()
