"""Bulk writes for the arXiv snapshot import: a whole batch per transaction, many rows per statement.

One awaited statement per paper costs a thread hop each; at millions of papers that hop dominates. Here a
batch is written as a few multi-row upserts (`INSERT … VALUES (…), (…), …`, `ROWS_PER_STATEMENT` rows each),
and the change log is appended set-wise (`INSERT … SELECT`), so logging costs a fraction of a per-row
statement.

Why multi-row statements rather than `executemany`: the import parses the next batch in another thread
while this one is written, and both need the interpreter lock. `executemany` takes the lock back for every
row it binds, and while the parser runs it waits a whole switch interval each time, so parsing and writing
barely overlapped (at 1M papers without the keyword index: 44.7 s wall for 41 s of CPU). A multi-row
statement binds its thousand rows in one hold of the lock and then SQLite steps them all without it:
39.0 s for the same CPU, and the whole import (index included) −10% (bench/README.md, issue 9).

Merge rule (the same as `_papers._UPSERT`, restricted to the columns arXiv carries): arXiv is authoritative
for title, abstract, authors, categories and the first-version date; a None from arXiv never erases a
value; every column it does not carry (upvotes, GitHub, AI summary/keywords, organization, …) is not even
named, so it is untouched. Rows whose values would not change are not rewritten (the WHERE), so a re-run
changes nothing and logs nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import aiosqlite

from bot.catalogue.sqlite._connections import Database, fetch_all
from bot.catalogue.sqlite._recent import RecentWrites
from bot.catalogue.sqlite._rows import clean_title, iso, json_list
from bot.catalogue.titles import normalise_title
from bot.models import Paper

_ARXIV_UPSERT = """
INSERT INTO papers (id, title, title_key, abstract, authors, published, categories, first_seen, last_seen)
VALUES {rows}
ON CONFLICT (id) DO UPDATE SET
    title = excluded.title,
    title_key = excluded.title_key,
    abstract = coalesce(excluded.abstract, papers.abstract),
    authors = coalesce(excluded.authors, papers.authors),
    published = coalesce(excluded.published, papers.published),
    categories = coalesce(excluded.categories, papers.categories),
    last_seen = excluded.last_seen
WHERE excluded.title IS NOT papers.title
    OR coalesce(excluded.abstract, papers.abstract) IS NOT papers.abstract
    OR coalesce(excluded.authors, papers.authors) IS NOT papers.authors
    OR coalesce(excluded.published, papers.published) IS NOT papers.published
    OR coalesce(excluded.categories, papers.categories) IS NOT papers.categories
"""
_COLUMNS = 9  # values per row of `_ARXIV_UPSERT`
_ROW_MARKS = "(" + ", ".join("?" * _COLUMNS) + ")"


def _rows_per_statement(wanted: int = 1_000) -> int:
    """Rows per upsert statement: `wanted`, or fewer where this SQLite allows fewer bound parameters
    (999 before 3.32; Debian's and Python's builds allow 32,766 or more)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as probe:
        limit = probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return max(1, min(wanted, limit // _COLUMNS))


ROWS_PER_STATEMENT = _rows_per_statement()


@functools.lru_cache(maxsize=8)
def _upsert(rows: int) -> str:
    """The upsert of `rows` rows (a batch needs two lengths at most: full statements and its remainder)."""
    return _ARXIV_UPSERT.format(rows=", ".join([_ROW_MARKS] * rows))


_IDS_PER_QUERY = 500
# Random-order inserts into the title_key index miss SQLite's default 2 MB page cache more and more as the
# table grows (18 → 45 µs/row from 0 to 1M rows); 64 MB for the writer connection cut that ~13% (bench/).
_WRITER_CACHE_KIB = 64 * 1024
# WAL checkpoints during a bulk import. At SQLite's default (a checkpoint whenever the WAL passes 1,000 pages,
# 4 MB) an import batch triggers several, and each copies back pages the next batch dirties again — the
# title_key index's leaves, touched at random, most of all. Letting the WAL grow to 25,000 pages (~100 MB)
# while an import runs, then checkpointing once at its end (`finish_import`), cut the import's CPU by ~15%
# at 100k papers (bench/README.md, issue 9). The WAL file keeps that size on disk until the next checkpoint
# that finds no reader in it.
_BULK_AUTOCHECKPOINT_PAGES = 25_000
_DEFAULT_AUTOCHECKPOINT_PAGES = 1_000  # SQLite's own default, restored when the import ends


def _row(paper: Paper, title: str, seen: str) -> tuple[str | None, ...]:
    """The new row's values (`title`: the paper's title as stored, `clean_title`)."""
    return (
        paper.id,
        title,
        normalise_title(title),
        paper.abstract,
        json_list(paper.authors) if paper.authors else None,
        paper.published.isoformat() if paper.published else None,
        json_list(paper.categories) if paper.categories else None,
        seen,
        seen,
    )


def _as_stored(paper: Paper, title: str, seen_at: dt.datetime) -> Paper:
    """The paper exactly as reading back the new row `_row` made of it gives (`paper_from_row`).

    The snapshot reader already hands over papers in that form (clean title, tuples, seen at the import's
    time, no Hugging Face fields): those are returned as they are, because building a second frozen Paper
    per imported paper cost ~0.4 CPU-s per 100k papers under the import's GIL (bench/README.md, issue 9).
    """
    if _stored_form(paper, title, seen_at):
        return paper
    return Paper(
        id=paper.id,
        title=title,
        abstract=paper.abstract,
        authors=tuple(paper.authors),
        published=paper.published,
        categories=tuple(paper.categories) if paper.categories else None,
        first_seen=seen_at,
        last_seen=seen_at,
    )


def _stored_form(paper: Paper, title: str, seen_at: dt.datetime) -> bool:
    """Whether `paper` already is what reading its new row back gives: only arXiv's columns, stored forms."""
    categories = paper.categories
    return (
        paper.title == title
        and paper.first_seen == seen_at
        and paper.last_seen == seen_at
        and paper.first_seen.tzinfo is dt.UTC
        and paper.last_seen.tzinfo is dt.UTC
        and type(paper.authors) is tuple
        and (categories is None or (type(categories) is tuple and len(categories) > 0))
        and paper.upvotes is None
        and paper.num_comments is None
        and paper.github_repo is None
        and paper.github_stars is None
        and paper.project_page is None
        and paper.organization is None
        and paper.thumbnail is None
        and paper.ai_summary is None
        and paper.ai_keywords is None
        and paper.withdrawn is None
    )


async def import_batch(
    database: Database, papers: Sequence[Paper], seen_at: dt.datetime, recent: RecentWrites | None = None
) -> int:
    """Merge `papers` (from arXiv) in one transaction and log what changed; return the changed count.

    With `recent`, the new rows are left there under their log entries as the transaction commits, so this
    process's own follower takes them from memory instead of reading them back (see `_recent`).
    """
    if not papers:
        return 0
    await database.set_autocheckpoint(_BULK_AUTOCHECKPOINT_PAGES)
    seen = iso(seen_at)
    titles = [clean_title(paper.title) for paper in papers]
    rows = [_row(paper, title, seen) for paper, title in zip(papers, titles, strict=True)]
    remembered: list[int] = []
    try:
        async with database.transaction() as db:
            merged = await _merge(db, papers, rows, seen)
            if recent is not None and merged.logged:
                entries = _new_rows(papers, titles, merged.logged, seen_at.astimezone(dt.UTC))
                recent.remember(entries, seen)
                remembered = [seq for seq, _paper in entries]
    except BaseException:
        if recent is not None and remembered:
            recent.forget(remembered)
        raise
    return merged.changed


async def finish_import(database: Database) -> None:
    """After an import's last batch (or its failure): checkpoint the WAL its batches grew, back to defaults."""
    await database.set_autocheckpoint(_DEFAULT_AUTOCHECKPOINT_PAGES)
    await database.checkpoint()


@dataclass(frozen=True, slots=True)
class _Merged:
    changed: int  # rows changed
    logged: list[tuple[int, str]]  # (sequence number, paper id) of the new rows' log entries


async def _merge(
    db: aiosqlite.Connection, papers: Sequence[Paper], rows: Sequence[tuple[str | None, ...]], seen: str
) -> _Merged:
    """Upsert the batch and log what changed, inside the caller's transaction."""
    await db.execute(f"PRAGMA cache_size = -{_WRITER_CACHE_KIB}")
    before = await fetch_all(db, "SELECT coalesce(max(pk), 0) FROM papers")
    max_pk = int(before[0][0])
    changed = 0
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        statement_rows = rows[start : start + ROWS_PER_STATEMENT]
        # A row naming an id an earlier row of the same statement inserted takes the ON CONFLICT path, exactly
        # as in separate statements: SQLite applies a multi-row VALUES one row at a time.
        values = [value for row in statement_rows for value in row]
        cursor = await db.execute(_upsert(len(statement_rows)), values)
        changed += max(cursor.rowcount, 0)
    if not changed:
        return _Merged(0, [])
    # New rows got rowids above the old maximum (SQLite assigns max+1): log them in one statement.
    logged = [
        (int(seq), str(paper_id))
        for seq, paper_id in await fetch_all(
            db,
            "INSERT INTO changes (paper_id, at) SELECT id, ? FROM papers WHERE pk > ? ORDER BY pk\n"
            "RETURNING seq, paper_id",
            (seen, max_pk),
        )
    ]
    if changed > len(logged):
        # Updated rows carry this batch's `last_seen`; look for them among the batch's other ids.
        old_ids = list(dict.fromkeys(p.id for p in papers))
        for start in range(0, len(old_ids), _IDS_PER_QUERY):
            chunk = old_ids[start : start + _IDS_PER_QUERY]
            marks = ", ".join("?" * len(chunk))
            await db.execute(
                "INSERT INTO changes (paper_id, at) SELECT id, ? FROM papers\n"
                f"WHERE pk <= ? AND last_seen = ? AND id IN ({marks})",
                (seen, max_pk, seen, *chunk),
            )
    return _Merged(changed, logged)


def _new_rows(
    papers: Sequence[Paper], titles: Sequence[str], logged: Sequence[tuple[int, str]], seen_at: dt.datetime
) -> list[tuple[int, Paper]]:
    """(sequence number, paper as stored) for the logged new rows; a paper named twice in the batch is left
    out (its row merges both, which neither in-hand paper shows). `titles`: the papers' stored titles."""
    by_id: dict[str, tuple[Paper, str] | None] = {}
    for paper, title in zip(papers, titles, strict=True):
        by_id[paper.id] = None if paper.id in by_id else (paper, title)
    out: list[tuple[int, Paper]] = []
    for seq, paper_id in logged:
        in_hand = by_id.get(paper_id)
        if in_hand is not None:
            out.append((seq, _as_stored(in_hand[0], in_hand[1], seen_at)))
    return out
