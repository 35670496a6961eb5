"""Papers in PostgreSQL: the coalescing upsert, `db copy`'s restore, lookups by id and title, the full scan.

Upserts never let a missing value (None) erase a known one, and a row is only rewritten when a value differs
(`IS DISTINCT FROM`, PostgreSQL's spelling of SQLite's `IS NOT`), so an identical response changes nothing
at all — and logs nothing, so no view does work for it. A batch is sent in one round trip (psycopg's
pipelined `executemany`), in id order: two processes writing overlapping papers lock their rows in the same
order and cannot deadlock.

Title lookups compare `title_key` (the normalised title) under the "C" collation: byte order, as SQLite's,
so autocomplete lists titles in the same order on both backends and a prefix is an index range.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from bot.catalogue.columns import PAPER_COLUMNS as COLUMNS
from bot.catalogue.columns import PAPER_FIELDS
from bot.catalogue.postgres._connections import AUTOCOMPLETE_WAIT_S, BACKGROUND_WAIT_S, Connection, Database
from bot.catalogue.postgres._rows import paper_from_row, paper_params, utc
from bot.catalogue.titles import normalise_title
from bot.models import Paper

__all__ = [
    "count",
    "find_title",
    "get",
    "get_many",
    "restore",
    "stream",
    "titles_by_id",
    "titles_containing",
    "titles_starting_with",
    "upsert",
]

_TITLES_BY_ID_MAX = 500
_PREFIX_END = "\U0010ffff"  # the highest code point: key <= x < key + this  ⇔  x starts with key


def _insert(assignments: list[str], differs: list[str]) -> str:
    placeholders = ", ".join(f"%({c})s" for c in COLUMNS)
    assigned = ",\n    ".join(assignments)
    differ = "\n    OR ".join(differs)
    return (
        f"INSERT INTO papers AS p ({', '.join(COLUMNS)}) VALUES ({placeholders})\n"
        f"ON CONFLICT (id) DO UPDATE SET\n    {assigned}\nWHERE {differ}\nRETURNING p.id"
    )


def _upsert_sql() -> str:
    merged = {f: f"coalesce(excluded.{f}, p.{f})" for f in PAPER_FIELDS}
    return _insert(
        ["title = excluded.title", "title_key = excluded.title_key"]
        + [f"{f} = {expr}" for f, expr in merged.items()]
        + ["last_seen = excluded.last_seen"],
        ["excluded.title IS DISTINCT FROM p.title"] + [f"{expr} IS DISTINCT FROM p.{f}" for f, expr in merged.items()],
    )


def _restore_sql() -> str:
    copied = [c for c in COLUMNS if c != "id"]
    return _insert([f"{c} = excluded.{c}" for c in copied], [f"excluded.{c} IS DISTINCT FROM p.{c}" for c in copied])


_UPSERT = _upsert_sql()
_RESTORE = _restore_sql()


async def _write_rows(conn: Connection, sql: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    """Run `sql` (returning the id of each changed row) for every row, in id order, in one round trip;
    return the ids that changed, in the given order."""
    order = sorted(range(len(rows)), key=lambda i: rows[i]["id"])
    cursor = conn.cursor()
    await cursor.executemany(sql, [rows[i] for i in order], returning=True)
    changed: set[int] = set()
    for index in order:
        if await cursor.fetchone() is not None:
            changed.add(index)
        cursor.nextset()
    return [rows[i]["id"] for i in sorted(changed)]


async def upsert(conn: Connection, papers: Sequence[Paper], seen: dt.datetime) -> list[str]:
    """Upsert inside the caller's transaction; return the ids that changed (the caller logs them)."""
    stamp = utc(seen)
    return await _write_rows(conn, _UPSERT, [paper_params(paper, stamp) for paper in papers])


async def restore(conn: Connection, papers: Sequence[Paper], now: dt.datetime) -> list[str]:
    """Make papers exactly as given, inside the caller's transaction; return the ids that changed."""
    stamp = utc(now)
    rows = []
    for paper in papers:
        params = paper_params(paper, stamp)
        params["first_seen"] = utc(paper.first_seen) if paper.first_seen else stamp
        params["last_seen"] = utc(paper.last_seen) if paper.last_seen else stamp
        rows.append(params)
    return await _write_rows(conn, _RESTORE, rows)


async def get(database: Database, paper_id: str) -> Paper | None:
    """The paper with this id, if stored."""
    rows = await database.read("SELECT * FROM papers WHERE id = %s", (paper_id,))
    return paper_from_row(rows[0]) if rows else None


async def get_many(database: Database, paper_ids: Sequence[str]) -> list[Paper]:
    """The stored papers among `paper_ids`, in the given order."""
    wanted = list(dict.fromkeys(paper_ids))
    if not wanted:
        return []
    rows = await database.read("SELECT * FROM papers WHERE id = ANY(%s)", (wanted,))
    by_id = {row["id"]: paper_from_row(row) for row in rows}
    return [by_id[paper_id] for paper_id in paper_ids if paper_id in by_id]


async def find_title(database: Database, text: str) -> Paper | None:
    """The paper whose normalised title equals the normalised `text` (the most upvoted of equals)."""
    key = normalise_title(text)
    if not key:
        return None
    rows = await database.read(
        "SELECT * FROM papers WHERE title_key = %s ORDER BY coalesce(upvotes, -1) DESC, id LIMIT 1", (key,)
    )
    return paper_from_row(rows[0]) if rows else None


async def titles_starting_with(database: Database, text: str, limit: int) -> list[tuple[str, str]]:
    """(id, title) pairs whose title key starts with the text's key, on the autocomplete connection."""
    limit = max(1, min(limit, 100))
    key = normalise_title(text)
    if not key:
        rows = await database.read(
            "SELECT id, title FROM papers ORDER BY upvotes DESC NULLS LAST, id LIMIT %s",
            (limit,),
            borrow_s=AUTOCOMPLETE_WAIT_S,
            autocomplete=True,
        )
    else:
        rows = await database.read(
            "SELECT id, title FROM papers WHERE title_key >= %s AND title_key < %s ORDER BY title_key, pk LIMIT %s",
            (key, key + _PREFIX_END, limit),
            borrow_s=AUTOCOMPLETE_WAIT_S,
            autocomplete=True,
        )
    return [(row["id"], row["title"]) for row in rows]


async def titles_by_id(database: Database, paper_ids: Sequence[str]) -> dict[str, str]:
    """Titles by id, on the autocomplete connection (never queued behind a search)."""
    wanted = list(dict.fromkeys(paper_ids))[:_TITLES_BY_ID_MAX]
    if not wanted:
        return {}
    rows = await database.read(
        "SELECT id, title FROM papers WHERE id = ANY(%s)", (wanted,), borrow_s=AUTOCOMPLETE_WAIT_S, autocomplete=True
    )
    return {row["id"]: row["title"] for row in rows}


async def titles_containing(database: Database, words: Sequence[str], limit: int) -> list[Paper]:
    """Papers whose title key contains every word (a scan: only while a search index is rebuilt)."""
    keys = [normalise_title(word) for word in words if normalise_title(word)][:8]
    if not keys:
        return []
    where = " AND ".join("strpos(title_key, %s) > 0" for _ in keys)
    rows = await database.read(
        f"SELECT * FROM papers WHERE {where} ORDER BY coalesce(upvotes, -1) DESC, id LIMIT %s",
        (*keys, max(1, min(limit, 100))),
    )
    return [paper_from_row(row) for row in rows]


async def stream(database: Database, batch_size: int) -> AsyncIterator[list[Paper]]:
    """Every paper in insertion order, in batches, each read as its own short statement."""
    last = 0
    while True:
        rows = await database.read(
            "SELECT * FROM papers WHERE pk > %s ORDER BY pk LIMIT %s", (last, batch_size), borrow_s=BACKGROUND_WAIT_S
        )
        if not rows:
            return
        yield [paper_from_row(row) for row in rows]
        last = int(rows[-1]["pk"])


async def count(database: Database) -> int:
    """How many papers are stored."""
    return int(await database.value("SELECT count(*) FROM papers", borrow_s=BACKGROUND_WAIT_S))
