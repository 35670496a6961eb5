"""One way to open the catalogue and this process's search over it, for the bot and every CLI command.

`open_stores(settings, role=...)` opens the configured backend (`[database] url` → PostgreSQL, else the
SQLite file at `[database] path`) and the search views in the local index folder, and closes both in the
right order. The role says how the process treats the index folder's writer lease: the bot keeps it (and
waits for it when a CLI command holds it); a CLI command takes it only when it is free.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.catalogue import Catalogue, open_catalogue
from bot.config import Settings
from bot.search import Role, SearchService, open_search

__all__ = ["Stores", "index_folder", "open_stores"]


@dataclass(frozen=True, slots=True)
class Stores:
    """The catalogue and this process's search over it."""

    catalogue: Catalogue
    search: SearchService


def index_folder(settings: Settings) -> Path:
    """Where this process keeps its search views (see `Settings.search_index_dir`)."""
    return settings.search_index_dir()


@contextlib.asynccontextmanager
async def open_stores(settings: Settings, *, role: Role) -> AsyncIterator[Stores]:
    """Open the catalogue and the search over it; close the search first, then the catalogue."""
    catalogue = await open_catalogue(settings.database)
    try:
        async with open_search(
            catalogue, index_folder(settings), role=role, mode=settings.search.mode, model=settings.search.model
        ) as search:
            yield Stores(catalogue, search)
    finally:
        await catalogue.close()
