"""The catalogue: the one door to SQLite.

Design choices, each for a reason:
- Two aiosqlite connections (each on its own thread, so no query ever blocks the event loop): one writer,
  serialised by an asyncio lock so every public write method is exactly one transaction, and one read-only
  reader, so slash commands keep answering while an ingest or a snapshot import holds the write lock (WAL lets
  readers and the writer run at once).
- Upserts never let a missing value (None) erase a known one, and rows only change when a value differs, so an
  identical response changes nothing at all.
- Search and autocomplete are answered by a tantivy index beside the database (`<db>.index/`), measured in
  bench/: at 1M papers FTS5's BM25 took ~1.6 s p95 for common words because it scores every match, tantivy
  prunes (block-max WAND) and answers in milliseconds. SQLite stays the source of truth: every write records
  the changed ids in `search_outbox` in the same transaction, the index catches up after the commit, and a
  crash in between is repaired on the next open; the index only maps text to ids, which are read back from
  SQLite, so it can never make the bot serve a paper the catalogue lacks. All index work runs in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import aiosqlite

from bot.catalogue._digest_store import DigestStore
from bot.catalogue._migrate import migrate
from bot.catalogue._search import normalise_title
from bot.catalogue._tantivy_index import SearchIndex
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

_TRENDING_DAYS: dict[str, int] = {"day": 1, "week": 7, "month": 30}
# Pooled read connections besides the autocomplete one: reads run in parallel threads (SQLite releases the GIL),
# so one slow search no longer delays every other command behind it (found under load, bench/load.py).
READ_POOL_SIZE = 3
# Index writer memory: tantivy's heap is split over two indexing threads (≥15 MB each).
INDEX_HEAP_BYTES = 64_000_000
_DRAIN_BATCH = 5_000
_IDS_PER_QUERY = 500

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


def index_directory(db_path: Path) -> Path:
    """Where the search index of the catalogue at `db_path` lives: `papers.db` → `papers.db.index/`."""
    return db_path.with_name(db_path.name + ".index")


def _stream_papers(path: Path) -> Iterator[Paper]:
    """Every catalogue row in key order, through its own read-only connection (runs in the index thread)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        last = 0
        while rows := db.execute("SELECT * FROM papers WHERE pk > ? ORDER BY pk LIMIT 10000", (last,)).fetchall():
            yield from (_for_index(paper_from_row(row)) for row in rows)
            last = rows[-1]["pk"]
    finally:
        db.close()


def _for_index(paper: Paper) -> Paper:
    """The paper as the index sees it: AI keywords are searchable text, indexed with the abstract."""
    if not paper.ai_keywords:
        return paper
    keywords = "; ".join(paper.ai_keywords)
    return dataclasses.replace(paper, abstract=f"{paper.abstract}\n{keywords}" if paper.abstract else keywords)


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
        self.index: SearchIndex | None = None  # set by open(); None only while opening
        self._indexing: asyncio.Task[None] | None = None
        self._importing = False

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
        catalogue = cls(path, opened[0], opened[1:])
        try:
            catalogue.index = await asyncio.to_thread(
                SearchIndex.open, index_directory(path), heap_bytes=INDEX_HEAP_BYTES
            )
            await catalogue._catch_up_index()
        except BaseException as exc:
            await catalogue.close()
            if isinstance(exc, (OSError, ValueError)):
                raise CatalogueError(f"cannot open the search index of {path}: {exc}") from exc
            raise
        return catalogue

    async def close(self) -> None:
        """Finish background indexing, release the index writer, close every connection (idempotent)."""
        try:
            await self.finish_arxiv_import()
        finally:
            index, self.index = self.index, None
            if index is not None:
                await asyncio.to_thread(index.close)
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
            changed = await self._upsert(db, papers, seen)
        await self._drain_outbox()
        return changed

    async def _upsert(self, db: aiosqlite.Connection, papers: Sequence[Paper], seen: str) -> int:
        """Upsert inside the caller's transaction, queueing every changed paper for the search index."""
        changed = 0
        for paper in papers:
            cursor = await db.execute(_UPSERT, _paper_params(paper, seen))
            if cursor.rowcount > 0:
                changed += cursor.rowcount
                await db.execute("INSERT OR IGNORE INTO search_outbox (id) VALUES (?)", (paper.id,))
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
        await self._drain_outbox()
        return DayChange(day=day, listed=len(entries), added=added, papers_changed=changed)

    # ---- the search index ---------------------------------------------------------------------------------

    def _search_index(self) -> SearchIndex:
        if self.index is None:
            raise CatalogueError("the catalogue is closed")
        return self.index

    async def _catch_up_index(self) -> None:
        """Rebuild the index from SQLite if it cannot be trusted, else index what the outbox lists."""
        index = self._search_index()
        if index.needs_rebuild:
            # Quiet for a brand-new catalogue; worth a line when real papers are being re-indexed.
            level = logging.INFO if await self._read("SELECT 1 FROM papers LIMIT 1") else logging.DEBUG
            log.log(level, "building the search index from the catalogue (first start, upgrade or crash repair)")
            count = await asyncio.to_thread(index.rebuild, _stream_papers(self.path), commit_every=200_000)
            async with self._transaction() as db:
                await db.execute("DELETE FROM search_outbox")
            log.log(level, "search index built: %d papers", count)
            return
        while await self._drain_outbox():
            pass

    async def _drain_outbox(self) -> int:
        """Index up to `_DRAIN_BATCH` queued papers (dropping ids SQLite no longer has); return how many."""
        rows = await self._read(
            "SELECT o.id AS outbox_id, p.* FROM search_outbox o LEFT JOIN papers p ON p.id = o.id LIMIT ?",
            (_DRAIN_BATCH,),
        )
        if not rows:
            return 0
        index = self._search_index()
        present = [_for_index(paper_from_row(row)) for row in rows if row["pk"] is not None]
        missing = [row["outbox_id"] for row in rows if row["pk"] is None]
        if present:
            await asyncio.to_thread(index.index_papers, present)
        if missing:
            await asyncio.to_thread(index.delete_ids, missing)
        ids = [row["outbox_id"] for row in rows]
        async with self._transaction() as db:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = ids[start : start + _IDS_PER_QUERY]
                await db.execute(f"DELETE FROM search_outbox WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        return len(rows)

    async def import_arxiv_batch(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> Any:
        """Bulk-write one snapshot batch, then index exactly what it changed in the background.

        The import writes no outbox rows (they cost ~70% more SQLite time per paper, bench/): the index is
        marked incomplete until `finish_arxiv_import()`, so a crash mid-import rebuilds it on the next open.
        At most one indexing task runs beside the next batch's write, so memory stays bounded.
        """
        from bot.catalogue._bulk import import_arxiv_batch  # _bulk builds on this module

        index = self._search_index()
        if not self._importing:
            self._importing = True
            await asyncio.to_thread(index.mark_incomplete)
        result = await import_arxiv_batch(self, papers, seen_at=seen_at)
        task, self._indexing = self._indexing, None
        if task is not None:
            await task
        new = [_for_index(p) for p in papers if p.id in result.new_ids]
        updated = [_for_index(p) for p in result.updated]
        if new or updated:
            self._indexing = asyncio.create_task(self._index_import_batch(new, updated))
        return result

    async def _index_import_batch(self, new: list[Paper], updated: list[Paper]) -> None:
        index = self._search_index()

        def work() -> None:
            index.index_papers(new, commit=False, new=True)
            index.index_papers(updated, commit=False)

        # No commit per batch: the writer's heap bounds memory, a commit only flushes and reloads segments
        # (measured: peak RSS 608 MB with a commit every 200k at 1M papers, 370 MB with one at the end), and
        # the incomplete marker already makes a crash mid-import rebuild the index from SQLite.
        await asyncio.to_thread(work)

    async def finish_arxiv_import(self) -> None:
        """Wait until the index holds, committed, every imported batch; then mark it complete again."""
        task, self._indexing = self._indexing, None
        if task is not None:
            await task
        if self._importing and self.index is not None:
            await asyncio.to_thread(self.index.commit)
            await asyncio.to_thread(self.index.mark_complete)
        self._importing = False

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
        """All-words search, falling back to any word; ranked by relevance (title first), upvotes or date."""
        limit = max(1, min(limit, 100))
        offset = max(0, offset)
        hits = await asyncio.to_thread(self._search_index().search, query, limit=limit, offset=offset, sort=sort)
        papers = await self._papers_by_id(hits.ids)
        return SearchResults(
            query=query,
            papers=tuple(papers),
            matched=hits.matched if papers else "none",
            sort=sort,
            offset=offset,
            has_more=hits.has_more,
        )

    async def _papers_by_id(self, ids: Sequence[str]) -> list[Paper]:
        """Rows for index hits, in the index's order; ids SQLite lacks are dropped, never served."""
        if not ids:
            return []
        rows = await self._read(f"SELECT * FROM papers WHERE id IN ({', '.join('?' * len(ids))})", list(ids))
        by_id = {row["id"]: paper_from_row(row) for row in rows}
        return [by_id[paper_id] for paper_id in ids if paper_id in by_id]

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Up to `limit` (id, title) pairs: titles starting with the text, then titles containing every word.

        Runs on its own reader: autocomplete answers every keystroke within Discord's 3 s and must never
        queue behind a search.
        """
        limit = max(1, min(limit, 25))
        reader = self._autocomplete_reader
        key = normalise_title(text.replace("\x00", " "))
        if not key:
            rows = await self._read(
                "SELECT id, title FROM papers ORDER BY upvotes DESC, id LIMIT ?", (limit,), reader=reader
            )
            return [(row["id"], row["title"]) for row in rows]
        rows = await self._read(
            "SELECT id, title FROM papers WHERE title_key >= ? AND title_key < ? ORDER BY title_key LIMIT ?",
            (key, key + "\U0010ffff", limit),
            reader=reader,
        )
        found = [(row["id"], row["title"]) for row in rows]
        if len(found) >= limit:
            return found
        seen = {paper_id for paper_id, _ in found}
        ids = await asyncio.to_thread(self._search_index().autocomplete, text, limit=limit)
        ids = [paper_id for paper_id in ids if paper_id not in seen][: limit - len(found)]
        if not ids:
            return found
        rows = await self._read(
            f"SELECT id, title FROM papers WHERE id IN ({', '.join('?' * len(ids))})", ids, reader=reader
        )
        titles = {row["id"]: row["title"] for row in rows}
        return found + [(paper_id, titles[paper_id]) for paper_id in ids if paper_id in titles]

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
