"""The Daily Papers lists in PostgreSQL: record a day, read a day, trending windows, and the fetch record.

Recording a day is one transaction: its papers (the coalescing upsert), its list rows (new entries added,
upvotes refreshed only where they changed), the day re-ranked, the fetch remembered — then, last, the changed
papers appended to the change log and the papers listed for the first time anywhere entered in
`list_entries` (the follows' positions), both under the change log's lock so their numbers grow in commit
order. Every write of `daily` goes through here, so no list row can miss its entry. Rows are written in id
order, so a cron ingest and the bot's own scheduled ingest recording the same day at once lock them in the
same order.

The fetch record keeps a settled day's time: once a day's list was fetched `LIST_SETTLED_AFTER` after its
UTC day began, a later fetch that lists the same number of papers writes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bot.catalogue.postgres import _papers, changelog
from bot.catalogue.postgres._connections import BACKGROUND_WAIT_S, Connection, Database
from bot.catalogue.postgres._rows import paper_from_row, utc
from bot.catalogue.types import LIST_SETTLED_AFTER, DayChange
from bot.models import DailyEntry, Paper, Trending, TrendingPeriod

__all__ = ["TRENDING_DAYS", "day_entries", "day_papers", "fetched_days", "latest_day", "record_day", "trending"]

TRENDING_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}

_ENTRY = (
    "INSERT INTO daily (day, paper_id, rank, upvotes, fetched_at) VALUES (%s, %s, 0, %s, %s)\n"
    "ON CONFLICT (day, paper_id) DO UPDATE SET upvotes = excluded.upvotes, fetched_at = excluded.fetched_at\n"
    "WHERE daily.upvotes IS DISTINCT FROM excluded.upvotes"
)
_RERANK = (
    "UPDATE daily SET rank = ranked.r\n"
    "FROM (SELECT paper_id, row_number() OVER (ORDER BY upvotes DESC, paper_id) AS r FROM daily WHERE day = %s)\n"
    "    AS ranked\n"
    "WHERE daily.day = %s AND daily.paper_id = ranked.paper_id AND daily.rank <> ranked.r"
)
# A paper's first listing anywhere enters the follows' list; later listings (other days) do not.
_ENTER = (
    "INSERT INTO list_entries (paper_id, day, entered_at)\n"
    "SELECT paper_id, %s, %s FROM unnest(%s::text[]) WITH ORDINALITY AS listed (paper_id, n) ORDER BY n\n"
    "ON CONFLICT (paper_id) DO NOTHING"
)
_FETCHED = (
    "INSERT INTO fetched_days AS f (day, fetched_at, listed) VALUES (%s, %s, %s)\n"
    "ON CONFLICT (day) DO UPDATE SET fetched_at = excluded.fetched_at, listed = excluded.listed\n"
    "WHERE excluded.fetched_at > f.fetched_at AND (f.fetched_at < %s OR excluded.listed <> f.listed)"
)


async def record_day(
    database: Database, day: dt.date, entries: Sequence[DailyEntry], fetched_at: dt.datetime
) -> DayChange:
    """Store one day's list: upsert its papers, add new entries, refresh upvotes, re-rank, note the fetch."""
    fetched = utc(fetched_at)
    settled_from = dt.datetime.combine(day, dt.time(), dt.UTC) + LIST_SETTLED_AFTER

    async def body(conn: Connection) -> tuple[int, int]:
        changed = await _papers.upsert(conn, [entry.paper for entry in entries], fetched)
        cursor = await conn.execute("SELECT paper_id FROM daily WHERE day = %s", (day,))
        known = {row["paper_id"] for row in await cursor.fetchall()}
        new_in_day: list[str] = []
        for entry in entries:
            if entry.paper.id not in known:
                new_in_day.append(entry.paper.id)
                known.add(entry.paper.id)
        if entries:
            in_id_order = sorted(entries, key=lambda entry: entry.paper.id)
            await conn.cursor().executemany(
                _ENTRY, [(day, entry.paper.id, entry.upvotes, fetched) for entry in in_id_order]
            )
            await conn.execute(_RERANK, (day, day))
        await conn.execute(_FETCHED, (day, fetched, len(known), settled_from))
        await changelog.append(conn, changed, fetched)
        if new_in_day:
            await changelog.serialise(conn)
            await conn.execute(_ENTER, (day, fetched, new_in_day))
        return len(new_in_day), len(changed)

    added, papers_changed = await database.write(body)
    return DayChange(day=day, listed=len(entries), added=added, papers_changed=papers_changed)


async def fetched_days(database: Database, since: dt.date, until: dt.date) -> dict[dt.date, dt.datetime]:
    """When each day in the range was last fetched."""
    rows = await database.read(
        "SELECT day, fetched_at FROM fetched_days WHERE day BETWEEN %s AND %s",
        (since, until),
        borrow_s=BACKGROUND_WAIT_S,
    )
    return {row["day"]: row["fetched_at"].astimezone(dt.UTC) for row in rows}


async def day_entries(database: Database, day: dt.date) -> list[DailyEntry]:
    """The stored list for `day`, each paper with its list's upvotes, by rank."""
    rows = await database.read(
        "SELECT d.upvotes AS listed_upvotes, p.* FROM daily d JOIN papers p ON p.id = d.paper_id\n"
        "WHERE d.day = %s ORDER BY d.rank, p.id",
        (day,),
        borrow_s=BACKGROUND_WAIT_S,
    )
    return [DailyEntry(day=day, paper=paper_from_row(row), upvotes=int(row["listed_upvotes"])) for row in rows]


async def latest_day(database: Database) -> dt.date | None:
    """The most recent stored list day."""
    latest: dt.date | None = await database.value("SELECT max(day) FROM daily")
    return latest


async def day_papers(database: Database, day: dt.date) -> list[Paper]:
    """The stored list for `day`, by latest upvotes (ties by id)."""
    rows = await database.read(
        "SELECT p.* FROM daily d JOIN papers p ON p.id = d.paper_id WHERE d.day = %s\n"
        "ORDER BY coalesce(p.upvotes, d.upvotes) DESC, p.id",
        (day,),
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
        "SELECT p.* FROM papers p WHERE p.id IN (SELECT paper_id FROM daily WHERE day BETWEEN %s AND %s)\n"
        "ORDER BY coalesce(p.upvotes, 0) DESC, p.id LIMIT %s",
        (first, last, limit),
    )
    return Trending(period=period, first_day=first, last_day=last, papers=tuple(paper_from_row(r) for r in rows))
