"""Apply the catalogue's change log to this process's derived views — only while holding the folder's lease.

One process at a time writes a given index folder. The bot takes the lease when it starts and keeps it; a
CLI command takes it only when nobody holds it (`paperbot ingest` from cron beside a running bot then writes
the catalogue only, and the bot's follower indexes what it wrote within a second or two). A process that
cannot take the lease reads the views as they stand. A bot that found the lease taken (a long `paperbot
import` holding it) tries again every few seconds and takes over when it is free.

Following: read the log after the view's cursor in batches, apply each, commit, move the cursor; when caught
up, wait for the next entry (PostgreSQL wakes the wait on commit; SQLite polls a cheap max(seq)). A view that
cannot be trusted (new folder, upgraded format, a catalogue restored from elsewhere, entries pruned before
they were read) is rebuilt from every stored paper first; for the bot that happens in the background while
the old generation, or the catalogue's own title scan, keeps answering.

Handing over: when a CLI holder stops, it applies what is left, releases the lease, then looks once more —
an entry written by a process that could not take the lease in between would otherwise wait for the next
holder — and takes the lease back to apply it if it is still free.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from bot.catalogue import Catalogue, ChangeBatch, LogPosition, PaperReader
from bot.errors import CatalogueError
from bot.search.lease import Lease

__all__ = ["DerivedView", "Follower", "Role", "ViewUnavailable"]

log = logging.getLogger(__name__)

Role = Literal["bot", "cli", "embed"]
BATCH = 5_000
WAIT_S = 1.0
RETRY_LEASE_S = 5.0
BOT_READY_WAIT_S = 10.0
PRUNE_EVERY = dt.timedelta(hours=24)
KEEP_CHANGES = dt.timedelta(days=30)
_HANDOVER_ROUNDS = 5
CATALOGUE_RETRY_S = (0.0, 1.0, 2.0, 5.0)  # pauses between attempts while the catalogue cannot be reached


class ViewUnavailable(RuntimeError):
    """A view cannot be written by this process (no embedding model, a store held elsewhere): it is skipped,
    with one warning, and searches use what exists."""


class DerivedView(Protocol):
    """A view of the catalogue kept from the change log (the keyword index; vectors)."""

    @property
    def cursor(self) -> int:
        """The last entry applied and committed."""
        ...

    @property
    def applied(self) -> int:
        """The last entry applied (committed or not): where the next read of the log starts."""
        ...

    async def prepare(self, position: LogPosition) -> bool:
        """Take the writer role; True when the current state can simply be followed."""
        ...

    async def rebuild(self, catalogue: PaperReader, position: LogPosition) -> int:
        """Build the view anew from every stored paper (or start an empty one that `backfill` fills)."""
        ...

    async def apply(self, batch: ChangeBatch) -> None:
        """Apply one batch of the log."""
        ...

    async def backfill(self, catalogue: PaperReader) -> bool:
        """Do one step of filling in papers the view lacks (between log batches); False when nothing is left."""
        ...

    async def flush(self, *, lazy: bool = False) -> None:
        """Commit what was applied and save the cursor (`lazy`: the view may wait while a bulk write is still
        arriving, committing within its own interval)."""
        ...

    async def release(self) -> None:
        """Leave the writer role."""
        ...


class Follower:
    """Holds (or waits for) the lease and keeps every view caught up while it does.

    `views` are the views this process writes while it holds the lease; `waited` (a subset) are brought up
    to date before a CLI command answers and before it lets the lease go — the keyword index, which takes
    seconds. Vectors, which take hours to fill, are written only by the bot (and `paperbot db embed`).
    """

    def __init__(
        self,
        catalogue: Catalogue,
        lease: Lease,
        views: list[DerivedView],
        *,
        role: Role,
        waited: list[DerivedView] | None = None,
    ) -> None:
        self.catalogue = catalogue
        self.lease = lease
        self.views = views
        self.waited = waited if waited is not None else list(views)
        self.role = role
        self._tasks: list[asyncio.Task[None]] = []
        self._lease_task: asyncio.Task[None] | None = None
        self._ready: dict[int, asyncio.Event] = {id(view): asyncio.Event() for view in views}
        self._locks: dict[int, asyncio.Lock] = {id(view): asyncio.Lock() for view in views}
        self._failed: set[int] = set()
        self._paused: set[int] = set()  # views whose following waits for the catalogue to answer again
        self._outage_level = logging.WARNING if role == "bot" else logging.DEBUG
        self._stopping = False

    @property
    def holds_lease(self) -> bool:
        """Whether this process is the writer of the folder."""
        return self.lease.held

    async def start(self) -> None:
        """Take the lease if free and start following; a bot keeps trying in the background if it is not.

        A CLI command answers from a caught-up index, so it waits for the `waited` views. The bot waits at
        most `BOT_READY_WAIT_S` for them (a small catalogue's rebuild takes well under a second), then serves
        while a long rebuild goes on in the background.
        """
        if self._take_lease():
            if self.role != "bot":
                for view in self.waited:
                    await self._prepare(view)
                    await self._catch_up(view)
            self._start_following()
            if self.role == "bot":
                ready = [asyncio.ensure_future(self._ready[id(view)].wait()) for view in self.waited]
                _done, pending = await asyncio.wait(ready, timeout=BOT_READY_WAIT_S) if ready else (set(), set())
                for waiter in pending:
                    waiter.cancel()
                if pending:
                    log.info("The search index is still being built; serving meanwhile (titles only until then)")
        elif self.role == "bot":
            log.info(
                "The search index at %s is being written by %s; reading it as it stands until that finishes",
                self.lease.folder,
                self.lease.holder() or "another process",
            )
            self._lease_task = asyncio.create_task(self._wait_for_lease(), name="paperbot-index-lease")
        else:
            holder = self.lease.holder() or "another process"
            log.debug("Index lease held by %s: reading the index as it stands", holder)

    def _take_lease(self) -> bool:
        try:
            return self.lease.try_acquire()
        except OSError as exc:  # a read-only or full disk: serve what exists, never fail the command
            log.warning("Cannot take the index lease in %s: %s", self.lease.folder, exc)
            return False

    async def _wait_for_lease(self) -> None:
        while not self._stopping:
            await asyncio.sleep(RETRY_LEASE_S)
            if self._take_lease():
                log.info("Took over writing the search index at %s", self.lease.folder)
                self._start_following()
                return

    def _start_following(self) -> None:
        for view in self.views:
            self._tasks.append(asyncio.create_task(self._follow(view), name="paperbot-index-follower"))
        if self.role == "bot":
            self._tasks.append(asyncio.create_task(self._prune_daily(), name="paperbot-changes-prune"))

    async def _prepare(self, view: DerivedView) -> None:
        """Take the writer role for `view` (rebuilding it when untrusted), once, whoever asks first."""
        async with self._locks[id(view)]:
            if self._ready[id(view)].is_set():
                return
            position = await self.catalogue.log_position()
            if not await view.prepare(position):
                await view.rebuild(self.catalogue, position)
            self._ready[id(view)].set()

    async def _catch_up(self, view: DerivedView, *, lazy: bool = False) -> int:
        """Apply every entry after the view's cursor; return how many entries were read. `lazy`: the
        following loop's rounds, which let a view defer its commit while a bulk write goes on; a command
        waiting for the index (`sync`) always commits."""
        applied = 0
        async with self._locks[id(view)]:
            while True:
                batch = await self.catalogue.changes_after(view.applied, limit=BATCH)
                if batch.empty:
                    break
                await view.apply(batch)
                applied += len(batch.papers) + len(batch.gone)
            await view.flush(lazy=lazy)
        return applied

    async def _follow(self, view: DerivedView) -> None:
        try:
            pause, stalled_at = 0, -1
            while not self._stopping:
                try:
                    await self._follow_while_reachable(view)
                except CatalogueError as exc:
                    # The database is away (a PostgreSQL restart, a network cut): searches keep using the
                    # view as it stands; following resumes from the cursor when the database answers again.
                    if view.cursor != stalled_at:  # a new outage (progress was made since the last one)
                        pause, stalled_at = 0, view.cursor
                        # A CLI command reports the failure of its own work; only the bot says it here.
                        log.log(
                            self._outage_level,
                            "Following the change log into %s paused: %s; retrying",
                            type(view).__name__,
                            exc,
                        )
                    self._paused.add(id(view))
                    pause = min(len(CATALOGUE_RETRY_S) - 1, pause + 1)
                    await asyncio.sleep(CATALOGUE_RETRY_S[pause])
        except asyncio.CancelledError:
            raise
        except ViewUnavailable as exc:
            self._failed.add(id(view))
            log.warning("Not writing %s here: %s", type(view).__name__, exc)
        except Exception:
            # A broken view must not take the bot down: searches keep using what exists; a restart rebuilds.
            self._failed.add(id(view))
            log.exception("Following the change log into %s stopped", type(view).__name__)

    async def _follow_while_reachable(self, view: DerivedView) -> None:
        await self._prepare(view)
        while not self._stopping:
            await self._catch_up(view, lazy=True)
            if id(view) in self._paused:
                self._paused.discard(id(view))
                level = logging.INFO if self.role == "bot" else logging.DEBUG
                log.log(level, "Following the change log into %s resumed", type(view).__name__)
            async with self._locks[id(view)]:
                more = await view.backfill(self.catalogue)
            if not more:
                # After what was applied, not what was committed: a view deferring its commit during a bulk
                # write would otherwise wake at once and commit every batch it caught up with.
                await self.catalogue.wait_for_changes(view.applied, max_wait_s=WAIT_S)

    async def complete(self, view: DerivedView, *, on_step: Callable[[], Awaitable[None]] | None = None) -> None:
        """Bring `view` fully up to date now, backfill included (`paperbot db embed`); writer only."""
        if not self.lease.held:
            raise ViewUnavailable("another process holds the index folder")
        await self._prepare(view)
        while True:
            await self._catch_up(view)
            async with self._locks[id(view)]:
                more = await view.backfill(self.catalogue)
            if on_step is not None:
                await on_step()
            if not more:
                await self._catch_up(view)
                return

    async def _prune_daily(self) -> None:
        while not self._stopping:
            try:
                pruned = await self.catalogue.prune_changes(dt.datetime.now(dt.UTC) - KEEP_CHANGES)
                if pruned:
                    log.info("Pruned %d change-log entries older than %d days", pruned, KEEP_CHANGES.days)
            except Exception:
                log.exception("Pruning the change log failed; will try again tomorrow")
            await asyncio.sleep(PRUNE_EVERY.total_seconds())

    async def sync(self) -> None:
        """Bring the waited-for views up to the log's current end now (writer only; a no-op for a reader)."""
        if not self.lease.held:
            return
        for view in self.waited:
            if id(view) in self._failed:
                continue
            await self._prepare(view)
            await self._catch_up(view)

    async def close(self) -> None:
        """Stop following; a CLI holder applies what is left, hands the lease over cleanly, and releases it."""
        self._stopping = True
        tasks = [t for t in (self._lease_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if not self.lease.held:
            return
        try:
            for _ in range(_HANDOVER_ROUNDS):
                await self.sync()
                await self._release()
                # Written while we held the lease by someone who could not take it? Take it back and apply.
                position = await self.catalogue.log_position()
                if all(view.cursor >= position.last_seq for view in self.waited) or not self._take_lease():
                    return
                for view in self.views:
                    self._ready[id(view)].clear()
        finally:
            await self._release()

    async def _release(self) -> None:
        for view in self.views:
            with contextlib.suppress(Exception):
                await view.release()
        self.lease.release()
