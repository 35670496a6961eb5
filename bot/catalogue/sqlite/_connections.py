"""The SQLite catalogue's connections: one writer, a pool of readers, and the rules for waiting on others.

Each aiosqlite connection runs on its own thread, so no query blocks the event loop. Writes go through one
connection, serialised by an asyncio lock so every public write is exactly one transaction. Reads go to a
small pool of read-only connections (WAL lets them run beside the writer, in parallel threads, since SQLite
releases the GIL), with one reader kept apart for autocomplete, which runs on every keystroke with Discord's
3 s deadline and must never queue behind a slow search.

Other processes (a cron `paperbot ingest`, `paperbot import`, a second bot) write the same file. SQLite lets
one of them write at a time; `BEGIN IMMEDIATE` takes the write lock up front and waits `busy_timeout` for it.
When another process holds it longer (an import batch under load), the transaction is retried with backoff
up to `WRITE_WAIT_S` in total and only then fails with a line that says why — a bounded wait, never a
failure just because someone else is writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from bot.errors import CatalogueError

log = logging.getLogger(__name__)

READ_POOL_SIZE = 3
BUSY_TIMEOUT_MS = 5_000
WRITE_WAIT_S = 120.0
_RETRY_PAUSE_S = 0.2


async def connect(path: Path, *, read_only: bool) -> aiosqlite.Connection:
    """One connection with the catalogue's settings (autocommit mode: transactions are explicit)."""
    db = await aiosqlite.connect(path, isolation_level=None)
    db.row_factory = sqlite3.Row
    await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    await db.execute("PRAGMA foreign_keys = ON")
    if read_only:
        await db.execute("PRAGMA query_only = 1")
    return db


def create_private_file(path: Path) -> None:
    """Create the database file owner-only (0600) before SQLite does: paper data and settings stay private."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def is_busy(exc: BaseException) -> bool:
    """Whether an error means "another connection holds the lock" (worth waiting for)."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        text in str(exc) for text in ("database is locked", "database is busy", "database table is locked")
    )


async def fetch_all(
    db: aiosqlite.Connection, sql: str, params: Sequence[Any] | dict[str, Any] = ()
) -> list[sqlite3.Row]:
    """Run one query and return every row."""
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


class Database:
    """The writer, the reader pool and the autocomplete reader of one catalogue file."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, readers: Sequence[aiosqlite.Connection]) -> None:
        self.path = path
        self._writer = writer
        self._write_lock = asyncio.Lock()
        self.autocomplete_reader = readers[0]
        self._all = (writer, *readers)
        self._pool: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()
        for reader in readers[1:]:
            self._pool.put_nowait(reader)

    @classmethod
    async def open(cls, path: Path, writer: aiosqlite.Connection) -> Database:
        """Open the read connections beside an open, migrated writer."""
        readers: list[aiosqlite.Connection] = []
        try:
            for _ in range(1 + READ_POOL_SIZE):
                readers.append(await connect(path, read_only=True))
        except BaseException:
            await close_all(readers)
            raise
        return cls(path, writer, readers)

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        await close_all(self._all)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, serialised with this process's writers and waiting (bounded) for others'.

        The body must be safe to run again: when another process holds the write lock past the busy
        timeout at BEGIN, nothing has run yet and BEGIN is simply retried.
        """
        async with self._write_lock:
            await self._begin()
            try:
                yield self._writer
            except BaseException:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await asyncio.shield(self._writer.rollback())
                raise
            else:
                await self._commit()

    async def _begin(self) -> None:
        started = time.monotonic()
        warned = False
        while True:
            try:
                # Inside the try: a task cancelled while BEGIN runs must still roll back, or the shared writer
                # stays inside a transaction and every later write fails.
                await self._writer.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc):
                    raise CatalogueError(f"cannot write the catalogue at {self.path}: {exc}") from exc
                waited = time.monotonic() - started
                if waited >= WRITE_WAIT_S:
                    raise CatalogueError(
                        f"the catalogue at {self.path} stayed locked by another process for {waited:.0f} s; "
                        "try again when the other paperbot command has finished"
                    ) from exc
                if not warned:
                    log.info("Waiting for another process's write to the catalogue to finish")
                    warned = True
                await asyncio.sleep(_RETRY_PAUSE_S)
            except BaseException:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await asyncio.shield(self._writer.rollback())
                raise

    async def set_autocheckpoint(self, pages: int) -> None:
        """Let the writer's WAL grow to `pages` pages before a commit checkpoints it (SQLite's default: 1000)."""
        async with self._write_lock:
            await self._writer.execute(f"PRAGMA wal_autocheckpoint = {int(pages)}")

    async def checkpoint(self) -> tuple[int, int]:
        """Copy what the WAL holds into the database file now, without waiting for readers (PASSIVE).

        Returns (frames in the WAL, frames checkpointed); a reader still on an old snapshot can leave some
        behind, which a later commit's automatic checkpoint takes. Never raises for a busy database.
        """
        async with self._write_lock:
            try:
                rows = await fetch_all(self._writer, "PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.OperationalError as exc:
                if is_busy(exc):
                    return (0, 0)
                raise
        busy, frames, done = (int(v) for v in rows[0]) if rows else (0, 0, 0)
        return (frames, done) if not busy else (frames, 0)

    async def _commit(self) -> None:
        try:
            await self._writer.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error, ValueError):
                await asyncio.shield(self._writer.rollback())
            raise

    async def read(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] = (),
        *,
        reader: aiosqlite.Connection | None = None,
    ) -> list[sqlite3.Row]:
        """Run one read on `reader`, or on the next free pooled reader (each has its own thread)."""
        if reader is not None:
            return await fetch_all(reader, sql, params)
        pooled = await self._pool.get()
        try:
            return await fetch_all(pooled, sql, params)
        finally:
            self._pool.put_nowait(pooled)

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[aiosqlite.Connection]:
        """Hold one pooled reader for several statements (e.g. a consistent multi-query read)."""
        pooled = await self._pool.get()
        try:
            yield pooled
        finally:
            self._pool.put_nowait(pooled)


async def close_all(connections: Sequence[aiosqlite.Connection]) -> None:
    """Close connections, ignoring ones already closed."""
    for db in connections:
        with contextlib.suppress(ValueError, sqlite3.Error):
            await db.close()
