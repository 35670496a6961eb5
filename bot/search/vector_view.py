"""Paper vectors as a derived view of the catalogue: kept from the change log, filled in the background.

Same shape as the keyword view (`keyword_view.py`): a generation folder named by the folder's state file,
trusted only for this catalogue and this embedding model, a cursor saved after each commit, one writer (the
lease holder), readers in any process that reload what it commits.

What differs is speed. Embedding runs at tens of papers per second on a CPU core, so a million papers take
hours: a rebuild cannot stream everything before switching. A new generation therefore starts empty and
becomes current at once; the writer then
- follows the change log first (every paper a Daily Papers list or a lookup brings is embedded as it
  arrives), and
- between log batches, fills in papers that have no vector yet (`backfill`), a few hundred at a time, so the
  log never waits long. A finished pass is remembered (`vectors-N.complete`): a restart does not scan the
  catalogue again; new papers keep arriving through the log.
Semantic ranking covers the papers that have vectors so far; `embedded()` says how many.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.catalogue import ChangeBatch, LogPosition, PaperReader
from bot.models import Paper
from bot.search.folder import ViewFolder, ViewState
from bot.search.follower import ViewUnavailable
from bot.semantic import Embedder, ModelUnavailable, StoreBusy, VectorStore, document_text

__all__ = ["VectorView"]

log = logging.getLogger(__name__)

NAME = "vectors"
VECTORS_FORMAT = 1
RELOAD_EVERY_S = 1.0
COMMIT_EVERY_S = 30.0
COMMIT_EVERY_DOCS = 2_000
EMBED_BATCH = 16  # documents per model call: small batches are fastest on 2 cores and keep memory flat
BACKGROUND_NICE = 19  # the embedding thread's CPU priority (the lowest; see `_background_priority`)
BACKFILL_BATCH = 256  # papers scanned per backfill step, so the change log waits at most one step


def _background_priority() -> None:
    """Run this thread at the lowest CPU priority (nice 19), so a slash command never waits for embedding.

    The embedding thread keeps one core busy for hours after a bulk import. At normal priority, on 2 cores
    shared with the bot's own work, a burst of slash commands answered 6× slower at p95 while it ran
    (bench/README.md, issue 11); at nice 19 the kernel gives the core to any other runnable thread first, and
    embedding still takes a whole idle core. Linux sets priorities per thread; elsewhere this does nothing.
    """
    if sys.platform != "linux":
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


class VectorView:
    """This process's handle on the paper vectors in one index folder (see the module docstring)."""

    def __init__(self, root: Path, catalogue_identity: str, embedder: Embedder, *, background: bool = True) -> None:
        """`background`: embed at the lowest CPU priority (a bot, which must answer slash commands meanwhile);
        False for `paperbot db embed`, whose whole job is the embedding — at nice 19 on a busy machine it would
        get almost no CPU at all."""
        self.folder = ViewFolder(root, NAME)
        self.embedder = embedder
        self._background = background
        self._identity = catalogue_identity
        self._store: VectorStore | None = None
        self._generation: int | None = None
        self._checked = 0.0
        self._refresh_lock = asyncio.Lock()
        # Writer side.
        self._writing = False
        self._cursor = 0
        self._pending_cursor = 0
        self._pending_docs = 0
        self._last_commit = time.monotonic()
        self._backfill: AsyncIterator[list[Paper]] | None = None
        self._backfill_done = False
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None

    def _trusted(self, state: ViewState | None) -> bool:
        return state is not None and state.format == VECTORS_FORMAT and state.catalogue == self._identity

    # ---- reading ------------------------------------------------------------------------------------------

    async def readable(self) -> VectorStore | None:
        """The vectors to search now (None while there are none); loads the model on first use.

        Raises ModelUnavailable when the embedding model cannot be loaded: the caller ranks by keywords.
        """
        if self._writing and not self._refresh_lock.locked():
            return self._store  # this process writes the vectors: it reads its own store
        if not self._writing and time.monotonic() - self._checked < RELOAD_EVERY_S:
            return self._store
        async with self._refresh_lock:
            if self._writing:  # prepare() opened the store meanwhile (a bot just started): read that
                return self._store
            if time.monotonic() - self._checked >= RELOAD_EVERY_S:
                await asyncio.to_thread(self._refresh)
                self._checked = time.monotonic()
        return self._store

    def _refresh(self) -> None:
        state = self.folder.state()
        if not self._trusted(state) or state is None or state.engine != self.embedder.name:
            self._close_store()
            return
        if state.generation != self._generation or self._store is None:
            self._close_store()
            self._store = VectorStore.open(
                self.folder.generation_dir(state.generation), model=self.embedder.name, dim=self.embedder.dim
            )
            self._generation = state.generation
        else:
            self._store.refresh()

    def _close_store(self) -> None:
        store, self._store, self._generation = self._store, None, None
        if store is not None:
            store.close()

    async def embedded(self) -> int:
        """Papers with a vector in the generation being read (0 while there is none or no model)."""
        try:
            store = await self.readable()
        except ModelUnavailable:
            return 0
        return store.count if store is not None else 0

    # ---- writing (lease holder only) ----------------------------------------------------------------------

    @property
    def cursor(self) -> int:
        """The last change-log entry applied and committed."""
        return self._cursor

    @property
    def applied(self) -> int:
        """The last change-log entry applied, committed or not."""
        return self._pending_cursor

    async def prepare(self, position: LogPosition) -> bool:
        """Take the writer role; True when the current generation can simply be followed."""
        # Under the readers' lock: a search or similar-papers request while the store (and the model) loads
        # waits for it, rather than finding no vectors in a catalogue that has them all.
        async with self._refresh_lock:
            self._writing = True
            try:
                return await asyncio.to_thread(self._prepare, position)
            except (ModelUnavailable, StoreBusy) as exc:
                self._writing = False
                raise ViewUnavailable(str(exc)) from exc

    def _prepare(self, position: LogPosition) -> bool:
        state = self.folder.state()
        if not self._trusted(state) or state is None or state.engine != self.embedder.name:
            return False
        cursor = self.folder.cursor(state.generation)
        if cursor is None or cursor < position.pruned_through or cursor > position.last_seq:
            return False
        self._close_store()
        self._store = VectorStore.open(
            self.folder.generation_dir(state.generation), model=self.embedder.name, dim=self.embedder.dim, writable=True
        )
        self._generation = state.generation
        self._cursor = self._pending_cursor = cursor
        self._backfill_done = self.folder.root.joinpath(f"{NAME}-{state.generation}.complete").exists()
        return True

    async def rebuild(self, catalogue: PaperReader, position: LogPosition) -> int:
        """Start a new, empty generation and make it current now; the backfill fills it in. Returns 0."""
        await asyncio.to_thread(self._start_generation, position.last_seq)
        log.info("Paper vectors (model %s) start afresh; papers are embedded in the background", self.embedder.name)
        return 0

    def _start_generation(self, cursor: int) -> None:
        state = self.folder.state()
        generation = max(state.generation if state else 0, self._generation or 0) + 1
        self._close_store()
        self.folder.remove_generations(keep=set())
        self._store = VectorStore.open(
            self.folder.generation_dir(generation), model=self.embedder.name, dim=self.embedder.dim, writable=True
        )
        self._generation = generation
        self.folder.save_cursor(generation, cursor)
        self.folder.switch_to(ViewState(generation, VECTORS_FORMAT, self.embedder.name, self._identity))
        self._cursor = self._pending_cursor = cursor
        self._backfill_done = False
        self._backfill = None

    async def apply(self, batch: ChangeBatch) -> None:
        """Embed the batch's papers (their text may have changed) and drop the gone ones."""
        store = self._require_store()
        if batch.papers:
            await self._embed_into(store, batch.papers)
        if batch.gone:
            store.delete(batch.gone)
        self._pending_cursor = batch.last_seq
        self._pending_docs += len(batch.papers) + len(batch.gone)
        if self._pending_docs >= COMMIT_EVERY_DOCS or time.monotonic() - self._last_commit >= COMMIT_EVERY_S:
            await self.flush()

    async def _embed_into(self, store: VectorStore, papers: Sequence[Paper]) -> None:
        loop = asyncio.get_running_loop()
        for start in range(0, len(papers), EMBED_BATCH):
            chunk = papers[start : start + EMBED_BATCH]
            texts = [document_text(p.title, p.abstract) for p in chunk]
            vectors = await loop.run_in_executor(self._embedding_thread(), self.embedder.embed_documents, texts)
            store.upsert([p.id for p in chunk], vectors)

    def _embedding_thread(self) -> concurrent.futures.ThreadPoolExecutor:
        """The one thread documents are embedded on; in the background, at the lowest CPU priority
        (see `_background_priority`)."""
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="paperbot-embed",
                initializer=_background_priority if self._background else None,
            )
        return self._executor

    async def backfill(self, catalogue: PaperReader) -> bool:
        """Embed the next papers that have no vector yet; False once every paper has one."""
        if self._backfill_done:
            return False
        store = self._require_store()
        if self._backfill is None:
            self._backfill = catalogue.stream_papers(batch_size=BACKFILL_BATCH)
        try:
            papers = await anext(self._backfill)
        except StopAsyncIteration:
            self._backfill = None
            await self.flush(force=True)
            if self._generation is not None:
                self.folder.root.joinpath(f"{NAME}-{self._generation}.complete").touch()
            self._backfill_done = True
            log.info("Every paper has a vector (%d)", store.count)
            return False
        wanted = set(await asyncio.to_thread(store.missing, [p.id for p in papers]))
        todo = [p for p in papers if p.id in wanted]
        if todo:
            await self._embed_into(store, todo)
            self._pending_docs += len(todo)
            if self._pending_docs >= COMMIT_EVERY_DOCS or time.monotonic() - self._last_commit >= COMMIT_EVERY_S:
                await self.flush(force=True)
        return True

    async def flush(self, *, force: bool = False, lazy: bool = False) -> None:
        """Commit what was embedded and save the cursor (`lazy` changes nothing: `apply` and `backfill`
        already commit in large steps)."""
        store, generation = self._store, self._generation
        if store is None or generation is None:
            return
        if not store.staged and self._pending_cursor == self._cursor and not force:
            return
        pending = self._pending_cursor
        await asyncio.to_thread(store.commit)
        await asyncio.to_thread(self.folder.save_cursor, generation, pending)
        self._cursor = pending
        self._pending_docs = 0
        self._last_commit = time.monotonic()

    def _require_store(self) -> VectorStore:
        if self._store is None:
            raise ViewUnavailable("apply() before prepare() or rebuild()")
        return self._store

    async def release(self) -> None:
        """Commit, give the store's writer lock up, keep reading."""
        if not self._writing:
            return
        try:
            with contextlib.suppress(ModelUnavailable):
                await self.flush()
        finally:
            if self._backfill is not None:
                with contextlib.suppress(Exception):
                    await self._backfill.aclose()  # type: ignore[attr-defined]
                self._backfill = None
            await asyncio.to_thread(self._close_store)
            self._writing = False
            self._checked = 0.0
            executor, self._executor = self._executor, None
            if executor is not None:
                executor.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """Release the writer role (if held) and close the store."""
        await self.release()
        await asyncio.to_thread(self._close_store)
