"""The change log in PostgreSQL, in commit order across processes; read by every process's search views.

**Why a lock.** A follower reads the entries after its cursor and moves the cursor to the last one it saw. That
is only safe if an entry can never become visible *below* a number a follower already passed. PostgreSQL
hands out sequence numbers when a row is inserted, not when its transaction commits: a slow transaction that
took 41 could commit after a fast one that took 42, and a follower that had read 42 would skip 41 for ever.

So every transaction that appends to the log first takes one transaction-scoped advisory lock
(`pg_advisory_xact_lock(CHANGES_LOCK)`), then inserts its entries, then commits, which releases the lock. The
lock is only released once the commit is visible to others, so whoever takes it next draws higher numbers and
commits later: numbers become visible in the order they were drawn. A rolled-back transaction leaves a gap,
never an entry appearing late. (The identity's CACHE is 1 for the same reason: a session's pre-allocated
block would be handed out later, below others' committed numbers.)

**What it costs.** Appending is the last thing a write transaction does (`append` is called just before
commit), so the lock is held only for inserting the entries and committing — not for the write itself. Two
imports' merges, an ingest and a digest write run side by side; only their final appends take turns. Holding
the lock last also means its holder never waits for a row lock, so it cannot take part in a deadlock. The
measured cost at 1M papers is in bench/README.md (the import's append-and-commit step per batch of 20,000).

The list entries of the follows feature (each paper's first appearance on a Daily Papers list, numbered for
members' DMs) need the same guarantee and are appended under the same lock (`serialise`), by `_daily`.

**Waking followers.** The append also queues `NOTIFY paperbot_changes`, delivered when the transaction commits.
`ChangeSignal` listens on a connection of its own and wakes `wait`; if that connection is lost, `wait` falls
back to polling the log's end until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Sequence

from pydantic import SecretStr

from bot.catalogue.postgres._connections import BACKGROUND_WAIT_S, Connection, Database, connect
from bot.catalogue.postgres._rows import paper_from_row, utc
from bot.catalogue.types import ChangeBatch, LogPosition
from bot.models import Paper

__all__ = ["CHANGES_LOCK", "CHANNEL", "ChangeSignal", "after", "append", "position", "prune", "serialise", "wait"]

log = logging.getLogger(__name__)

CHANGES_LOCK = 0x7061_7065_7262_0002  # "paperb" + 2: serialises appends to the change log
CHANNEL = "paperbot_changes"
POLL_S = 2.0  # how often `wait` looks at the log's end when no notification comes (listener lost)
_LISTEN_RETRY_S = (1.0, 2.0, 5.0, 10.0)


async def serialise(conn: Connection) -> None:
    """Take the append lock for the rest of the caller's transaction (again is harmless: it stacks)."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHANGES_LOCK,))


async def append(conn: Connection, paper_ids: Sequence[str], at: dt.datetime) -> None:
    """Log these papers as changed: the last statements of the caller's write transaction (see above)."""
    if not paper_ids:
        return
    await conn.execute("SELECT pg_advisory_xact_lock(%s), pg_notify(%s, '')", (CHANGES_LOCK, CHANNEL))
    await conn.execute(
        "INSERT INTO changes (paper_id, at)\n"
        "SELECT paper_id, %s FROM unnest(%s::text[]) WITH ORDINALITY AS logged (paper_id, n) ORDER BY n",
        (utc(at), list(paper_ids)),
    )


_LAST_SEQ = "SELECT coalesce(max(seq), 0) AS last FROM changes"


async def position(database: Database) -> LogPosition:
    """The newest sequence number and the newest pruned one (one consistent read)."""
    rows = await database.read(
        f"SELECT ({_LAST_SEQ}) AS last,\n"
        "       (SELECT value::bigint FROM meta WHERE key = 'changes_pruned_through') AS pruned",
        borrow_s=BACKGROUND_WAIT_S,
    )
    pruned_through = int(rows[0]["pruned"] or 0)
    # With every entry pruned, the newest pruned number is still the newest ever written.
    return LogPosition(last_seq=max(int(rows[0]["last"]), pruned_through), pruned_through=pruned_through)


async def after(database: Database, seq: int, limit: int) -> ChangeBatch:
    """Entries after `seq`, resolved to the papers' current rows (each paper once)."""
    rows = await database.read(
        "SELECT c.seq AS change_seq, c.paper_id AS change_paper, p.* FROM changes c\n"
        "LEFT JOIN papers p ON p.id = c.paper_id WHERE c.seq > %s ORDER BY c.seq LIMIT %s",
        (seq, max(1, limit)),
        borrow_s=BACKGROUND_WAIT_S,
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


async def wait(database: Database, signal: ChangeSignal, after_seq: int, max_wait_s: float) -> bool:
    """Wait for an entry after `after_seq`: woken by a commit's notification, else polling every `POLL_S`."""
    signal.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, max_wait_s)
    while True:
        seen = signal.generation  # before reading: a commit landing after the read wakes the wait below
        if int(await database.value(_LAST_SEQ, borrow_s=BACKGROUND_WAIT_S)) > after_seq:
            return True
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        await signal.wait_past(seen, min(remaining, POLL_S))


async def prune(database: Database, older_than: dt.datetime) -> int:
    """Delete entries written before `older_than`, always keeping the newest; record what was pruned."""

    async def body(conn: Connection) -> int:
        cursor = await conn.execute(
            "SELECT max(seq) AS through FROM changes WHERE at < %s AND seq < (SELECT max(seq) FROM changes)",
            (utc(older_than),),
        )
        row = await cursor.fetchone()
        through = row["through"] if row else None
        if through is None:
            return 0
        deleted = await conn.execute("DELETE FROM changes WHERE seq <= %s", (through,))
        await conn.execute(
            "UPDATE meta SET value = greatest(value::bigint, %s)::text WHERE key = 'changes_pruned_through'",
            (through,),
        )
        return max(deleted.rowcount, 0)

    return await database.write(body)


class ChangeSignal:
    """Wakes waiters when a change-log append commits anywhere: LISTEN on a connection of its own.

    Started by the first `wait` (a CLI command that never waits opens no extra connection). The connection is
    re-opened after a loss, with a pause that grows to 10 s; every (re)start counts as a wake-up, since
    notifications sent while nobody listened are gone.
    """

    def __init__(self, url: SecretStr) -> None:
        self._url = url
        self._generation = 0
        self._event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def generation(self) -> int:
        """Grows with every notification (and every reconnect)."""
        return self._generation

    def start(self) -> None:
        """Begin listening in the background (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="paperbot-change-listener")

    async def wait_past(self, generation: int, within_s: float) -> None:
        """Return when `generation` has been passed, or after `within_s` seconds."""
        if self._generation != generation:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), within_s)

    def _wake(self) -> None:
        self._generation += 1
        self._event.set()
        self._event = asyncio.Event()

    async def _listen(self) -> None:
        failures = 0
        while True:
            try:
                conn = await connect(self._url)
                try:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    self._wake()
                    async for _ in conn.notifies():
                        self._wake()
                finally:
                    await conn.close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the server went away: `wait` polls meanwhile
                log.debug("Change-log listener lost its connection: %s", type(exc).__name__)
            pause = _LISTEN_RETRY_S[min(failures, len(_LISTEN_RETRY_S) - 1)]
            failures += 1
            await asyncio.sleep(pause)

    async def close(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
