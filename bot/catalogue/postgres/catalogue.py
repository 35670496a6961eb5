"""`PostgresCatalogue`: the catalogue in a PostgreSQL database that many processes share.

For when one process per catalogue is not enough: several bot processes (shards), cron ingests and imports on
several machines, a managed database with its own backups. Each process keeps only its search views locally
(its index folder) and follows the shared change log into them.

Opening connects once (so a wrong URL, a refused password or a missing database is one clear line at once),
applies the numbered migrations (under an advisory lock: several processes may start together), writes the
catalogue's identity if it has none yet, then opens the pools. Each concern lives in its own module
(`_papers`, `_bulk`, `_daily`, `changelog`, `_digest` with `_post_edits`, `_follows`); this class holds the
connections and routes the `Catalogue` protocol to them. Every failure of the server leaves as a
`CatalogueError` with one line naming it, never with the password.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Sequence

import psycopg
from pydantic import SecretStr

from bot.catalogue.postgres import _bulk, _daily, _papers, changelog
from bot.catalogue.postgres._connections import Connection, Database, PoolSizes, connect, failure_of
from bot.catalogue.postgres._digest import PostgresDigestStore
from bot.catalogue.postgres._follows import PostgresFollowStore
from bot.catalogue.postgres._migrate import migrate
from bot.catalogue.postgres.errors import redact_url
from bot.catalogue.types import Backend, ChangeBatch, DayChange, LogPosition
from bot.models import CatalogueStats, DailyEntry, Paper, Trending, TrendingPeriod

__all__ = ["PostgresCatalogue", "migrate_database"]


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _secret(url: str | SecretStr) -> SecretStr:
    return url if isinstance(url, SecretStr) else SecretStr(url.strip())


async def _prepare(url: SecretStr) -> str:
    """Connect once, migrate, and make sure the catalogue has an identity; return it."""
    try:
        conn = await connect(url)
    except psycopg.Error as exc:
        raise failure_of(exc, url) from exc
    try:
        await migrate(conn, url)
        return await _identity(conn)
    except psycopg.Error as exc:
        raise failure_of(exc, url) from exc
    finally:
        await conn.close()


async def _identity(conn: Connection) -> str:
    """The catalogue's identity, written by the first process that opens it (not by the migration, so a
    database cloned from a migrated template still gets one of its own)."""
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES ('catalogue_id', %s) ON CONFLICT (key) DO NOTHING",
        (secrets.token_hex(16),),
    )
    cursor = await conn.execute("SELECT value FROM meta WHERE key = 'catalogue_id'")
    row = await cursor.fetchone()
    assert row is not None
    return str(row["value"])


async def migrate_database(url: str | SecretStr) -> None:
    """Create or upgrade the catalogue's tables at `url` and nothing else (e.g. to prepare a template)."""
    secret = _secret(url)
    try:
        conn = await connect(secret)
    except psycopg.Error as exc:
        raise failure_of(exc, secret) from exc
    try:
        await migrate(conn, secret)
    except psycopg.Error as exc:
        raise failure_of(exc, secret) from exc
    finally:
        await conn.close()


class PostgresCatalogue:
    """The catalogue in one PostgreSQL database (see the module docstring)."""

    def __init__(self, database: Database, identity: str) -> None:
        self._db = database
        self._identity = identity
        self._digests = PostgresDigestStore(database)
        self._follows = PostgresFollowStore(database)
        self._signal = changelog.ChangeSignal(database.url)
        self._closed = False

    @classmethod
    async def open(cls, url: str | SecretStr, *, sizes: PoolSizes | None = None) -> PostgresCatalogue:
        """Open (creating the tables if needed) the catalogue at `url`; one `CatalogueError` line on failure."""
        secret = _secret(url)
        identity = await _prepare(secret)
        database = await Database.open(secret, sizes)
        return cls(database, identity)

    # ---- identity -----------------------------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        """Always "postgresql"."""
        return "postgresql"

    @property
    def identity(self) -> str:
        """The random id written when the catalogue was first opened."""
        return self._identity

    @property
    def location(self) -> str:
        """The database URL, with the password hidden."""
        return redact_url(self._db.url.get_secret_value())

    @property
    def digests(self) -> PostgresDigestStore:
        """The digest's subscriptions and post records."""
        return self._digests

    @property
    def follows(self) -> PostgresFollowStore:
        """Members' follows, the list entries and the follow DM records."""
        return self._follows

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        await self._signal.close()
        await self._db.close()

    async def __aenter__(self) -> PostgresCatalogue:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ---- papers -------------------------------------------------------------------------------------------

    async def upsert_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Insert or update papers; return how many rows actually changed."""
        if not papers:
            return 0
        seen = seen_at or _utcnow()

        async def body(conn: Connection) -> int:
            changed = await _papers.upsert(conn, papers, seen)
            await changelog.append(conn, changed, seen)
            return len(changed)

        return await self._db.write(body)

    async def import_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Bulk-merge one batch of an arXiv snapshot; return how many rows changed."""
        return await _bulk.import_batch(self._db, papers, seen_at or _utcnow())

    async def finish_import(self) -> None:
        """Nothing deferred: each batch is complete when its COPY and merge commit."""

    async def restore_papers(self, papers: Sequence[Paper]) -> int:
        """Make papers exactly as given (`db copy`); return how many rows changed."""
        if not papers:
            return 0
        now = _utcnow()

        async def body(conn: Connection) -> int:
            changed = await _papers.restore(conn, papers, now)
            await changelog.append(conn, changed, now)
            return len(changed)

        return await self._db.write(body)

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
        """The titles of these papers by id (autocomplete's connection)."""
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
        return await changelog.position(self._db)

    async def changes_after(self, seq: int, *, limit: int) -> ChangeBatch:
        """Up to `limit` log entries after `seq`, resolved to current papers."""
        return await changelog.after(self._db, seq, limit)

    async def wait_for_changes(self, after: int, *, max_wait_s: float) -> bool:
        """Wait for a log entry after `after`: woken by LISTEN/NOTIFY on commit, polling as a fallback."""
        return await changelog.wait(self._db, self._signal, after, max_wait_s)

    async def prune_changes(self, older_than: dt.datetime) -> int:
        """Delete log entries written before `older_than` (always keeping the newest)."""
        return await changelog.prune(self._db, older_than)

    # ---- markers ------------------------------------------------------------------------------------------

    async def marker(self, name: str) -> str | None:
        """A named value kept in the catalogue's `meta` table."""
        value = await self._db.value("SELECT value FROM meta WHERE key = %s", (f"marker:{name}",))
        return None if value is None else str(value)

    async def set_marker(self, name: str, value: str) -> None:
        """Set a named value in the catalogue's `meta` table."""

        async def body(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"marker:{name}", value),
            )

        await self._db.write(body)

    # ---- stats --------------------------------------------------------------------------------------------

    async def stats(self) -> CatalogueStats:
        """Paper count, days covered and the database's size on the server."""
        rows = await self._db.read(
            "SELECT (SELECT count(*) FROM papers) AS papers,\n"
            "       (SELECT count(DISTINCT day) FROM daily) AS days,\n"
            "       (SELECT min(day) FROM daily) AS first_day,\n"
            "       (SELECT max(day) FROM daily) AS last_day,\n"
            "       pg_database_size(current_database()) AS db_bytes"
        )
        row = rows[0]
        return CatalogueStats(
            papers=int(row["papers"]),
            days=int(row["days"]),
            first_day=row["first_day"],
            last_day=row["last_day"],
            db_bytes=int(row["db_bytes"]),
            backend="postgresql",
        )
