"""The keyword index as a derived view of the catalogue: read by every process, written by the lease holder.

Reading: any process opens the generation the folder's state names and reloads it at most once a second
(`readable()`), so papers committed by another process's writer show up within seconds. A reload that races
the writer's segment clean-up keeps the previous searcher and tries again next time.

Writing (only while this process holds the folder's lease — `bot.search.follower` sees to that):
- `prepare()` says whether the current generation can be trusted for this catalogue: it exists, opens, was
  built with this index format and tantivy version from this catalogue, and its cursor is not behind what
  the change log has pruned. Otherwise `rebuild()` builds the next generation from every stored paper, while
  the current one (if readable) keeps serving, and switches to it when complete.
- `apply()` indexes a batch of the change log; the cursor is saved only after a commit, so a crash replays
  entries (idempotent: papers are replaced by id) and never skips one. Commits are batched (every
  `COMMIT_EVERY_S` or `COMMIT_EVERY_DOCS`, and whenever the follower has caught up), because a tantivy
  commit per small batch would multiply segments and memory during a bulk import.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from bot.catalogue import ChangeBatch, LogPosition, PaperReader
from bot.search.folder import RebuildProgress, ViewFolder, ViewState
from bot.search.keyword_index import DEFAULT_HEAP_BYTES, ENGINE, INDEX_FORMAT, IndexUnusable, KeywordIndex

__all__ = ["KeywordView"]

log = logging.getLogger(__name__)

NAME = "keyword"
RELOAD_EVERY_S = 1.0
COMMIT_EVERY_S = 2.0
# While a bulk write (an import) is followed: papers become searchable in other processes within ~10 s, and
# each commit's segments are bigger (fewer merges). A log batch of BULK_BATCH papers or more means bulk.
BULK_COMMIT_EVERY_S = 10.0
BULK_BATCH = 1_000
COMMIT_EVERY_DOCS = 200_000
_STREAM_BATCH = 5_000
_PROGRESS_EVERY_S = 1.0
_QUIET_BELOW = 10_000


class KeywordView:
    """This process's handle on the keyword index in one folder (see the module docstring)."""

    def __init__(self, root: Path, catalogue_identity: str, *, heap_bytes: int = DEFAULT_HEAP_BYTES) -> None:
        self.folder = ViewFolder(root, NAME)
        self._identity = catalogue_identity
        self._heap_bytes = heap_bytes
        self._index: KeywordIndex | None = None
        self._generation: int | None = None
        self._state_mtime = -1.0
        self._checked = 0.0
        self._refresh_lock = asyncio.Lock()
        # Writer side.
        self._writing = False
        self._cursor = 0  # applied and committed
        self._pending_cursor = 0  # applied, not yet committed
        self._pending_docs = 0
        self._last_commit = time.monotonic()
        self._bulk_since_flush = False  # a batch of BULK_BATCH or more papers arrived since the last flush

    # ---- reading ------------------------------------------------------------------------------------------

    def _trusted(self, state: ViewState | None) -> bool:
        return (
            state is not None
            and state.format == INDEX_FORMAT
            and state.engine == ENGINE
            and state.catalogue == self._identity
        )

    async def readable(self) -> KeywordIndex | None:
        """The index to search now, refreshed when the folder moved on; None while none is usable."""
        now = time.monotonic()
        if self._writing or now - self._checked < RELOAD_EVERY_S:
            return self._index
        async with self._refresh_lock:
            if time.monotonic() - self._checked >= RELOAD_EVERY_S:
                await asyncio.to_thread(self._refresh)
                self._checked = time.monotonic()
        return self._index

    def _refresh(self) -> None:
        """Open the current generation if it changed, else reload the open one (blocking)."""
        mtime = self.folder.state_mtime()
        if mtime != self._state_mtime:
            state = self.folder.state()
            if not self._trusted(state):
                self._state_mtime = mtime
                return
            assert state is not None
            if state.generation != self._generation:
                try:
                    index = KeywordIndex.open(self.folder.generation_dir(state.generation), heap_bytes=self._heap_bytes)
                except IndexUnusable as exc:
                    log.debug("search index generation %s not readable yet: %s", state.generation, exc)
                    return  # try again at the next refresh
                self._index, self._generation = index, state.generation
            self._state_mtime = mtime
        if self._index is not None:
            self._index.reload()

    def applied_through(self) -> int | None:
        """The last change-log entry the index being read has applied (None: no usable index yet)."""
        if self._writing:
            return self._cursor
        generation = self._generation
        return None if generation is None else self.folder.cursor(generation)

    def rebuild_progress(self) -> RebuildProgress | None:
        """The progress of a rebuild running in any process, if one is."""
        return self.folder.progress()

    @property
    def cursor(self) -> int:
        """The last change-log entry applied and committed by this process's writer."""
        return self._cursor

    @property
    def applied(self) -> int:
        """The last change-log entry applied by this process's writer, committed or not."""
        return self._pending_cursor

    # ---- writing (lease holder only) ----------------------------------------------------------------------

    async def prepare(self, position: LogPosition) -> bool:
        """Take the writer role; return True when the current generation can be followed as it is."""
        self._writing = True
        return await asyncio.to_thread(self._prepare, position)

    def _prepare(self, position: LogPosition) -> bool:
        self.folder.clear_progress()  # a rebuild that died with its process left its progress behind
        state = self.folder.state()
        if not self._trusted(state):
            # Another format, tantivy version or catalogue: never served, rebuilt.
            self._index, self._generation = None, None
            return False
        assert state is not None
        cursor = self.folder.cursor(state.generation)
        try:
            index = KeywordIndex.open(self.folder.generation_dir(state.generation), heap_bytes=self._heap_bytes)
        except IndexUnusable as exc:
            log.warning("The search index cannot be read (%s); rebuilding it from the catalogue", exc)
            return False
        self._index, self._generation = index, state.generation
        if cursor is None or cursor < position.pruned_through or cursor > position.last_seq:
            # No cursor (a crashed rebuild), entries pruned before we read them, or a cursor from the
            # future (the catalogue was restored from an older copy): the index cannot be caught up.
            return False
        self._cursor = self._pending_cursor = cursor
        return True

    async def rebuild(self, catalogue: PaperReader, position: LogPosition) -> int:
        """Build the next generation from every stored paper; switch to it when complete. Returns papers indexed.

        `position` is read before the scan starts: entries after it are applied by the follower afterwards,
        which is harmless for papers the scan already saw (the same paper is indexed again).
        """
        state = await asyncio.to_thread(self.folder.state)
        generation = max(state.generation if state else 0, self._generation or 0) + 1
        directory = self.folder.generation_dir(generation)
        await asyncio.to_thread(self.folder.remove_generations, keep={g for g in (self._generation,) if g})
        index = await asyncio.to_thread(KeywordIndex.create, directory, heap_bytes=self._heap_bytes)
        total = await catalogue.count_papers()
        started = time.time()
        progress = RebuildProgress(generation, 0, total, started, started)
        await asyncio.to_thread(self.folder.save_progress, progress)
        level = logging.INFO if total >= _QUIET_BELOW else logging.DEBUG  # a small build is not worth a line
        log.log(level, "Building the search index from the catalogue: %d papers", total)
        done = since_commit = 0
        last_report = time.monotonic()
        try:
            async for batch in catalogue.stream_papers(batch_size=_STREAM_BATCH):
                await asyncio.to_thread(index.index_papers, batch, commit=False, new=True)
                done += len(batch)
                since_commit += len(batch)
                if since_commit >= COMMIT_EVERY_DOCS:
                    await asyncio.to_thread(index.commit)
                    since_commit = 0
                if time.monotonic() - last_report >= _PROGRESS_EVERY_S:
                    last_report = time.monotonic()
                    progress = RebuildProgress(generation, done, max(total, done), started, time.time())
                    await asyncio.to_thread(self.folder.save_progress, progress)
            await asyncio.to_thread(index.commit)
        except BaseException:
            await asyncio.to_thread(index.close)
            await asyncio.to_thread(self.folder.clear_progress)
            raise
        await asyncio.to_thread(self._switch, index, generation, position.last_seq)
        log.log(level, "Search index built: %d papers in %.1f s", done, time.time() - started)
        return done

    def _switch(self, index: KeywordIndex, generation: int, cursor: int) -> None:
        self.folder.save_cursor(generation, cursor)
        self.folder.switch_to(ViewState(generation, INDEX_FORMAT, ENGINE, self._identity))
        self.folder.clear_progress()
        old, self._index, self._generation = self._index, index, generation
        if old is not None and old is not index:
            old.close()
        self._cursor = self._pending_cursor = cursor
        self._pending_docs = 0
        self._last_commit = time.monotonic()

    async def apply(self, batch: ChangeBatch) -> None:
        """Index one batch of the change log (committing when the batching rules say so)."""
        index = self._index
        if index is None:
            raise IndexUnusable("apply() before prepare() or rebuild()")
        if batch.papers:
            await asyncio.to_thread(index.index_papers, batch.papers, commit=False)
        if batch.gone:
            await asyncio.to_thread(index.delete_ids, batch.gone, commit=False)
        self._pending_cursor = batch.last_seq
        size = len(batch.papers) + len(batch.gone)
        self._pending_docs += size
        self._bulk_since_flush = self._bulk_since_flush or size >= BULK_BATCH
        every = BULK_COMMIT_EVERY_S if self._bulk_since_flush else COMMIT_EVERY_S
        if self._pending_docs >= COMMIT_EVERY_DOCS or time.monotonic() - self._last_commit >= every:
            await self.flush()

    async def backfill(self, catalogue: PaperReader) -> bool:
        """Nothing to fill in: a rebuild indexes every paper before it becomes current."""
        return False

    async def flush(self, *, lazy: bool = False) -> None:
        """Commit what was applied and save the cursor.

        `lazy` (the follower, each time it has caught up): while a bulk write is still arriving, leave the
        commit to `apply`'s interval — committing after every import batch the follower catches up with
        made ~200 small segments per million papers, and tantivy's merging of them cost more than the
        indexing saved by waiting (bench/README.md, issue 9). Once a round brings no big batch, commit.
        """
        bulk, self._bulk_since_flush = self._bulk_since_flush, False
        if lazy and bulk and time.monotonic() - self._last_commit < BULK_COMMIT_EVERY_S:
            return
        index, generation = self._index, self._generation
        if index is None or generation is None or self._pending_cursor == self._cursor:
            return
        pending = self._pending_cursor
        await asyncio.to_thread(index.commit)
        await asyncio.to_thread(self.folder.save_cursor, generation, pending)
        self._cursor = pending
        self._pending_docs = 0
        self._last_commit = time.monotonic()

    async def release(self) -> None:
        """Leave the writer role: commit, close the tantivy writer (its lock file), keep reading."""
        if not self._writing:
            return
        try:
            await self.flush()
        finally:
            index = self._index
            if index is not None:
                await asyncio.to_thread(index.close)
            self._writing = False
            self._checked = 0.0

    async def close(self) -> None:
        """Release the writer role (if held) and forget the index."""
        await self.release()
        self._index = None
        self._generation = None
