"""The catalogue against a real SQLite file: upserts, day lists, trending, lookups, stats, safety."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.models import DailyEntry, Paper
from tests.catalogue.conftest import fixture_days

D1 = dt.date(2024, 3, 13)


def _paper(pid: str = "2401.00001", **fields: object) -> Paper:
    base: dict[str, object] = {"id": pid, "title": f"Paper {pid}", "abstract": "An abstract.", "authors": ("A",)}
    base.update(fields)
    return Paper(**base)  # type: ignore[arg-type]


def _table_dump(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        papers = db.execute("SELECT * FROM papers ORDER BY id").fetchall()
        daily = db.execute("SELECT * FROM daily ORDER BY day, paper_id").fetchall()
    return [*papers, *daily]


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
    before = _table_dump(filled.path)
    for day, entries in fixture_days().items():
        change = await filled.record_day(day, entries, fetched_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        assert change.added == 0
        assert change.papers_changed == 0
    assert _table_dump(filled.path) == before


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
    with sqlite3.connect(catalogue.path) as db:
        ranks = db.execute("SELECT paper_id, rank FROM daily WHERE day = ? ORDER BY rank", (D1.isoformat(),))
        assert [r[0] for r in ranks] == [b.id, a.id, c.id]


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


async def test_database_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "papers.db"
    cat = await Catalogue.open(path)
    await cat.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_reopen_keeps_data_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    cat = await Catalogue.open(path)
    await cat.upsert_papers([_paper()])
    await cat.close()
    again = await Catalogue.open(path)
    try:
        assert await again.get("2401.00001") is not None
    finally:
        await again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_failed_write_rolls_back_whole_transaction(catalogue: Catalogue) -> None:
    good = _paper("2401.00001")
    bad = Paper(id="2401.00002", title=None)  # type: ignore[arg-type]  # NOT NULL violation mid-batch
    with pytest.raises((sqlite3.Error, AttributeError, TypeError)):
        await catalogue.upsert_papers([good, bad])
    assert await catalogue.get(good.id) is None
    assert await catalogue.upsert_papers([good]) == 1  # and the writer is usable afterwards


async def test_search_index_stays_in_step_with_updates(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers([_paper(title="Quantum widgets")])
    assert (await catalogue.search("widgets")).papers
    await catalogue.upsert_papers([_paper(title="Classical gadgets")])
    assert not (await catalogue.search("widgets")).papers
    assert [p.id for p in (await catalogue.search("gadgets")).papers] == ["2401.00001"]
    assert [t for _, t in await catalogue.autocomplete("gadg")] == ["Classical gadgets"]
    with sqlite3.connect(catalogue.path) as db:
        assert db.execute("SELECT count(*) FROM search_outbox").fetchone()[0] == 0


async def test_index_lost_or_behind_is_repaired_on_open(tmp_path: Path) -> None:
    import shutil

    from bot.catalogue.store import index_directory

    path = tmp_path / "papers.db"
    cat = await Catalogue.open(path)
    await cat.upsert_papers([_paper("2401.00001", title="Quantum widgets")])
    await cat.close()
    # A crash between the SQLite commit and the index commit leaves the id in the outbox.
    with sqlite3.connect(path) as db:
        db.execute("UPDATE papers SET title = 'Classical gadgets', title_key = 'classical gadgets'")
        db.execute("INSERT INTO search_outbox (id) VALUES ('2401.00001')")
    cat = await Catalogue.open(path)
    assert [p.id for p in (await cat.search("gadgets")).papers] == ["2401.00001"]
    assert not (await cat.search("widgets")).papers
    await cat.close()
    shutil.rmtree(index_directory(path))  # lost entirely: rebuilt from SQLite
    cat = await Catalogue.open(path)
    try:
        assert [p.id for p in (await cat.search("gadgets")).papers] == ["2401.00001"]
    finally:
        await cat.close()


async def test_search_never_serves_a_paper_the_catalogue_lacks(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers([_paper("2401.00001", title="Quantum widgets")])
    with sqlite3.connect(catalogue.path) as db:  # the row vanishes behind the index's back
        db.execute("DELETE FROM papers WHERE id = '2401.00001'")
    results = await catalogue.search("widgets")
    assert results.papers == () and results.matched == "none"
    assert await catalogue.autocomplete("quantum") == []


async def test_a_write_cancelled_during_begin_leaves_the_writer_usable(catalogue: Catalogue) -> None:
    for _ in range(20):
        task = asyncio.create_task(catalogue.upsert_papers([_paper()]))
        await asyncio.sleep(0)  # let it reach BEGIN, then cancel it there
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await catalogue.upsert_papers([_paper("2401.00077")]) == 1
