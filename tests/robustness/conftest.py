"""Robustness fixtures: a settings factory pointing at the loopback fixture server, instant backoff, and the
database checks every fault/crash test ends with (integrity, FTS consistency, no half-written rows)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.config import Settings, load_settings
from bot.search import SearchService, open_search
from bot.sources import RetryPolicy, Sources, open_sources
from tests.fixture_server import FixtureServer

# Short enough that a Fault.slow(0.8) trips it, long enough that a loaded CI machine answers a normal request.
CLIENT_TIMEOUT_S = 0.2
FAST_POLICY = RetryPolicy(timeout_s=CLIENT_TIMEOUT_S, deadline_s=30.0, backoff_base_s=0.01)


class Sleeps:
    """Stands in for asyncio.sleep in the HTTP client: records each backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "papers.db"


@pytest.fixture
def settings(fixture_server: FixtureServer, db_path: Path) -> Settings:
    return load_settings(environ=fixture_server.environ() | {"PAPERBOT_DATABASE__PATH": str(db_path)})


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def sources(settings: Settings, sleeps: Sleeps) -> AsyncIterator[Sources]:
    async with open_sources(settings, policy=FAST_POLICY, sleep=sleeps) as opened:
        yield opened


@pytest.fixture
async def catalogue(db_path: Path) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(db_path)
    try:
        yield cat
    finally:
        await cat.close()


@pytest.fixture
async def search(catalogue: Catalogue, db_path: Path) -> AsyncIterator[SearchService]:
    """Search over the test's catalogue, as a CLI process opens it (it holds the index lease)."""
    async with open_search(catalogue, db_path.with_name(db_path.name + ".index"), role="cli") as service:
        yield service


@dataclass(frozen=True)
class DbState:
    """What a database holds, read with plain sqlite3 (independent of the code under test)."""

    papers: dict[str, str]  # id -> title
    days: dict[str, set[str]]  # day -> paper ids listed


def check_database(path: Path) -> DbState:
    """Assert the file is a consistent catalogue and return its content.

    integrity_check and foreign_key_check pass, no paper is half-written, and every stored paper is in the
    change log (it was logged in the transaction that wrote it, so the search index can always catch up;
    that catch-up is tested in tests/search/test_views.py).
    """
    con = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        unlogged = con.execute(
            "SELECT id FROM papers WHERE id NOT IN (SELECT paper_id FROM changes)"
            " AND (SELECT value FROM meta WHERE key = 'changes_pruned_through') = '0'"
        ).fetchall()
        assert unlogged == [], f"papers committed without a change-log entry: {unlogged}"
        half = con.execute(
            "SELECT id FROM papers WHERE title IS NULL OR trim(title) = '' OR title_key IS NULL OR title_key = ''"
            " OR first_seen IS NULL OR last_seen IS NULL"
        ).fetchall()
        assert half == [], f"half-written papers: {half}"
        orphans = con.execute("SELECT count(*) FROM daily WHERE paper_id NOT IN (SELECT id FROM papers)").fetchone()
        assert orphans == (0,)
        papers = dict(con.execute("SELECT id, title FROM papers").fetchall())
        days: dict[str, set[str]] = {}
        for day, paper_id in con.execute("SELECT day, paper_id FROM daily"):
            days.setdefault(day, set()).add(paper_id)
        return DbState(papers=papers, days=days)
    finally:
        con.close()


def file_digest(*paths: Path) -> str:
    """SHA-256 over the bytes of the given files (missing files count as empty)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()
