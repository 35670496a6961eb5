"""The proposed serving design, wired around the lead's `Catalogue` exactly as `store.py` would wire it.

* Schema: the `papers` table keeps every row and its B-tree indexes, but the FTS5 tables and their triggers
  go (a future migration; here `drop_fts()` emulates it on the bench database). Writing a row then costs a
  B-tree insert instead of two FTS5 inserts through triggers.
* Search and autocomplete go to `SearchIndex` (tantivy) in a worker thread; the ids it returns are looked up
  in SQLite in one `IN (…)` query, in the index's order, dropping any id SQLite lacks.
* The snapshot import calls `import_arxiv_batch`, which writes the batch to SQLite and to the index at once
  (SQLite's thread and tantivy's threads overlap); search only serves ids SQLite has.

This module is the reference for the wiring; it touches `Catalogue` privates (`_read`, `_db`) only because it
lives outside the catalogue package — inside `store.py` they are its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from bot.catalogue import Catalogue
from bot.catalogue._bulk import BulkResult, import_arxiv_batch
from bot.catalogue._tantivy_index import SearchIndex
from bot.catalogue.store import paper_from_row
from bot.models import Paper, SearchResults, SortOrder

_FTS_OBJECTS = (
    "DROP TRIGGER IF EXISTS papers_fts_insert",
    "DROP TRIGGER IF EXISTS papers_fts_delete",
    "DROP TRIGGER IF EXISTS papers_fts_update",
    "DROP TRIGGER IF EXISTS titles_fts_update",
    "DROP TABLE IF EXISTS papers_fts",
    "DROP TABLE IF EXISTS titles_fts",
)


class ProposedCatalogue(Catalogue):
    """`Catalogue` with search and autocomplete served by a tantivy index kept in step with SQLite."""

    index: SearchIndex

    @classmethod
    async def open_with_index(cls, path: Path | str, index_dir: Path | str, *, drop_fts: bool = True) -> Self:
        """Open the catalogue and its search index (emulating the migration that drops FTS5)."""
        catalogue = await cls.open(path)
        if drop_fts:
            async with catalogue._transaction() as db:
                for statement in _FTS_OBJECTS:
                    await db.execute(statement)
        catalogue.index = await asyncio.to_thread(SearchIndex.open, index_dir)
        return catalogue

    async def close(self) -> None:
        """Close the index writer, then both connections."""
        index = getattr(self, "index", None)
        if index is not None:
            await asyncio.to_thread(index.close)
        await super().close()

    _indexing: asyncio.Task[int] | None = None

    async def import_arxiv_batch(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> BulkResult:
        """Commit the batch to SQLite, then index exactly the papers it changed, in the background.

        Indexing batch k overlaps the SQLite write of batch k+1 (and the parsing of k+2); at most one
        indexing task runs, so memory stays bounded. Search only serves ids SQLite has, and an index left
        behind by a crash is caught up from the catalogue on open.
        """
        result = await import_arxiv_batch(self, papers, seen_at=seen_at)
        await self.finish_arxiv_import()
        changed = result.changed_papers(papers)
        if changed:
            self._indexing = asyncio.create_task(asyncio.to_thread(self.index.index_papers, changed))
        return result

    async def finish_arxiv_import(self) -> None:
        """Wait until the index holds every batch written so far."""
        task, self._indexing = self._indexing, None
        if task is not None:
            await task

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
            matched=hits.matched,
            sort=sort,
            offset=max(0, offset),
            has_more=hits.has_more,
        )

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Same contract as `Catalogue.autocomplete`, answered by the index's title field."""
        if not text.strip():
            return await super().autocomplete(text, limit=limit)  # nothing typed: the most upvoted titles
        ids = await asyncio.to_thread(self.index.autocomplete, text, limit=limit)
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = await self._read(f"SELECT id, title FROM papers WHERE id IN ({marks})", ids)
        titles = {row["id"]: row["title"] for row in rows}
        return [(i, titles[i]) for i in ids if i in titles]
