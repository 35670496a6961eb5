"""The proposed serving design, wired around the lead's `Catalogue` exactly as `store.py` would wire it.

* Schema (`proposed_schema.sql`, a migration for the lead to number): the `papers` table keeps every row and
  its B-tree indexes; the FTS5 tables and their triggers go; `search_outbox` records, in the same SQLite
  transaction as the change, every paper id the index has not caught up with.
* Search and autocomplete go to `SearchIndex` (tantivy) in a worker thread; the ids it returns are looked up
  in SQLite in one `IN (…)` query, in the index's order, dropping any id SQLite lacks — the index can never
  make the bot serve a paper the catalogue does not have.
* Keeping in step: after every write the outbox is drained (rows read back merged, indexed, then the outbox
  entries deleted). On open, a stale or missing index is rebuilt from SQLite; otherwise the outbox is drained,
  which repairs a crash between a SQLite commit and an index commit.
* The snapshot import indexes the papers each batch changed straight from memory in the background (batch k
  is indexed while batch k+1 is written and k+2 parsed); the index is marked incomplete for the duration, so a
  crash mid-import rebuilds it from SQLite on the next open.

This module is the reference for the wiring; it touches `Catalogue` privates (`_read`, `_transaction`) only
because it lives outside the catalogue package — inside `store.py` they are its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Self

from bot.catalogue import Catalogue
from bot.catalogue._bulk import BulkResult, import_arxiv_batch
from bot.catalogue._search import normalise_title
from bot.catalogue._tantivy_index import SearchIndex
from bot.catalogue.store import DayChange, paper_from_row
from bot.models import DailyEntry, Paper, SearchResults, SortOrder

SCHEMA = Path(__file__).with_name("proposed_schema.sql")
_DRAIN_BATCH = 5_000
_IDS_PER_QUERY = 500


class ProposedCatalogue(Catalogue):
    """`Catalogue` with search and autocomplete served by a tantivy index kept in step with SQLite."""

    index: SearchIndex
    _indexing: asyncio.Task[None] | None = None
    _importing: bool = False
    _pending: int = 0
    # The import indexes every batch but commits the index only this often: each tantivy commit starts
    # segment merges, which cost CPU and memory during the import (peak RSS 552 → 385 MB at 1M with one
    # commit at the end). Crash safety does not depend on it: the index is marked incomplete meanwhile.
    COMMIT_EVERY = 1_000_000

    @classmethod
    async def open_with_index(
        cls, path: Path | str, index_dir: Path | str, *, migrate: bool = True, heap_bytes: int = 64_000_000
    ) -> Self:
        """Open the catalogue and its search index, then rebuild or catch the index up."""
        catalogue = await cls.open(path)
        try:
            if migrate:
                async with catalogue._write_lock:
                    async with catalogue._db.execute(
                        "SELECT 1 FROM sqlite_master WHERE name = 'search_outbox'"
                    ) as cursor:
                        migrated = await cursor.fetchone() is not None
                    if not migrated:
                        sql = SCHEMA.read_text(encoding="utf-8")
                        await catalogue._db.executescript(f"BEGIN;\n{sql}\nCOMMIT;")
            catalogue.index = await asyncio.to_thread(SearchIndex.open, index_dir, heap_bytes=heap_bytes)
            await catalogue.catch_up()
        except BaseException:
            await catalogue.close()
            raise
        return catalogue

    async def close(self) -> None:
        """Finish indexing, close the index writer, then both connections."""
        await self.finish_arxiv_import()
        index = getattr(self, "index", None)
        if index is not None:
            await asyncio.to_thread(index.close)
        await super().close()

    # ---- keeping the index in step ------------------------------------------------------------------------

    async def catch_up(self) -> None:
        """Rebuild the index from SQLite if it cannot be trusted, else index what the outbox lists."""
        if self.index.needs_rebuild:
            await asyncio.to_thread(self.index.rebuild, _all_papers(self.path), commit_every=200_000)
            async with self._transaction() as db:
                await db.execute("DELETE FROM search_outbox")
            return
        while await self._drain_outbox():
            pass

    async def _drain_outbox(self) -> int:
        """Index up to `_DRAIN_BATCH` outbox entries (deleting index entries for papers SQLite lost)."""
        rows = await self._read(
            "SELECT o.id AS outbox_id, p.* FROM search_outbox o LEFT JOIN papers p ON p.id = o.id LIMIT ?",
            (_DRAIN_BATCH,),
        )
        if not rows:
            return 0
        present = [paper_from_row(row) for row in rows if row["pk"] is not None]
        missing = [row["outbox_id"] for row in rows if row["pk"] is None]
        if present:
            await asyncio.to_thread(self.index.index_papers, present)
        if missing:
            await asyncio.to_thread(self.index.delete_ids, missing)
        await self._forget([row["outbox_id"] for row in rows])
        return len(rows)

    async def _forget(self, ids: Sequence[str]) -> None:
        async with self._transaction() as db:
            for start in range(0, len(ids), _IDS_PER_QUERY):
                chunk = list(ids[start : start + _IDS_PER_QUERY])
                await db.execute(f"DELETE FROM search_outbox WHERE id IN ({', '.join('?' * len(chunk))})", chunk)

    async def upsert_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Catalogue write plus its outbox rows in one transaction, then index catch-up."""
        if not papers:
            return 0
        seen = (seen_at or dt.datetime.now(dt.UTC)).isoformat()
        async with self._transaction() as db:
            changed = await self._upsert(db, papers, seen)
            await db.executemany("INSERT OR IGNORE INTO search_outbox (id) VALUES (?)", [(p.id,) for p in papers])
        await self._drain_outbox()
        return changed

    async def record_day(
        self, day: dt.date, entries: Sequence[DailyEntry], *, fetched_at: dt.datetime | None = None
    ) -> DayChange:
        """Catalogue write, outbox rows, then index catch-up.

        (Prototype gap: the outbox rows are a second transaction here; inside store.py they belong in
        record_day's own transaction.)
        """
        change = await super().record_day(day, entries, fetched_at=fetched_at)
        async with self._transaction() as db:
            await db.executemany(
                "INSERT OR IGNORE INTO search_outbox (id) VALUES (?)", [(e.paper.id,) for e in entries]
            )
        await self._drain_outbox()
        return change

    async def import_arxiv_batch(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> BulkResult:
        """Commit the batch to SQLite, then index exactly the papers it changed, in the background.

        The import writes no outbox rows (they cost ~70% more SQLite time per paper): instead the index is
        marked incomplete from the first batch until `finish_arxiv_import()`, so a crash mid-import makes the
        next open rebuild it from SQLite. At most one indexing task runs, so memory stays bounded.
        """
        if not self._importing:
            self._importing = True
            await asyncio.to_thread(self.index.mark_incomplete)
        result = await import_arxiv_batch(self, papers, seen_at=seen_at)
        task, self._indexing = self._indexing, None
        if task is not None:
            await task
        new = [p for p in papers if p.id in result.new_ids]
        if new or result.updated:
            self._indexing = asyncio.create_task(self._index_batch(new, list(result.updated)))
        return result

    async def _index_batch(self, new: list[Paper], updated: list[Paper]) -> None:
        def work() -> None:
            self.index.index_papers(new, commit=False, new=True)
            self.index.index_papers(updated, commit=False)

        await asyncio.to_thread(work)
        self._pending += len(new) + len(updated)
        if self._pending >= self.COMMIT_EVERY:
            self._pending = 0
            await asyncio.to_thread(self.index.commit)

    async def finish_arxiv_import(self) -> None:
        """Wait until the index holds, committed, every batch written so far; mark it complete again."""
        task, self._indexing = self._indexing, None
        if task is not None:
            await task
        if self._importing:
            await asyncio.to_thread(self.index.commit)
            await asyncio.to_thread(self.index.mark_complete)
            self._importing, self._pending = False, 0

    # ---- reads --------------------------------------------------------------------------------------------

    async def _papers_by_id(self, ids: Sequence[str]) -> list[Paper]:
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = await self._read(f"SELECT * FROM papers WHERE id IN ({marks})", list(ids))
        by_id = {row["id"]: paper_from_row(row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def search(
        self, query: str, *, limit: int = 10, offset: int = 0, sort: SortOrder = "relevance"
    ) -> SearchResults:
        """Same contract as `Catalogue.search`, answered by the index and filled from SQLite."""
        hits = await asyncio.to_thread(self.index.search, query, limit=limit, offset=offset, sort=sort)
        papers = await self._papers_by_id(hits.ids)
        return SearchResults(
            query=query,
            papers=tuple(papers),
            matched=hits.matched if papers else "none",
            sort=sort,
            offset=max(0, offset),
            has_more=hits.has_more,
        )

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Same contract as `Catalogue.autocomplete`: titles that start with the typed text first (a B-tree
        range on `title_key`, ~0.2 ms), then titles containing every typed word from the index."""
        limit = max(1, min(limit, 25))
        if not text.strip():
            return await super().autocomplete(text, limit=limit)  # nothing typed: the most upvoted titles
        key = normalise_title(text)
        rows = await self._read(
            "SELECT id, title FROM papers WHERE title_key >= ? AND title_key < ? ORDER BY title_key LIMIT ?",
            (key, key + "\U0010ffff", limit),
        )
        found = [(row["id"], row["title"]) for row in rows]
        if len(found) >= limit:
            return found
        ids = await asyncio.to_thread(self.index.autocomplete, text, limit=limit)
        seen = {pid for pid, _ in found}
        ids = [i for i in ids if i not in seen][: limit - len(found)]
        if not ids:
            return found
        marks = ", ".join("?" * len(ids))
        rows = await self._read(f"SELECT id, title FROM papers WHERE id IN ({marks})", ids)
        titles = {row["id"]: row["title"] for row in rows}
        return found + [(i, titles[i]) for i in ids if i in titles]


def _all_papers(path: Path) -> Iterator[Paper]:
    """Every catalogue row, streamed in key order through a read-only connection (runs in the index thread)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        last = 0
        while True:
            rows = db.execute("SELECT * FROM papers WHERE pk > ? ORDER BY pk LIMIT 10000", (last,)).fetchall()
            if not rows:
                return
            yield from (paper_from_row(row) for row in rows)
            last = rows[-1]["pk"]
    finally:
        db.close()
