"""`SqliteCatalogue`: the embedded default backend — one SQLite file, nothing to set up.

Opening creates the file owner-only (0600), switches it to WAL (readers never wait for the writer), and
applies the numbered migrations. Each concern lives in its own module (`_papers`, `_bulk`, `_daily`,
`_changes`, `_digest`, `_follows`); this class only holds the connections and routes the `Catalogue` protocol
to them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiosqlite

from bot.catalogue.sqlite import _bulk, _changes, _daily, _papers
from bot.catalogue.sqlite._connections import Database, close_all, connect, create_private_file, fetch_all
from bot.catalogue.sqlite._digest import SqliteDigestStore
from bot.catalogue.sqlite._follows import SqliteFollowStore
from bot.catalogue.sqlite._migrate import migrate
from bot.catalogue.sqlite._recent import RecentWrites
from bot.catalogue.types import Backend, ChangeBatch, DayChange, LogPosition
from bot.errors import CatalogueError
from bot.models import CatalogueStats, DailyEntry, Paper, Trending, TrendingPeriod

__all__ = ["SqliteCatalogue"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _files_size(*paths: Path) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


class SqliteCatalogue:
    """The catalogue in one SQLite file (see the module docstring)."""

    def __init__(self, database: Database, identity: str) -> None:
        self._db = database
        self._identity = identity
        # New rows this process's imports wrote, so its own index follower need not read them back.
        self._recent = RecentWrites()
        self._digests = SqliteDigestStore(database)
        self._follows = SqliteFollowStore(database)

    @classmethod
    async def open(cls, path: Path | str) -> SqliteCatalogue:
        """Open (creating if needed) and migrate the catalogue at `path`."""
        path = Path(path)
        writer: aiosqlite.Connection | None = None
        try:
            create_private_file(path)
            writer = await connect(path, read_only=False)
            rows = await fetch_all(writer, "PRAGMA journal_mode = WAL")
            if rows and str(rows[0][0]).lower() != "wal":
                raise CatalogueError(f"cannot use the catalogue at {path}: SQLite refused WAL mode")
            await writer.execute("PRAGMA synchronous = NORMAL")
            await migrate(writer)
            identity_rows = await fetch_all(writer, "SELECT value FROM meta WHERE key = 'catalogue_id'")
            database = await Database.open(path, writer)
        except (OSError, sqlite3.Error) as exc:
            if writer is not None:
                await close_all([writer])
            raise CatalogueError(f"cannot open the catalogue at {path}: {exc}") from exc
        except BaseException:
            if writer is not None:
                await close_all([writer])
            raise
        return cls(database, str(identity_rows[0][0]))

    # ---- identity -----------------------------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """Always "sqlite"."""
        return "sqlite"

    @property
    def identity(self) -> str:
        """The random id written by the migration that created the change log."""
        return self._identity

    @property
    def location(self) -> str:
        """The database file's path."""
        return str(self._db.path)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._db.path

    @property
    def digests(self) -> SqliteDigestStore:
        """The digest's subscriptions and post records."""
        return self._digests

    @property
    def follows(self) -> SqliteFollowStore:
        """Members' follows, the list entries and the follow DM records."""
        return self._follows

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        await self._db.close()

    async def __aenter__(self) -> SqliteCatalogue:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- papers -------------------------------------------------------------------------------------------

    async def upsert_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Insert or update papers; return how many rows actually changed."""
        if not papers:
            return 0
        async with self._db.transaction() as db:
            return await _papers.upsert(db, papers, seen_at or _utcnow())

    async def import_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Bulk-merge one batch of an arXiv snapshot; return how many rows changed."""
        return await _bulk.import_batch(self._db, papers, seen_at or _utcnow(), self._recent)

    async def finish_import(self) -> None:
        """Checkpoint the WAL the import's batches grew (they defer checkpoints for speed; see `_bulk`)."""
        await _bulk.finish_import(self._db)

    async def restore_papers(self, papers: Sequence[Paper]) -> int:
        """Make papers exactly as given (`db copy`); return how many rows changed."""
        if not papers:
            return 0
        async with self._db.transaction() as db:
            return await _papers.restore(db, papers, _utcnow())

    async def get(self, paper_id: str) -> Paper | None:
        """The paper with this unversioned arXiv id, if stored."""
        return await _papers.get(self._db, paper_id)

    async def get_many(self, paper_ids: Sequence[str]) -> list[Paper]:
        """The stored papers among `paper_ids`, in the given order."""
        return await _papers.get_many(self._db, paper_ids)

    async def find_title(self, text: str) -> Paper | None:
        """The paper whose title is exactly `text`, ignoring case and spacing."""
        return await _papers.find_title(self._db, text)

    async def titles_starting_with(self, text: str, *, limit: int) -> list[tuple[str, str]]:
        """(id, title) pairs whose title starts with `text` (most upvoted for an empty text)."""
        return await _papers.titles_starting_with(self._db, text, limit)

    async def titles_by_id(self, paper_ids: Sequence[str]) -> dict[str, str]:
        """The titles of these papers by id (autocomplete's reader)."""
        return await _papers.titles_by_id(self._db, paper_ids)

    async def titles_containing(self, words: Sequence[str], *, limit: int) -> list[Paper]:
        """Papers whose title contains every word (a scan, for while an index is rebuilt)."""
        return await _papers.titles_containing(self._db, words, limit)

    def stream_papers(self, *, batch_size: int = 5_000) -> AsyncIterator[list[Paper]]:
        """Every stored paper, in batches."""
        return _papers.stream(self._db, batch_size)

    async def count_papers(self) -> int:
        """How many papers are stored."""
        return await _papers.count(self._db)

    # ---- daily lists --------------------------------------------------------------------------------------

    async def record_day(
        self, day: dt.date, entries: Sequence[DailyEntry], *, fetched_at: dt.datetime | None = None
    ) -> DayChange:
        """Store one day's list, refresh upvotes, re-rank the day and remember the fetch."""
        return await _daily.record_day(self._db, day, entries, fetched_at or _utcnow())

    async def fetched_days(self, since: dt.date, until: dt.date) -> dict[dt.date, dt.datetime]:
        """When each day in the range was last fetched."""
        return await _daily.fetched_days(self._db, since, until)

    async def day_entries(self, day: dt.date) -> list[DailyEntry]:
        """The stored list for `day` as entries with their list upvotes, by rank."""
        return await _daily.day_entries(self._db, day)

    async def latest_day(self) -> dt.date | None:
        """The most recent day with a stored list."""
        return await _daily.latest_day(self._db)

    async def day_papers(self, day: dt.date) -> list[Paper]:
        """The stored list for `day`, by latest upvotes."""
        return await _daily.day_papers(self._db, day)

    async def trending(self, period: TrendingPeriod, *, limit: int = 10) -> Trending:
        """Distinct papers of the window ending at the latest stored day, by latest upvotes."""
        return await _daily.trending(self._db, period, limit)

    # ---- change log ---------------------------------------------------------------------------------------

    async def log_position(self) -> LogPosition:
        """The newest sequence number and the newest pruned one."""
        return await _changes.position(self._db)

    async def changes_after(self, seq: int, *, limit: int) -> ChangeBatch:
        """Up to `limit` log entries after `seq`, resolved to current papers."""
        return await _changes.after(self._db, seq, limit, self._recent)

    async def wait_for_changes(self, after: int, *, max_wait_s: float) -> bool:
        """Wait (polling) for a log entry after `after`."""
        return await _changes.wait(self._db, after, max_wait_s)

    async def prune_changes(self, older_than: dt.datetime) -> int:
        """Delete log entries written before `older_than` (always keeping the newest)."""
        return await _changes.prune(self._db, older_than)

    # ---- markers ------------------------------------------------------------------------------------------

    async def marker(self, name: str) -> str | None:
        """A named value kept in the catalogue's `meta` table."""
        rows = await self._db.read("SELECT value FROM meta WHERE key = ?", (f"marker:{name}",))
        return str(rows[0][0]) if rows else None

    async def set_marker(self, name: str, value: str) -> None:
        """Set a named value in the catalogue's `meta` table."""
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"marker:{name}", value),
            )

    # ---- stats --------------------------------------------------------------------------------------------

    async def stats(self) -> CatalogueStats:
        """Paper count, days covered and the on-disk size (database plus WAL)."""
        async with self._db.reader() as reader:
            papers = (await fetch_all(reader, "SELECT count(*) FROM papers"))[0][0]
            days_row = (await fetch_all(reader, "SELECT count(DISTINCT day), min(day), max(day) FROM daily"))[0]
        path = self._db.path
        return CatalogueStats(
            papers=int(papers),
            days=int(days_row[0]),
            first_day=dt.date.fromisoformat(days_row[1]) if days_row[1] else None,
            last_day=dt.date.fromisoformat(days_row[2]) if days_row[2] else None,
            db_bytes=_files_size(path, path.with_name(path.name + "-wal")),
            backend="sqlite",
        )
