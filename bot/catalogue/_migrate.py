"""Apply `migrations/NNNN_<reason>.sql` in order, tracked by `PRAGMA user_version`.

Each migration runs in one transaction together with its version bump, so a crash mid-migration leaves the
database at the previous version rather than half-migrated. Files are never edited once released.
"""

from __future__ import annotations

import re
from importlib import resources

import aiosqlite

from bot.errors import CatalogueError

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """Return (version, file name, SQL) for every migration shipped with the package, in order."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("bot.catalogue").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise CatalogueError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


async def migrate(db: aiosqlite.Connection) -> int:
    """Bring the schema up to date; return the resulting version."""
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    migrations = available_migrations()
    latest = migrations[-1][0] if migrations else 0
    if current > latest:
        raise CatalogueError(
            f"the database is at schema version {current}, newer than this paperbot knows ({latest}); "
            "upgrade paperbot or use another database file"
        )
    for version, name, sql in migrations:
        if version <= current:
            continue
        try:
            await db.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        except Exception as exc:
            await db.rollback()
            raise CatalogueError(f"migration {name} failed: {exc}") from exc
        current = version
    return current
