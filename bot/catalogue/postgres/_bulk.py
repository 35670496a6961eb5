"""Bulk writes for the arXiv snapshot import: COPY a batch into a staging table, merge it in one statement.

Per-row statements cost a round trip each; at millions of papers that dominates. Here a batch (thousands of
papers) goes to the server as one binary COPY into a session-local staging table, then one
`INSERT … SELECT … ON CONFLICT (id) DO UPDATE … WHERE <values differ> RETURNING id` merges it into `papers`
and names the rows that changed, which are appended to the change log just before the commit.

Merge rule (the same as the SQLite backend's bulk import, restricted to the columns arXiv carries): arXiv is
authoritative for title, abstract, authors, categories and the first-version date; a None from arXiv never
erases a value; every column it does not carry (upvotes, GitHub, AI summary/keywords, organization, …) is not
even named, so it is untouched. Rows whose values would not change are not rewritten (the WHERE), so a re-run
changes nothing and logs nothing. ON CONFLICT may touch a row only once per statement, so a batch naming a
paper twice is folded first, each later record merged over the earlier one by the same rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bot.catalogue.postgres import changelog
from bot.catalogue.postgres._connections import Connection, Database
from bot.catalogue.postgres._rows import clean_title, text, text_list, utc
from bot.catalogue.titles import normalise_title
from bot.models import Paper

__all__ = ["import_batch"]

_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS import_staging (\n"
    '    id text COLLATE "C", title text, title_key text COLLATE "C", abstract text,\n'
    "    authors text[], published date, categories text[]\n"
    ") ON COMMIT DELETE ROWS"
)
_STAGING_COLUMNS = ("id", "title", "title_key", "abstract", "authors", "published", "categories")
_STAGING_TYPES = ("text", "text", "text", "text", "text[]", "date", "text[]")
_COPY = f"COPY import_staging ({', '.join(_STAGING_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
# In id order: two imports of overlapping batches lock their rows in the same order (no deadlock).
_MERGE = """
WITH changed AS (
    INSERT INTO papers AS p (id, title, title_key, abstract, authors, published, categories, first_seen, last_seen)
    SELECT id, title, title_key, abstract, authors, published, categories, %(seen)s, %(seen)s
    FROM import_staging ORDER BY id
    ON CONFLICT (id) DO UPDATE SET
        title = excluded.title,
        title_key = excluded.title_key,
        abstract = coalesce(excluded.abstract, p.abstract),
        authors = coalesce(excluded.authors, p.authors),
        published = coalesce(excluded.published, p.published),
        categories = coalesce(excluded.categories, p.categories),
        last_seen = excluded.last_seen
    WHERE excluded.title IS DISTINCT FROM p.title
        OR coalesce(excluded.abstract, p.abstract) IS DISTINCT FROM p.abstract
        OR coalesce(excluded.authors, p.authors) IS DISTINCT FROM p.authors
        OR coalesce(excluded.published, p.published) IS DISTINCT FROM p.published
        OR coalesce(excluded.categories, p.categories) IS DISTINCT FROM p.categories
    RETURNING p.id
)
SELECT id FROM changed
"""

Staged = tuple[str, str, str, str | None, list[str] | None, dt.date | None, list[str] | None]


def _staged(paper: Paper) -> Staged:
    title = clean_title(paper.title)
    return (
        paper.id,
        title,
        normalise_title(title),
        text(paper.abstract),
        text_list(paper.authors),
        paper.published,
        text_list(paper.categories),
    )


def _fold(rows: Sequence[Staged]) -> list[Staged]:
    """One row per id: a later record's title wins, its other values only where it has them."""
    by_id: dict[str, Staged] = {}
    for row in rows:
        earlier = by_id.get(row[0])
        if earlier is None:
            by_id[row[0]] = row
        else:
            by_id[row[0]] = (
                row[0],
                row[1],
                row[2],
                row[3] if row[3] is not None else earlier[3],
                row[4] if row[4] is not None else earlier[4],
                row[5] if row[5] is not None else earlier[5],
                row[6] if row[6] is not None else earlier[6],
            )
    return list(by_id.values())


async def import_batch(database: Database, papers: Sequence[Paper], seen_at: dt.datetime) -> int:
    """Merge `papers` (from arXiv) in one transaction and log what changed; return the changed count."""
    if not papers:
        return 0
    seen = utc(seen_at)
    rows = _fold([_staged(paper) for paper in papers])

    async def body(conn: Connection) -> int:
        await conn.execute(_STAGING)
        cursor = conn.cursor()
        async with cursor.copy(_COPY) as copy:
            copy.set_types(list(_STAGING_TYPES))
            for row in rows:
                await copy.write_row(row)
        params: dict[str, Any] = {"seen": seen}
        merged = await conn.execute(_MERGE, params)
        changed = [row["id"] for row in await merged.fetchall()]
        await changelog.append(conn, changed, seen)
        return len(changed)

    return await database.write(body)
