"""The Daily Papers lists in SQLite: record a day, read a day, trending windows, and the fetch record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.catalogue.sqlite import _papers
from bot.catalogue.sqlite._connections import Database, fetch_all
from bot.catalogue.sqlite._rows import day as parse_day
from bot.catalogue.sqlite._rows import iso, paper_from_row
from bot.catalogue.types import LIST_SETTLED_AFTER, DayChange
from bot.models import DailyEntry, Paper, Trending, TrendingPeriod

TRENDING_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}


async def record_day(
    database: Database, day: dt.date, entries: Sequence[DailyEntry], fetched_at: dt.datetime
) -> DayChange:
    """Store one day's list: upsert its papers, add new entries, refresh upvotes, re-rank, note the fetch."""
    fetched = iso(fetched_at)
    key = day.isoformat()
    async with database.transaction() as db:
        changed = await _papers.upsert(db, [entry.paper for entry in entries], fetched_at)
        rows = await fetch_all(db, "SELECT paper_id FROM daily WHERE day = ?", (key,))
        known = {row[0] for row in rows}
        added = 0
        for entry in entries:
            await db.execute(
                "INSERT INTO daily (day, paper_id, rank, upvotes, fetched_at) VALUES (?, ?, 0, ?, ?)\n"
                "ON CONFLICT (day, paper_id) DO UPDATE SET upvotes = excluded.upvotes,\n"
                "    fetched_at = excluded.fetched_at WHERE daily.upvotes IS NOT excluded.upvotes",
                (key, entry.paper.id, entry.upvotes, fetched),
            )
            if entry.paper.id not in known:
                added += 1
                known.add(entry.paper.id)
        await db.execute(
            "WITH ranked AS (SELECT paper_id, row_number() OVER (ORDER BY upvotes DESC, paper_id) AS r\n"
            "                FROM daily WHERE day = ?)\n"
            "UPDATE daily SET rank = ranked.r FROM ranked\n"
            "WHERE daily.day = ? AND daily.paper_id = ranked.paper_id AND daily.rank != ranked.r",
            (key, key),
        )
        settled_from = iso(dt.datetime.combine(day, dt.time(), dt.UTC) + LIST_SETTLED_AFTER)
        await db.execute(
            "INSERT INTO fetched_days (day, fetched_at, listed) VALUES (?, ?, ?)\n"
            "ON CONFLICT (day) DO UPDATE SET fetched_at = excluded.fetched_at, listed = excluded.listed\n"
            "WHERE excluded.fetched_at > fetched_days.fetched_at\n"
            "    AND (fetched_days.fetched_at < ? OR excluded.listed != fetched_days.listed)",
            (key, fetched, len(known), settled_from),
        )
    return DayChange(day=day, listed=len(entries), added=added, papers_changed=changed)


async def fetched_days(database: Database, since: dt.date, until: dt.date) -> dict[dt.date, dt.datetime]:
    """When each day in the range was last fetched."""
    rows = await database.read(
        "SELECT day, fetched_at FROM fetched_days WHERE day BETWEEN ? AND ?", (since.isoformat(), until.isoformat())
    )
    return {dt.date.fromisoformat(row["day"]): dt.datetime.fromisoformat(row["fetched_at"]) for row in rows}


async def day_entries(database: Database, day: dt.date) -> list[DailyEntry]:
    """The stored list for `day`, each paper with its list's upvotes, by rank."""
    rows = await database.read(
        "SELECT d.upvotes AS listed_upvotes, p.* FROM daily d JOIN papers p ON p.id = d.paper_id\n"
        "WHERE d.day = ? ORDER BY d.rank, p.id",
        (day.isoformat(),),
    )
    return [DailyEntry(day=day, paper=paper_from_row(row), upvotes=int(row["listed_upvotes"])) for row in rows]


async def latest_day(database: Database) -> dt.date | None:
    """The most recent stored list day."""
    rows = await database.read("SELECT max(day) FROM daily")
    return parse_day(rows[0][0]) if rows else None


async def day_papers(database: Database, day: dt.date) -> list[Paper]:
    """The stored list for `day`, by latest upvotes (ties by id)."""
    rows = await database.read(
        "SELECT p.* FROM daily d JOIN papers p ON p.id = d.paper_id WHERE d.day = ?\n"
        "ORDER BY coalesce(p.upvotes, d.upvotes) DESC, p.id",
        (day.isoformat(),),
    )
    return [paper_from_row(row) for row in rows]


async def trending(database: Database, period: TrendingPeriod, limit: int) -> Trending:
    """Distinct papers listed in the window ending at the latest stored day, by latest upvotes."""
    limit = max(1, min(limit, 100))
    last = await latest_day(database)
    if last is None:
        return Trending(period=period, first_day=None, last_day=None, papers=())
    first = last - dt.timedelta(days=TRENDING_DAYS[period] - 1)
    rows = await database.read(
        "SELECT p.* FROM papers p WHERE p.id IN (SELECT paper_id FROM daily WHERE day BETWEEN ? AND ?)\n"
        "ORDER BY coalesce(p.upvotes, 0) DESC, p.id LIMIT ?",
        (first.isoformat(), last.isoformat(), limit),
    )
    return Trending(period=period, first_day=first, last_day=last, papers=tuple(paper_from_row(r) for r in rows))
