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
from typing import Literal, Protocol

from bot.catalogue import Catalogue, ChangeBatch, LogPosition, PaperReader
from bot.search.lease import Lease

__all__ = ["DerivedView", "Follower", "Role"]

log = logging.getLogger(__name__)

Role = Literal["bot", "cli"]
BATCH = 5_000
WAIT_S = 1.0
RETRY_LEASE_S = 5.0
BOT_READY_WAIT_S = 10.0
PRUNE_EVERY = dt.timedelta(hours=24)
KEEP_CHANGES = dt.timedelta(days=30)
_HANDOVER_ROUNDS = 5


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
        """Build the view anew from every stored paper."""
        ...

    async def apply(self, batch: ChangeBatch) -> None:
        """Apply one batch of the log."""
        ...

    async def flush(self) -> None:
        """Commit what was applied and save the cursor."""
        ...

    async def release(self) -> None:
        """Leave the writer role."""
        ...


class Follower:
    """Holds (or waits for) the lease and keeps every view caught up while it does."""

    def __init__(self, catalogue: Catalogue, lease: Lease, views: list[DerivedView], *, role: Role) -> None:
        self.catalogue = catalogue
        self.lease = lease
        self.views = views
        self.role = role
        self._tasks: list[asyncio.Task[None]] = []
        self._lease_task: asyncio.Task[None] | None = None
        self._ready: dict[int, asyncio.Event] = {id(view): asyncio.Event() for view in views}
        self._lock = asyncio.Lock()
        self._stopping = False

    @property
    def holds_lease(self) -> bool:
        """Whether this process is the writer of the folder."""
        return self.lease.held

    async def start(self) -> None:
        """Take the lease if free and start following; a bot keeps trying in the background if it is not.

        A CLI command answers from a caught-up index, so it waits for every view to be ready. The bot waits
        at most `BOT_READY_WAIT_S` (a small catalogue's rebuild takes well under a second), then serves
        while a long rebuild goes on in the background.
        """
        if self._take_lease():
            if self.role == "cli":
                for view in self.views:
                    await self._prepare(view)
                    await self._catch_up(view)
            self._start_following()
            if self.role == "bot":
                ready = [asyncio.ensure_future(event.wait()) for event in self._ready.values()]
                _done, pending = await asyncio.wait(ready, timeout=BOT_READY_WAIT_S)
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
        async with self._lock:
            if self._ready[id(view)].is_set():
                return
            position = await self.catalogue.log_position()
            if not await view.prepare(position):
                await view.rebuild(self.catalogue, position)
            self._ready[id(view)].set()

    async def _catch_up(self, view: DerivedView) -> int:
        """Apply every entry after the view's cursor; return how many entries were read."""
        applied = 0
        async with self._lock:
            while True:
                batch = await self.catalogue.changes_after(view.applied, limit=BATCH)
                if batch.empty:
                    break
                await view.apply(batch)
                applied += len(batch.papers) + len(batch.gone)
            await view.flush()
        return applied

    async def _follow(self, view: DerivedView) -> None:
        try:
            await self._prepare(view)
            while not self._stopping:
                await self._catch_up(view)
                await self.catalogue.wait_for_changes(view.cursor, max_wait_s=WAIT_S)
        except asyncio.CancelledError:
            raise
        except Exception:
            # A broken view must not take the bot down: searches keep using what exists; a restart rebuilds.
            log.exception("Following the change log into the search index stopped")

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
        """Bring every view up to the log's current end now (writer only; a no-op for a reader)."""
        if not self.lease.held:
            return
        for view in self.views:
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
                if all(view.cursor >= position.last_seq for view in self.views) or not self._take_lease():
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
