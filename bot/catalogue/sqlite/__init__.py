"""The SQLite backend of the catalogue (aiosqlite): the embedded default, one file, nothing to set up."""

from bot.catalogue.sqlite.catalogue import SqliteCatalogue

__all__ = ["SqliteCatalogue"]
