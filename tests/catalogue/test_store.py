"""The catalogue contract on every backend: upserts, day lists, trending, lookups, stats, transactions.

Backend-specific behaviour (files, WAL, locks) is in test_sqlite.py / test_postgres.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt

import pytest

from bot.catalogue import Catalogue
from bot.models import DailyEntry, Paper
from tests.stores import fixture_days

D1 = dt.date(2024, 3, 13)


def _paper(pid: str = "2401.00001", **fields: object) -> Paper:
    base: dict[str, object] = {"id": pid, "title": f"Paper {pid}", "abstract": "An abstract.", "authors": ("A",)}
    base.update(fields)
    return Paper(**base)  # type: ignore[arg-type]


async def _snapshot(catalogue: Catalogue) -> tuple[object, ...]:
    """Everything stored, read through the protocol: papers, every day's list, and the change log's end."""
    papers = [p async for batch in catalogue.stream_papers() for p in batch]
    days = [await catalogue.day_papers(day) for day in sorted(fixture_days())]
    return (papers, days, await catalogue.log_position(), await catalogue.stats())


async def test_every_fixture_day_lands_and_is_queryable(filled: Catalogue) -> None:
    days = fixture_days()
    assert len(days) >= 18
    stats = await filled.stats()
    distinct = {e.paper.id for entries in days.values() for e in entries}
    assert stats.papers == len(distinct)
    assert stats.days == len(days)
    assert stats.first_day == min(days)
    assert stats.last_day == max(days)
    assert stats.db_bytes > 0
    for day, entries in days.items():
        listed = await filled.day_papers(day)
        assert {p.id for p in listed} == {e.paper.id for e in entries}
        upvotes = [p.upvotes or 0 for p in listed]
        assert upvotes == sorted(upvotes, reverse=True)


async def test_identical_response_changes_nothing(filled: Catalogue) -> None:
    before = await _snapshot(filled)
    for day, entries in fixture_days().items():
        change = await filled.record_day(day, entries)
        assert change.added == 0
        assert change.papers_changed == 0
    after = await _snapshot(filled)
    assert after[:3] == before[:3]  # same rows, same lists, nothing logged for any view to redo


async def test_missing_field_never_erases_a_known_one(catalogue: Catalogue) -> None:
    full = _paper(
        upvotes=10,
        github_repo="https://github.com/a/b",
        github_stars=5,
        ai_summary="TL;DR",
        ai_keywords=("rl",),
        organization="Org",
        published=dt.date(2024, 1, 2),
    )
    await catalogue.upsert_papers([full])
    sparse = Paper(id=full.id, title=full.title)
    assert await catalogue.upsert_papers([sparse]) == 0
    stored = await catalogue.get(full.id)
    assert stored is not None
    assert dataclasses.replace(stored, first_seen=None, last_seen=None) == full


async def test_newer_response_updates_counts_adds_and_reranks(catalogue: Catalogue) -> None:
    a, b = _paper("2401.00001", upvotes=5), _paper("2401.00002", upvotes=3)
    await catalogue.record_day(D1, [DailyEntry(D1, a, 5), DailyEntry(D1, b, 3)])
    assert [p.id for p in await catalogue.day_papers(D1)] == [a.id, b.id]
    b2 = dataclasses.replace(b, upvotes=50, github_stars=7, num_comments=2, ai_summary="new")
    c = _paper("2401.00003", upvotes=1)
    change = await catalogue.record_day(D1, [DailyEntry(D1, b2, 50), DailyEntry(D1, c, 1)])
    assert change.added == 1
    assert change.papers_changed == 2
    listed = await catalogue.day_papers(D1)
    assert [p.id for p in listed] == [b.id, a.id, c.id]  # a kept though absent from the later fetch
    stored_b = await catalogue.get(b.id)
    assert stored_b is not None and (stored_b.upvotes, stored_b.github_stars, stored_b.ai_summary) == (50, 7, "new")


async def test_partial_day_then_full_day(catalogue: Catalogue) -> None:
    entries = next(iter(fixture_days().values()))
    await catalogue.record_day(D1, entries[:5])
    assert len(await catalogue.day_papers(D1)) == 5
    change = await catalogue.record_day(D1, entries)
    assert change.added == len(entries) - 5
    assert len(await catalogue.day_papers(D1)) == len(entries)


async def test_trending_windows_anchor_at_latest_day(catalogue: Catalogue) -> None:
    empty = await catalogue.trending("week")
    assert empty.papers == () and empty.last_day is None
    last = dt.date(2024, 5, 31)
    layout = {
        last: ("2405.00001", 10),
        last - dt.timedelta(days=6): ("2405.00002", 30),
        last - dt.timedelta(days=7): ("2405.00003", 99),
        last - dt.timedelta(days=29): ("2405.00004", 20),
        last - dt.timedelta(days=30): ("2405.00005", 500),
    }
    for day, (pid, up) in layout.items():
        await catalogue.record_day(day, [DailyEntry(day, _paper(pid, upvotes=up), up)])
    day = await catalogue.trending("day")
    assert [p.id for p in day.papers] == ["2405.00001"]
    week = await catalogue.trending("week")
    assert [p.id for p in week.papers] == ["2405.00002", "2405.00001"]
    assert week.first_day == last - dt.timedelta(days=6)
    month = await catalogue.trending("month")
    assert [p.id for p in month.papers] == ["2405.00003", "2405.00002", "2405.00004", "2405.00001"]
    assert [p.id for p in (await catalogue.trending("month", limit=2)).papers] == ["2405.00003", "2405.00002"]


async def test_trending_ties_break_by_id_and_papers_are_distinct(catalogue: Catalogue) -> None:
    for offset in range(3):
        day = D1 + dt.timedelta(days=offset)
        await catalogue.record_day(
            day,
            [DailyEntry(day, _paper("2401.00009", upvotes=7), 7), DailyEntry(day, _paper("2401.00002", upvotes=7), 7)],
        )
    week = await catalogue.trending("week")
    assert [p.id for p in week.papers] == ["2401.00002", "2401.00009"]


async def test_get_and_find_title(filled: Catalogue) -> None:
    chronos = await filled.get("2403.07815")
    assert chronos is not None and chronos.title.startswith("Chronos")
    assert await filled.get("9999.99999") is None
    exact = await filled.find_title("  chronos: LEARNING the language of time   series ")
    assert exact is not None and exact.id == "2403.07815"
    assert await filled.find_title("zzzz qqqq") is None
    assert await filled.find_title("") is None


async def test_failed_write_rolls_back_whole_transaction(catalogue: Catalogue) -> None:
    good = _paper("2401.00001")
    bad = Paper(id="2401.00002", title=None)  # type: ignore[arg-type]  # NOT NULL violation mid-batch
    with pytest.raises(Exception):  # noqa: B017  (each driver raises its own error; what matters is after)
        await catalogue.upsert_papers([good, bad])
    assert await catalogue.get(good.id) is None
    assert await catalogue.upsert_papers([good]) == 1  # and the writer is usable afterwards


async def test_a_write_cancelled_during_begin_leaves_the_writer_usable(catalogue: Catalogue) -> None:
    for _ in range(20):
        task = asyncio.create_task(catalogue.upsert_papers([_paper()]))
        await asyncio.sleep(0)  # let it reach BEGIN, then cancel it there
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await catalogue.upsert_papers([_paper("2401.00077")]) == 1


async def test_fetched_days_records_every_fetch_empty_lists_included(catalogue: Catalogue) -> None:
    first = dt.datetime(2024, 3, 14, 1, tzinfo=dt.UTC)
    later = dt.datetime(2024, 3, 15, 6, tzinfo=dt.UTC)
    await catalogue.record_day(D1, [DailyEntry(D1, _paper(), 3)], fetched_at=first)
    weekend = D1 + dt.timedelta(days=3)
    await catalogue.record_day(weekend, [], fetched_at=first)
    assert await catalogue.fetched_days(D1, weekend) == {D1: first, weekend: first}
    await catalogue.record_day(D1, [DailyEntry(D1, _paper(), 4)], fetched_at=later)
    assert (await catalogue.fetched_days(D1, D1)) == {D1: later}
    # Settled (fetched two days after it began): an identical later fetch keeps that time and writes nothing.
    mark = await catalogue.log_position()
    await catalogue.record_day(D1, [DailyEntry(D1, _paper(), 4)], fetched_at=later + dt.timedelta(days=30))
    assert (await catalogue.fetched_days(D1, D1)) == {D1: later}
    assert await catalogue.log_position() == mark
    assert await catalogue.fetched_days(D1 + dt.timedelta(days=1), D1 + dt.timedelta(days=2)) == {}
    assert await catalogue.latest_day() == D1  # an empty list is a fetch, not a stored list


async def test_get_many_keeps_order_and_drops_unknown(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers([_paper("2401.00001"), _paper("2401.00002"), _paper("hep-th/9901001")])
    found = await catalogue.get_many(["2401.00002", "9999.99999", "hep-th/9901001", "2401.00001"])
    assert [p.id for p in found] == ["2401.00002", "hep-th/9901001", "2401.00001"]
    assert await catalogue.titles_by_id(["2401.00001", "nope"]) == {"2401.00001": "Paper 2401.00001"}


async def test_title_lookups_for_autocomplete_and_rebuild_fallback(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers(
        [
            _paper("2401.00001", title="Chronos: time series", upvotes=3),
            _paper("2401.00002", title="Chronology of  LLMs", upvotes=9),
            _paper("2401.00003", title="Time series for chronos fans", upvotes=1),
        ]
    )
    assert await catalogue.titles_starting_with("CHRONO", limit=10) == [  # in normalised-title order
        ("2401.00002", "Chronology of LLMs"),
        ("2401.00001", "Chronos: time series"),
    ]
    assert [pid for pid, _ in await catalogue.titles_starting_with("", limit=2)] == ["2401.00002", "2401.00001"]
    found = await catalogue.titles_containing(["chronos", "time"], limit=10)
    assert [p.id for p in found] == ["2401.00001", "2401.00003"]
    assert await catalogue.count_papers() == 3
    streamed = [p.id async for batch in catalogue.stream_papers(batch_size=2) for p in batch]
    assert sorted(streamed) == ["2401.00001", "2401.00002", "2401.00003"]


async def test_stats_name_the_backend(filled: Catalogue) -> None:
    stats = await filled.stats()
    assert stats.backend == filled.backend
    assert filled.identity and len(filled.identity) >= 16
