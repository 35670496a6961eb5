"""The change log in SQLite: appended inside each write transaction, read by the derived views' followers.

SQLite has one writer at a time, so `changes.seq` (AUTOINCREMENT) grows in commit order: a follower that
has applied everything up to N never later meets an entry below N. Entries are never deleted on read; the
lease holder prunes entries older than a few weeks and records the newest pruned number in `meta`, so a
follower that was away longer knows to rebuild.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterable

import aiosqlite

from bot.catalogue.sqlite._connections import Database, fetch_all
from bot.catalogue.sqlite._recent import RecentWrites
from bot.catalogue.sqlite._rows import iso, paper_from_row
from bot.catalogue.types import ChangeBatch, LogPosition
from bot.models import Paper

_POLL_S = 0.25
_IDS_PER_QUERY = 500  # far below SQLite's bound-parameter limit


async def append(db: aiosqlite.Connection, paper_ids: Iterable[str], at: dt.datetime) -> None:
    """Log these papers as changed, inside the caller's write transaction."""
    stamp = iso(at)
    await db.executemany("INSERT INTO changes (paper_id, at) VALUES (?, ?)", [(pid, stamp) for pid in paper_ids])


async def position(database: Database) -> LogPosition:
    """The newest sequence number and the newest pruned one."""
    async with database.reader() as reader:
        last = await fetch_all(reader, "SELECT coalesce(max(seq), 0) FROM changes")
        pruned = await fetch_all(reader, "SELECT value FROM meta WHERE key = 'changes_pruned_through'")
    # With every entry pruned, the newest pruned number is still the newest ever written.
    pruned_through = int(pruned[0][0]) if pruned else 0
    return LogPosition(last_seq=max(int(last[0][0]), pruned_through), pruned_through=pruned_through)


async def after(database: Database, seq: int, limit: int, recent: RecentWrites | None = None) -> ChangeBatch:
    """Entries after `seq`, resolved to the papers' current rows (each paper once).

    Entries this process has just written are taken from `recent` instead of read back (see `_recent`).
    """
    if recent is not None and recent.newest > seq:
        return await _after_with_recent(database, seq, limit, recent)
    rows = await database.read(
        "SELECT c.seq AS change_seq, c.paper_id AS change_paper, p.* FROM changes c\n"
        "LEFT JOIN papers p ON p.id = c.paper_id WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
        (seq, max(1, limit)),
    )
    if not rows:
        return ChangeBatch(last_seq=seq, papers=())
    papers: dict[str, Paper] = {}
    gone: dict[str, None] = {}
    for row in rows:
        paper_id = row["change_paper"]
        if row["pk"] is None:
            gone[paper_id] = None
            papers.pop(paper_id, None)
        else:
            gone.pop(paper_id, None)
            papers.setdefault(paper_id, paper_from_row(row))
    return ChangeBatch(last_seq=int(rows[-1]["change_seq"]), papers=tuple(papers.values()), gone=tuple(gone))


async def wait(database: Database, after_seq: int, max_wait_s: float) -> bool:
    """Poll for an entry after `after_seq` (a cheap max(rowid) read), for at most `max_wait_s` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, max_wait_s)
    while True:
        rows = await database.read("SELECT coalesce(max(seq), 0) FROM changes")
        if int(rows[0][0]) > after_seq:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(_POLL_S, remaining))


async def prune(database: Database, older_than: dt.datetime) -> int:
    """Delete entries written before `older_than`, always keeping the newest; record what was pruned."""
    async with database.transaction() as db:
        rows = await fetch_all(
            db,
            "SELECT max(seq) FROM changes WHERE at < ? AND seq < (SELECT max(seq) FROM changes)",
            (iso(older_than),),
        )
        through = rows[0][0]
        if through is None:
            return 0
        cursor = await db.execute("DELETE FROM changes WHERE seq <= ?", (through,))
        await db.execute(
            "UPDATE meta SET value = CAST(max(CAST(value AS INTEGER), ?) AS TEXT) WHERE key = 'changes_pruned_through'",
            (through,),
        )
        return max(cursor.rowcount, 0)


async def _after_with_recent(database: Database, seq: int, limit: int, recent: RecentWrites) -> ChangeBatch:
    """`after`, reading only the entries' ids and then the rows `recent` does not hold.

    Each paper is resolved by its newest entry in the batch: a remembered row if that entry is remembered,
    else the row as stored now (a write later than the remembered one always has a later entry). Papers come
    in the order of their first entry, as in `after`.
    """
    entries = await database.read(
        "SELECT seq, paper_id, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?", (seq, max(1, limit))
    )
    if not entries:
        return ChangeBatch(last_seq=seq, papers=())
    newest: dict[str, tuple[int, str]] = {}
    for entry_seq, paper_id, at in entries:
        newest[paper_id] = (entry_seq, at)  # a dict keeps each key where it was first inserted
    last_seq = int(entries[-1][0])
    resolved: dict[str, Paper] = {}
    unknown: list[str] = []
    for paper_id, (entry_seq, at) in newest.items():
        remembered = recent.get(entry_seq, paper_id, at)
        if remembered is not None:
            resolved[paper_id] = remembered
        else:
            unknown.append(paper_id)
    recent.forget_through(last_seq)
    for start in range(0, len(unknown), _IDS_PER_QUERY):
        chunk = unknown[start : start + _IDS_PER_QUERY]
        rows = await database.read(f"SELECT * FROM papers WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        resolved.update((row["id"], paper_from_row(row)) for row in rows)
    return ChangeBatch(
        last_seq=last_seq,
        papers=tuple(resolved[paper_id] for paper_id in newest if paper_id in resolved),
        gone=tuple(paper_id for paper_id in newest if paper_id not in resolved),
    )
