"""What only the SQLite backend has: a private WAL file, numbered migrations, and other processes' locks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.catalogue.sqlite import SqliteCatalogue
from bot.catalogue.sqlite._connections import WRITE_WAIT_S
from bot.catalogue.sqlite._migrate import available_migrations, statements
from bot.errors import CatalogueError
from bot.models import Paper

REPO = Path(__file__).resolve().parents[2]


def _paper(pid: str = "2401.00001") -> Paper:
    return Paper(id=pid, title=f"Paper {pid}", abstract="An abstract.")


async def test_database_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "papers.db"
    cat = await open_catalogue(path)
    await cat.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_reopen_keeps_data_schema_and_identity(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    cat = await open_catalogue(path)
    identity = cat.identity
    await cat.upsert_papers([_paper()])
    await cat.close()
    again = await open_catalogue(path)
    try:
        assert await again.get("2401.00001") is not None
        assert again.identity == identity
        assert again.backend == "sqlite" and again.location == str(path)
    finally:
        await again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_identical_response_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    cat = await open_catalogue(path)
    try:
        await cat.upsert_papers([_paper()])
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = path.read_bytes()
        assert await cat.upsert_papers([_paper()]) == 0
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert path.read_bytes() == before
    finally:
        await cat.close()


async def test_a_write_cancelled_during_begin_leaves_the_writer_usable(catalogue: Catalogue) -> None:
    for _ in range(20):
        task = asyncio.create_task(catalogue.upsert_papers([_paper()]))
        await asyncio.sleep(0)  # let it reach BEGIN, then cancel it there
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await catalogue.upsert_papers([_paper("2401.00077")]) == 1


# ---- migrations -------------------------------------------------------------------------------------------


async def test_empty_file_is_migrated_to_latest(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    path.touch()
    cat = await open_catalogue(path)
    await cat.close()
    latest = available_migrations()[-1][0]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == latest
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"papers", "daily", "changes", "fetched_days", "meta"} <= tables
    assert not {"papers_fts", "titles_fts", "search_outbox"} & tables


async def test_a_version_3_catalogue_is_upgraded_keeping_its_papers(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    with sqlite3.connect(path) as db:
        for version, _name, sql in available_migrations()[:3]:
            db.executescript(sql)
            db.execute(f"PRAGMA user_version = {version}")
        stamp = "2024-03-14T00:00:00+00:00"
        db.execute(
            "INSERT INTO papers (id, title, title_key, first_seen, last_seen) VALUES ('2401.00001', 'T', 't', ?, ?)",
            (stamp, stamp),
        )
        db.execute(
            "INSERT INTO daily (day, paper_id, rank, upvotes, fetched_at)"
            " VALUES ('2024-03-13', '2401.00001', 1, 3, '2024-03-14T00:00:00+00:00')"
        )
        db.execute("INSERT INTO search_outbox (id) VALUES ('2401.00001')")
    cat = await open_catalogue(path)
    try:
        assert await cat.get("2401.00001") is not None
        fetched = await cat.fetched_days(dt.date(2024, 3, 13), dt.date(2024, 3, 13))
        assert len(fetched) == 1  # the fetch record is seeded from the stored lists
    finally:
        await cat.close()


async def test_reopen_does_not_reapply(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    identities = set()
    for _ in range(3):
        cat = await open_catalogue(path)
        identities.add(cat.identity)
        await cat.close()
    assert len(identities) == 1


async def test_newer_schema_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 999")
    with pytest.raises(CatalogueError, match="newer than this paperbot knows"):
        await open_catalogue(path)


async def test_not_a_database_is_a_catalogue_error(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CatalogueError, match="cannot open the catalogue"):
        await open_catalogue(path)


def test_migrations_are_numbered_without_gaps_and_split_whole() -> None:
    migrations = available_migrations()
    assert [v for v, _, _ in migrations] == list(range(1, len(migrations) + 1))
    first = statements(migrations[0][2])
    triggers = [s for s in first if s.upper().startswith("CREATE TRIGGER")]
    assert triggers and all(s.rstrip().upper().endswith("END;") for s in triggers)


_OPEN = """
import asyncio, sys
from bot.catalogue import open_catalogue
async def main():
    cat = await open_catalogue(sys.argv[1])
    print(cat.identity)
    await cat.close()
asyncio.run(main())
"""


def test_processes_creating_one_catalogue_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    procs = [
        subprocess.Popen([sys.executable, "-c", _OPEN, str(path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    identities = {proc.communicate(timeout=120)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(identities) == 1


# ---- another process holding the write lock ---------------------------------------------------------------

_HOLD = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("holding", flush=True)
sys.stdin.readline()
db.execute("COMMIT")
"""


@contextlib.contextmanager
def _lock_held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


async def test_a_write_waits_for_another_process_then_lands(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    cat = await SqliteCatalogue.open(path)
    try:
        with _lock_held_by_another_process(path) as holder:
            write = asyncio.create_task(cat.upsert_papers([_paper()]))
            done, _ = await asyncio.wait({write}, timeout=1.0)
            assert not done  # still waiting for the other process (a bounded wait), not failed
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert await asyncio.wait_for(write, WRITE_WAIT_S) == 1
        assert await cat.get("2401.00001") is not None
    finally:
        await cat.close()


async def test_a_write_blocked_too_long_fails_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.catalogue.sqlite import _connections

    monkeypatch.setattr(_connections, "WRITE_WAIT_S", 0.0)
    monkeypatch.setattr(_connections, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "papers.db"
    cat = await SqliteCatalogue.open(path)
    try:
        with _lock_held_by_another_process(path), pytest.raises(CatalogueError, match="locked by another process"):
            await cat.upsert_papers([_paper()])
        assert await cat.upsert_papers([_paper()]) == 1  # and the writer works again afterwards
    finally:
        await cat.close()
