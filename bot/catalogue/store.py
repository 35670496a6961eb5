"""The catalogue: the one door to SQLite.

Design choices, each for a reason:
- Two aiosqlite connections (each on its own thread, so no query ever blocks the event loop): one writer,
  serialised by an asyncio lock so every public write method is exactly one transaction, and one read-only
  reader, so slash commands keep answering while an ingest or a snapshot import holds the write lock (WAL lets
  readers and the writer run at once).
- Upserts never let a missing value (None) erase a known one, and rows only change when a value differs, so an
  identical response changes nothing at all.
- Search text never reaches FTS5 syntax (see `_search.py`); a query that FTS5 still rejects is logged and
  answered with no results rather than an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import aiosqlite

from bot.catalogue._digest_store import DigestStore
from bot.catalogue._migrate import migrate
from bot.catalogue._search import (
    autocomplete_match,
    match_all,
    match_any,
    normalise_title,
    parse_query,
)
from bot.errors import CatalogueError
from bot.models import (
    CatalogueStats,
    DailyEntry,
    Paper,
    SearchResults,
    SortOrder,
    Trending,
    TrendingPeriod,
)

log = logging.getLogger(__name__)

# Title hits matter most, then authors and AI keywords, then the abstract (BM25 column weights).
_BM25 = "bm25(papers_fts, 10.0, 1.0, 3.0, 3.0)"
_TRENDING_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}
# Pooled read connections besides the autocomplete one: reads run in parallel threads (SQLite releases the GIL),
# so one slow search no longer delays every other command behind it (found under load, bench/load.py).
READ_POOL_SIZE = 3

# Columns a source may know; None from a source never replaces a stored value (COALESCE).
_FIELDS = (
    "abstract",
    "authors",
    "published",
    "upvotes",
    "num_comments",
    "github_repo",
    "github_stars",
    "project_page",
    "organization",
    "thumbnail",
    "ai_summary",
    "ai_keywords",
    "withdrawn",
    "categories",
)


def _upsert_sql() -> str:
    columns = ("id", "title", "title_key", *_FIELDS, "first_seen", "last_seen")
    placeholders = ", ".join(f":{c}" for c in columns)
    merged = {f: f"coalesce(excluded.{f}, papers.{f})" for f in _FIELDS}
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


@dataclass(frozen=True, slots=True)
class DayChange:
    """What recording one day's list changed: new list entries, and papers whose stored data changed."""

    day: dt.date
    listed: int
    added: int
    papers_changed: int


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json_list(values: Iterable[str] | None) -> str | None:
    if values is None:
        return None
    items = list(values)
    return json.dumps(items, ensure_ascii=False) if items else None


def _paper_params(paper: Paper, seen: str) -> dict[str, Any]:
    return {
        "id": paper.id,
        "title": " ".join(paper.title.split()),
        "title_key": normalise_title(paper.title),
        "abstract": paper.abstract,
        "authors": _json_list(paper.authors) if paper.authors else None,
        "published": paper.published.isoformat() if paper.published else None,
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "organization": paper.organization,
        "thumbnail": paper.thumbnail,
        "ai_summary": paper.ai_summary,
        "ai_keywords": _json_list(paper.ai_keywords),
        "withdrawn": None if paper.withdrawn is None else int(paper.withdrawn),
        "categories": _json_list(paper.categories),
        "first_seen": seen,
        "last_seen": seen,
    }


def _tuple(raw: str | None) -> tuple[str, ...] | None:
    return None if raw is None else tuple(json.loads(raw))


def _date(raw: str | None) -> dt.date | None:
    return dt.date.fromisoformat(raw) if raw else None


def _datetime(raw: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(raw) if raw else None


def paper_from_row(row: sqlite3.Row) -> Paper:
    """Turn a `papers` row into the model; rows never leave the catalogue."""
    return Paper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=_tuple(row["authors"]) or (),
        published=_date(row["published"]),
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        organization=row["organization"],
        thumbnail=row["thumbnail"],
        ai_summary=row["ai_summary"],
        ai_keywords=_tuple(row["ai_keywords"]),
        withdrawn=None if row["withdrawn"] is None else bool(row["withdrawn"]),
        categories=_tuple(row["categories"]),
        first_seen=_datetime(row["first_seen"]),
        last_seen=_datetime(row["last_seen"]),
    )


def _create_private_file(path: Path) -> None:
    """Create the database file owner-only (0600) before SQLite does, so paper data and settings stay private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _files_size(*paths: Path) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


async def _connect(path: Path, *, read_only: bool) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    await db.execute("PRAGMA busy_timeout = 10000")
    await db.execute("PRAGMA foreign_keys = ON")
    if read_only:
        await db.execute("PRAGMA query_only = 1")
    return db


async def _fetch_all(db: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any]) -> list[sqlite3.Row]:
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _close_all(connections: Sequence[aiosqlite.Connection]) -> None:
    for db in connections:
        with contextlib.suppress(ValueError, sqlite3.Error):
            await db.close()


class Catalogue(DigestStore):
    """Papers, Daily Papers lists and search, stored in one SQLite file (digest state via DigestStore)."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, readers: Sequence[aiosqlite.Connection]) -> None:
        self.path = path
        self._db = writer
        self._write_lock = asyncio.Lock()
        # The first reader serves autocomplete alone: it runs on every keystroke with a 3 s deadline, so it
        # must never queue behind a slow search. The others form a pool for every other read.
        self._autocomplete_reader = readers[0]
        self._all_readers = tuple(readers)
        self._pool: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers[1:]:
            self._pool.put_nowait(reader)

    @classmethod
    async def open(cls, path: Path | str) -> Self:
        """Open (creating if needed) and migrate the catalogue at `path`."""
        path = Path(path)
        opened: list[aiosqlite.Connection] = []
        try:
            _create_private_file(path)
            writer = await _connect(path, read_only=False)
            opened.append(writer)
            async with writer.execute("PRAGMA journal_mode = WAL") as cursor:
                await cursor.fetchone()
            await writer.execute("PRAGMA synchronous = NORMAL")
            await migrate(writer)
            for _ in range(1 + READ_POOL_SIZE):
                opened.append(await _connect(path, read_only=True))
        except (OSError, sqlite3.Error) as exc:
            await _close_all(opened)
            raise CatalogueError(f"cannot open the catalogue at {path}: {exc}") from exc
        except BaseException:
            await _close_all(opened)
            raise
        return cls(path, opened[0], opened[1:])

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        await _close_all([*self._all_readers, self._db])

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, serialised with every other writer of this process."""
        async with self._write_lock:
            try:
                # BEGIN is inside the try: a task cancelled while BEGIN runs (shutdown) must still roll back,
                # or the shared writer stays inside a transaction and every later write fails.
                await self._db.execute("BEGIN IMMEDIATE")
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await asyncio.shield(self._db.rollback())
                raise
            else:
                await self._db.commit()

    async def _read(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] = (),
        *,
        reader: aiosqlite.Connection | None = None,
    ) -> list[sqlite3.Row]:
        """Run one read on `reader`, or on the next free pooled reader (each has its own thread)."""
        if reader is not None:
            return await _fetch_all(reader, sql, params)
        pooled = await self._pool.get()
        try:
            return await _fetch_all(pooled, sql, params)
        finally:
            self._pool.put_nowait(pooled)

    # ---- writes -------------------------------------------------------------------------------------------

    async def upsert_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Insert or update papers; return how many rows actually changed."""
        if not papers:
            return 0
        seen = (seen_at or _utcnow()).isoformat()
        async with self._transaction() as db:
            return await self._upsert(db, papers, seen)

    async def _upsert(self, db: aiosqlite.Connection, papers: Sequence[Paper], seen: str) -> int:
        changed = 0
        for paper in papers:
            cursor = await db.execute(_UPSERT, _paper_params(paper, seen))
            changed += max(cursor.rowcount, 0)
        return changed

    async def record_day(
        self, day: dt.date, entries: Sequence[DailyEntry], *, fetched_at: dt.datetime | None = None
    ) -> DayChange:
        """Store one day's list: upsert its papers, add new entries, refresh upvotes and re-rank the day."""
        fetched = (fetched_at or _utcnow()).isoformat()
        key = day.isoformat()
        async with self._transaction() as db:
            changed = await self._upsert(db, [entry.paper for entry in entries], fetched)
            async with db.execute("SELECT paper_id FROM daily WHERE day = ?", (key,)) as cursor:
                known = {row[0] for row in await cursor.fetchall()}
            added = 0
            for entry in entries:
                cursor = await db.execute(
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
        return DayChange(day=day, listed=len(entries), added=added, papers_changed=changed)

    # ---- reads --------------------------------------------------------------------------------------------

    async def get(self, paper_id: str) -> Paper | None:
        """The paper with this unversioned arXiv id, if stored."""
        rows = await self._read("SELECT * FROM papers WHERE id = ?", (paper_id,))
        return paper_from_row(rows[0]) if rows else None

    async def find_title(self, text: str) -> Paper | None:
        """The paper whose title is exactly `text` (ignoring case and spacing), else the best search match."""
        key = normalise_title(text)
        if not key:
            return None
        rows = await self._read(
            "SELECT * FROM papers WHERE title_key = ? ORDER BY coalesce(upvotes, -1) DESC, id LIMIT 1", (key,)
        )
        if rows:
            return paper_from_row(rows[0])
        # A best match must contain every word: an any-word hit for a title would be a different paper.
        results = await self.search(text, limit=1)
        return results.papers[0] if results.matched == "all" and results.papers else None

    async def search(
        self, query: str, *, limit: int = 10, offset: int = 0, sort: SortOrder = "relevance"
    ) -> SearchResults:
        """All-words search, falling back to any word; ranked by BM25, upvotes or arXiv date."""
        limit = max(1, min(limit, 100))
        offset = max(0, offset)
        terms = parse_query(query)
        if not terms:
            return SearchResults(query=query, papers=(), matched="none", sort=sort, offset=offset)
        candidates: list[tuple[Literal["all", "any"], str]] = [("all", match_all(terms))]
        if len(terms) > 1:
            candidates.append(("any", match_any(terms)))
        for mode, expression in candidates:
            try:
                if not await self._read("SELECT 1 FROM papers_fts WHERE papers_fts MATCH ? LIMIT 1", (expression,)):
                    continue
                rows = await self._read(self._search_sql(sort), (expression, limit + 1, offset))
            except sqlite3.OperationalError:
                log.warning("FTS5 rejected a generated query %r for %r", expression, query, exc_info=True)
                continue
            papers = tuple(paper_from_row(row) for row in rows[:limit])
            return SearchResults(
                query=query, papers=papers, matched=mode, sort=sort, offset=offset, has_more=len(rows) > limit
            )
        return SearchResults(query=query, papers=(), matched="none", sort=sort, offset=offset)

    @staticmethod
    def _search_sql(sort: SortOrder) -> str:
        if sort == "relevance":
            return (
                f"SELECT p.* FROM (SELECT rowid, {_BM25} AS score FROM papers_fts WHERE papers_fts MATCH ?\n"
                "                 ORDER BY score LIMIT ? OFFSET ?) AS hits\n"
                "JOIN papers p ON p.pk = hits.rowid ORDER BY hits.score, p.id"
            )
        order = "coalesce(p.upvotes, -1) DESC, p.id" if sort == "upvotes" else "p.published DESC NULLS LAST, p.id"
        return (
            "SELECT p.* FROM papers p WHERE p.pk IN (SELECT rowid FROM papers_fts WHERE papers_fts MATCH ?)\n"
            f"ORDER BY {order} LIMIT ? OFFSET ?"
        )

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Up to `limit` (id, title) pairs whose titles contain the typed words, the last as a prefix."""
        limit = max(1, min(limit, 25))
        expression = autocomplete_match(text)
        if expression is None:
            rows = await self._read(
                "SELECT id, title FROM papers ORDER BY upvotes DESC, id LIMIT ?",
                (limit,),
                reader=self._autocomplete_reader,
            )
        else:
            try:
                rows = await self._read(
                    "SELECT p.id, p.title FROM (SELECT rowid, rank FROM titles_fts WHERE titles_fts MATCH ?\n"
                    "    ORDER BY rank LIMIT ?) AS hits JOIN papers p ON p.pk = hits.rowid ORDER BY hits.rank",
                    (expression, limit),
                    reader=self._autocomplete_reader,
                )
            except sqlite3.OperationalError:
                log.warning("FTS5 rejected autocomplete %r for %r", expression, text, exc_info=True)
                return []
        return [(row["id"], row["title"]) for row in rows]

    async def latest_day(self) -> dt.date | None:
        """The most recent stored Daily Papers day."""
        rows = await self._read("SELECT max(day) FROM daily")
        return _date(rows[0][0]) if rows else None

    async def day_papers(self, day: dt.date) -> list[Paper]:
        """The stored list for `day`, by latest upvotes (ties by id)."""
        rows = await self._read(
            "SELECT p.* FROM daily d JOIN papers p ON p.id = d.paper_id WHERE d.day = ?\n"
            "ORDER BY coalesce(p.upvotes, d.upvotes) DESC, p.id",
            (day.isoformat(),),
        )
        return [paper_from_row(row) for row in rows]

    async def trending(self, period: TrendingPeriod, *, limit: int = 10) -> Trending:
        """Distinct papers listed in the window ending at the latest stored day, by latest upvotes."""
        limit = max(1, min(limit, 100))
        last = await self.latest_day()
        if last is None:
            return Trending(period=period, first_day=None, last_day=None, papers=())
        first = last - dt.timedelta(days=_TRENDING_DAYS[period] - 1)
        rows = await self._read(
            "SELECT p.* FROM papers p WHERE p.id IN (SELECT paper_id FROM daily WHERE day BETWEEN ? AND ?)\n"
            "ORDER BY coalesce(p.upvotes, 0) DESC, p.id LIMIT ?",
            (first.isoformat(), last.isoformat(), limit),
        )
        return Trending(period=period, first_day=first, last_day=last, papers=tuple(paper_from_row(r) for r in rows))

    async def stats(self) -> CatalogueStats:
        """Paper count, days covered and the on-disk size (database plus WAL)."""
        papers = (await self._read("SELECT count(*) FROM papers"))[0][0]
        days_row = (await self._read("SELECT count(DISTINCT day), min(day), max(day) FROM daily"))[0]
        return CatalogueStats(
            papers=papers,
            days=days_row[0],
            first_day=_date(days_row[1]),
            last_day=_date(days_row[2]),
            db_bytes=_files_size(self.path, self.path.with_name(self.path.name + "-wal")),
        )
