"""One door to whichever backend the configuration names: `[database] url` (PostgreSQL) or `path` (SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from bot.catalogue.postgres import PostgresCatalogue
from bot.catalogue.protocols import Catalogue
from bot.catalogue.sqlite import SqliteCatalogue

__all__ = ["POSTGRES_SCHEMES", "is_postgres_url", "open_catalogue"]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class DatabaseTarget(Protocol):
    """The `[database]` settings: a SQLite `path`, and a PostgreSQL `url` that wins when set."""

    @property
    def path(self) -> Path: ...


def is_postgres_url(text: str) -> bool:
    """Whether `text` names a PostgreSQL database rather than an SQLite file."""
    return text.strip().lower().startswith(POSTGRES_SCHEMES)


def _url_of(target: DatabaseTarget) -> str:
    url = getattr(target, "url", "")
    if isinstance(url, SecretStr):
        url = url.get_secret_value()
    return str(url or "").strip()


async def open_catalogue(target: DatabaseTarget | str | Path) -> Catalogue:
    """Open (creating and migrating if needed) the catalogue named by settings, a URL or a file path."""
    if isinstance(target, Path):
        return await SqliteCatalogue.open(target)
    if isinstance(target, str):
        if is_postgres_url(target):
            return await _open_postgres(target)
        return await SqliteCatalogue.open(Path(target))
    url = _url_of(target)
    if url:
        return await _open_postgres(url)
    return await SqliteCatalogue.open(Path(target.path))


async def _open_postgres(url: str) -> Catalogue:
    return await PostgresCatalogue.open(url)
