"""Apply `migrations/NNNN_<reason>.sql` in order, tracked in the `schema_version` table.

Several processes may open a new catalogue at the same moment (the bot and a cron ingest; several shards).
Migrating happens under a session advisory lock, so exactly one of them applies each migration: the others
wait for the lock (at most `LOCK_WAIT_S`), then read the version again and find the work done. Each migration
runs in one transaction together with its version row, so a failure (or a crash) leaves the database at the
previous version. Files are never edited once released.
"""

from __future__ import annotations

import contextlib
import re
from importlib import resources

import psycopg
from pydantic import SecretStr

from bot.catalogue.postgres._connections import Connection
from bot.catalogue.postgres.errors import describe
from bot.errors import CatalogueError

__all__ = ["MIGRATION_LOCK", "available_migrations", "migrate"]

# Advisory lock keys are per database; these two are the catalogue's (the other is in changelog.py).
MIGRATION_LOCK = 0x7061_7065_7262_0001  # "paperb" + 1
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """Return (version, file name, SQL) for every migration shipped with the package, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("bot.catalogue.postgres").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise CatalogueError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


async def _version(conn: Connection) -> int:
    cursor = await conn.execute("SELECT coalesce(max(version), 0) AS version FROM schema_version")
    row = await cursor.fetchone()
    return int(row["version"]) if row else 0


async def migrate(conn: Connection, url: SecretStr) -> int:
    """Bring the schema up to date on `conn` (autocommit, ours alone); return the resulting version.

    Driver exceptions outside a migration propagate (the caller turns them into one line); a failing
    migration is named in its line.
    """
    migrations = available_migrations()
    latest = migrations[-1][0] if migrations else 0
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (\n"
            "    version     integer PRIMARY KEY,\n"
            "    applied_at  timestamptz NOT NULL DEFAULT now()\n"
            ")"
        )
        current = await _version(conn)
        if current > latest:
            raise CatalogueError(
                f"the database is at schema version {current}, newer than this paperbot knows ({latest}); "
                "upgrade paperbot or use another database"
            )
        for version, name, sql in migrations:
            if version <= current:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            except psycopg.Error as exc:
                line = describe(exc, url.get_secret_value()).removeprefix("PostgreSQL: ")
                raise CatalogueError(f"PostgreSQL: migration {name} failed: {line}") from exc
            current = version
        return current
    finally:
        # Closing the session releases the lock too: a failure here must not hide the one being raised.
        with contextlib.suppress(psycopg.Error):
            await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
