"""Apply `migrations/NNNN_<reason>.sql` in order, tracked by `PRAGMA user_version`.

Each migration runs in one `BEGIN IMMEDIATE` transaction together with its version bump, and the version is
read again inside that transaction: two processes opening a new catalogue at once both wait for the write
lock, and the second finds the work done instead of applying it twice. A crash mid-migration leaves the
database at the previous version. Files are never edited once released.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources

import aiosqlite

from bot.catalogue.sqlite._connections import fetch_all
from bot.errors import CatalogueError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """Return (version, file name, SQL) for every migration shipped with the package, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("bot.catalogue.sqlite").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise CatalogueError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def statements(script: str) -> list[str]:
    """Split a migration into complete statements (trigger bodies with inner `;` stay whole)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                out.append(pending.strip())
            pending = ""
    if pending.strip() and not all(part.strip().startswith("--") or not part.strip() for part in pending.splitlines()):
        raise CatalogueError(f"incomplete SQL statement at the end of a migration: {pending.strip()[:80]!r}")
    return out


async def _version(db: aiosqlite.Connection) -> int:
    rows = await fetch_all(db, "PRAGMA user_version")
    return int(rows[0][0]) if rows else 0


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema up to date; return the resulting version."""
    migrations = available_migrations()
    latest = migrations[-1][0] if migrations else 0
    current = await _version(db)
    if current > latest:
        raise CatalogueError(
            f"the database is at schema version {current}, newer than this paperbot knows ({latest}); "
            "upgrade paperbot or use another database file"
        )
    for version, name, sql in migrations:
        if version <= current:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            current = await _version(db)
            if version <= current:  # another process applied it while we waited for the lock
                await db.commit()
                continue
            for statement in statements(sql):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {version}")
            await db.commit()
        except Exception as exc:
            await db.rollback()
            raise CatalogueError(f"migration {name} failed: {exc}") from exc
        current = version
    return current
