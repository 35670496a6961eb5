"""SQLite only: migration 0006 gives the papers already listed their entries, in the order they were fetched,
and the trigger enters every later list row in the same transaction as the row."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from bot.catalogue import open_catalogue
from bot.catalogue.sqlite._migrate import available_migrations

FOLLOWS_MIGRATION = 6


def _paper(db: sqlite3.Connection, pid: str) -> None:
    stamp = "2024-03-01T00:00:00+00:00"
    db.execute(
        "INSERT INTO papers (id, title, title_key, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)",
        (pid, f"Paper {pid}", f"paper {pid}", stamp, stamp),
    )


async def test_papers_listed_before_the_upgrade_enter_in_fetch_order(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    with sqlite3.connect(path) as db:
        for version, _name, sql in available_migrations():
            if version >= FOLLOWS_MIGRATION:
                break
            db.executescript(sql)
            db.execute(f"PRAGMA user_version = {version}")
        for pid in ("2403.00001", "2403.00002", "2403.00003"):
            _paper(db, pid)
        rows = [
            ("2024-03-12", "2403.00002", "2024-03-13T01:00:00+00:00"),
            ("2024-03-11", "2403.00001", "2024-03-12T01:00:00+00:00"),
            ("2024-03-12", "2403.00001", "2024-03-13T01:00:00+00:00"),  # listed again: enters once
            ("2024-03-11", "2403.00003", "2024-03-14T09:00:00+00:00"),  # a late addition to an old day
        ]
        db.executemany("INSERT INTO daily (day, paper_id, rank, upvotes, fetched_at) VALUES (?, ?, 1, 1, ?)", rows)
    cat = await open_catalogue(path)
    try:
        newest = await cat.follows.list_position()
        entries = await cat.follows.list_entries(0, newest, since_day=dt.date(2024, 1, 1))
        assert [(e.paper.id, e.day.isoformat()) for e in entries] == [
            ("2403.00001", "2024-03-11"),
            ("2403.00002", "2024-03-12"),
            ("2403.00003", "2024-03-11"),
        ]
    finally:
        await cat.close()


async def test_a_list_row_and_its_entry_commit_together(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    cat = await open_catalogue(path)
    await cat.close()
    with sqlite3.connect(path, isolation_level=None) as db:
        _paper(db, "2403.00009")
        db.execute("BEGIN")
        db.execute(
            "INSERT INTO daily (day, paper_id, rank, upvotes, fetched_at)"
            " VALUES ('2024-03-11', '2403.00009', 1, 1, '2024-03-12T00:00:00+00:00')"
        )
        db.rollback()
        assert db.execute("SELECT count(*) FROM list_entries").fetchone()[0] == 0
        db.execute(
            "INSERT INTO daily (day, paper_id, rank, upvotes, fetched_at)"
            " VALUES ('2024-03-11', '2403.00009', 1, 1, '2024-03-12T00:00:00+00:00')"
        )
        assert db.execute("SELECT paper_id, day FROM list_entries").fetchall() == [("2403.00009", "2024-03-11")]
