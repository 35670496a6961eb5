"""Numbered migrations: applied from an empty file, recorded in user_version, refused when too new."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.catalogue._migrate import available_migrations
from bot.errors import CatalogueError


async def test_empty_file_is_migrated_to_latest(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    path.touch()
    cat = await Catalogue.open(path)
    await cat.close()
    latest = available_migrations()[-1][0]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == latest
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"papers", "daily", "search_outbox"} <= tables
    assert not {"papers_fts", "titles_fts"} & tables  # 0003 moved search to the tantivy index


async def test_reopen_does_not_reapply(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    for _ in range(3):
        cat = await Catalogue.open(path)
        await cat.close()


async def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 999")
    with pytest.raises(CatalogueError, match="newer than this paperbot knows"):
        await Catalogue.open(path)


async def test_not_a_database_is_a_catalogue_error(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogueError, match="cannot open the catalogue"):
        await Catalogue.open(path)


def test_migrations_are_numbered_without_gaps() -> None:
    versions = [v for v, _, _ in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))
