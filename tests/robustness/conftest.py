"""Robustness fixtures: a settings factory pointing at the loopback fixture server, instant backoff, and the
database checks every fault/crash test ends with (integrity, FTS consistency, no half-written rows)."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.config import Settings, load_settings
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
    cat = await Catalogue.open(db_path)
    try:
        yield cat
    finally:
        await cat.close()


@dataclass(frozen=True)
class DbState:
    """What a database holds, read with plain sqlite3 (independent of the code under test)."""

    papers: dict[str, str]  # id -> title
    days: dict[str, set[str]]  # day -> paper ids listed


def check_database(path: Path) -> DbState:
    """Assert the file is a consistent catalogue and return its content.

    integrity_check and foreign_key_check pass and no paper is half-written. The search index lives beside
    the file and is repaired from `search_outbox` (or rebuilt) on the next open; that repair is tested in
    tests/catalogue/test_store.py::test_index_lost_or_behind_is_repaired_on_open.
    """
    con = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        assert con.execute("SELECT count(*) FROM search_outbox WHERE id IS NULL").fetchone() == (0,)
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
