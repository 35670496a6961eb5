"""Papers in SQLite: the coalescing upsert, lookups by id and title, and the full scan for rebuilds.

Upserts never let a missing value (None) erase a known one, and a row is only rewritten when a value
differs, so an identical response changes nothing at all — and logs nothing, so no view does work for it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence

import aiosqlite

from bot.catalogue.columns import PAPER_COLUMNS, PAPER_FIELDS
from bot.catalogue.sqlite import _changes
from bot.catalogue.sqlite._connections import Database
from bot.catalogue.sqlite._rows import iso, paper_from_row, paper_params
from bot.catalogue.titles import normalise_title
from bot.models import Paper

_IDS_PER_QUERY = 500  # far below SQLite's bound-parameter limit


def _upsert_sql() -> str:
    columns = PAPER_COLUMNS
    placeholders = ", ".join(f":{c}" for c in columns)
    merged = {f: f"coalesce(excluded.{f}, papers.{f})" for f in PAPER_FIELDS}
    assignments = ",\n    ".join(
        ["title = excluded.title", "title_key = excluded.title_key"]
        + [f"{f} = {expr}" for f, expr in merged.items()]
        + ["last_seen = excluded.last_seen"]
    )
    differs = "\n    OR ".join(
        ["excluded.title IS NOT papers.title"] + [f"{expr} IS NOT papers.{f}" for f, expr in merged.items()]
    )
    return (
        f"INSERT INTO papers ({', '.join(columns)}) VALUES ({placeholders})\n"
        f"ON CONFLICT (id) DO UPDATE SET\n    {assignments}\nWHERE {differs}"
    )


_UPSERT = _upsert_sql()


def _restore_sql() -> str:
    columns = PAPER_COLUMNS
    placeholders = ", ".join(f":{c}" for c in columns)
    copied = [c for c in columns if c != "id"]
    assignments = ",\n    ".join(f"{c} = excluded.{c}" for c in copied)
    differs = "\n    OR ".join(f"excluded.{c} IS NOT papers.{c}" for c in copied)
    return (
        f"INSERT INTO papers ({', '.join(columns)}) VALUES ({placeholders})\n"
        f"ON CONFLICT (id) DO UPDATE SET\n    {assignments}\nWHERE {differs}"
    )


_RESTORE = _restore_sql()


async def upsert(db: aiosqlite.Connection, papers: Sequence[Paper], seen: dt.datetime) -> int:
    """Upsert inside the caller's transaction, logging every paper that changed; return the changed count."""
    stamp = iso(seen)
    changed: list[str] = []
    for paper in papers:
        cursor = await db.execute(_UPSERT, paper_params(paper, stamp))
        if cursor.rowcount > 0:
            changed.append(paper.id)
    if changed:
        await _changes.append(db, changed, seen)
    return len(changed)


async def restore(db: aiosqlite.Connection, papers: Sequence[Paper], now: dt.datetime) -> int:
    """Make papers exactly as given, inside the caller's transaction; log and count the rows that changed."""
    changed: list[str] = []
    for paper in papers:
        params = paper_params(paper, iso(now))
        params["first_seen"] = iso(paper.first_seen) if paper.first_seen else params["first_seen"]
        params["last_seen"] = iso(paper.last_seen) if paper.last_seen else params["last_seen"]
        cursor = await db.execute(_RESTORE, params)
        if cursor.rowcount > 0:
            changed.append(paper.id)
    if changed:
        await _changes.append(db, changed, now)
    return len(changed)


async def get(database: Database, paper_id: str) -> Paper | None:
    """The paper with this id, if stored."""
    rows = await database.read("SELECT * FROM papers WHERE id = ?", (paper_id,))
    return paper_from_row(rows[0]) if rows else None


async def get_many(database: Database, paper_ids: Sequence[str]) -> list[Paper]:
    """The stored papers among `paper_ids`, in the given order."""
    by_id: dict[str, Paper] = {}
    wanted = list(dict.fromkeys(paper_ids))
    for start in range(0, len(wanted), _IDS_PER_QUERY):
        chunk = wanted[start : start + _IDS_PER_QUERY]
        rows = await database.read(f"SELECT * FROM papers WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        by_id.update((row["id"], paper_from_row(row)) for row in rows)
    return [by_id[paper_id] for paper_id in paper_ids if paper_id in by_id]


async def find_title(database: Database, text: str) -> Paper | None:
    """The paper whose normalised title equals the normalised `text` (the most upvoted of equals)."""
    key = normalise_title(text)
    if not key:
        return None
    rows = await database.read(
        "SELECT * FROM papers WHERE title_key = ? ORDER BY coalesce(upvotes, -1) DESC, id LIMIT 1", (key,)
    )
    return paper_from_row(rows[0]) if rows else None


async def titles_starting_with(database: Database, text: str, limit: int) -> list[tuple[str, str]]:
    """(id, title) pairs whose title key starts with the text's key, on the autocomplete reader."""
    limit = max(1, min(limit, 100))
    key = normalise_title(text)
    reader = database.autocomplete_reader
    if not key:
        rows = await database.read(
            "SELECT id, title FROM papers ORDER BY upvotes DESC, id LIMIT ?", (limit,), reader=reader
        )
    else:
        rows = await database.read(
            "SELECT id, title FROM papers WHERE title_key >= ? AND title_key < ? ORDER BY title_key LIMIT ?",
            (key, key + "\U0010ffff", limit),
            reader=reader,
        )
    return [(row["id"], row["title"]) for row in rows]


async def titles_by_id(database: Database, paper_ids: Sequence[str]) -> dict[str, str]:
    """Titles by id, on the autocomplete reader (never queued behind a search)."""
    wanted = list(dict.fromkeys(paper_ids))[:_IDS_PER_QUERY]
    if not wanted:
        return {}
    rows = await database.read(
        f"SELECT id, title FROM papers WHERE id IN ({', '.join('?' * len(wanted))})",
        wanted,
        reader=database.autocomplete_reader,
    )
    return {row["id"]: row["title"] for row in rows}


async def titles_containing(database: Database, words: Sequence[str], limit: int) -> list[Paper]:
    """Papers whose title key contains every word (a scan: only while a search index is rebuilt)."""
    keys = [normalise_title(word) for word in words if normalise_title(word)][:8]
    if not keys:
        return []
    where = " AND ".join("instr(title_key, ?) > 0" for _ in keys)
    rows = await database.read(
        f"SELECT * FROM papers WHERE {where} ORDER BY coalesce(upvotes, -1) DESC, id LIMIT ?",
        (*keys, max(1, min(limit, 100))),
    )
    return [paper_from_row(row) for row in rows]


async def stream(database: Database, batch_size: int) -> AsyncIterator[list[Paper]]:
    """Every paper in key order, in batches, each read as its own short statement."""
    last = 0
    while True:
        rows = await database.read("SELECT * FROM papers WHERE pk > ? ORDER BY pk LIMIT ?", (last, batch_size))
        if not rows:
            return
        yield [paper_from_row(row) for row in rows]
        last = int(rows[-1]["pk"])


async def count(database: Database) -> int:
    """How many papers are stored."""
    rows = await database.read("SELECT count(*) FROM papers")
    return int(rows[0][0])
