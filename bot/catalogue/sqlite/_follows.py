"""Follow persistence in SQLite: members' follows, the list entries, and the daily DM records.

A collaborator of the catalogue (`SqliteCatalogue.follows`), sharing its `Database`. Every decision that two
processes could race on reads and writes inside one write transaction; SQLite has one writer at a time across
processes, so the cap on follows, a DM claim, and closing a DM together with moving the member's position are
atomic. Reads are single statements on the pooled WAL readers: they see the last commit and never wait for a
writer.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from typing import cast

import aiosqlite

from bot.catalogue.follow_types import (
    FOLLOW_LIMIT,
    DmState,
    Follow,
    FollowAdded,
    FollowDMClaim,
    FollowDMRecord,
    Follower,
    ListEntry,
    NewFollow,
    NewFollowDM,
)
from bot.catalogue.sqlite._connections import Database, fetch_all
from bot.catalogue.sqlite._rows import iso, paper_from_row, when

_DM_KEY = "user_id = ? AND dm_date = ?"
_FOLLOWERS = (
    "SELECT m.user_id, m.covered_seq, m.active_since, m.paused_reason, m.paused_at, m.last_dm_at,\n"
    "    f.follow_id, f.guild_id, f.keywords, f.author, f.terms_key, f.created_at\n"
    "FROM follow_members m JOIN follows f ON f.user_id = m.user_id"
)


def _follow_from_row(row: sqlite3.Row) -> Follow:
    return Follow(
        follow_id=int(row["follow_id"]),
        user_id=int(row["user_id"]),
        guild_id=None if row["guild_id"] is None else int(row["guild_id"]),
        keywords=tuple(json.loads(row["keywords"])),
        author=row["author"],
        key=row["terms_key"],
        created_at=dt.datetime.fromisoformat(row["created_at"]),
    )


def _followers_from_rows(rows: list[sqlite3.Row]) -> list[Follower]:
    """Fold (member, follow) rows, ordered by user then follow, into one Follower per member."""
    out: list[Follower] = []
    follows: list[Follow] = []
    for index, row in enumerate(rows):
        follows.append(_follow_from_row(row))
        last_of_member = index + 1 == len(rows) or rows[index + 1]["user_id"] != row["user_id"]
        if last_of_member:
            out.append(
                Follower(
                    user_id=int(row["user_id"]),
                    follows=tuple(follows),
                    position=int(row["covered_seq"]),
                    active_since=dt.datetime.fromisoformat(row["active_since"]),
                    paused_reason=row["paused_reason"],
                    paused_at=when(row["paused_at"]),
                    last_dm_at=when(row["last_dm_at"]),
                )
            )
            follows = []
    return out


def _dm_from_row(row: sqlite3.Row) -> FollowDMRecord:
    return FollowDMRecord(
        user_id=int(row["user_id"]),
        dm_date=dt.date.fromisoformat(row["dm_date"]),
        state=cast(DmState, row["state"]),
        from_position=int(row["from_seq"]),
        to_position=int(row["to_seq"]),
        payload=row["payload"],
        owner=row["owner"],
        lease_until=when(row["lease_until"]),
        attempts=int(row["attempts"]),
        error=row["error"],
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
    )


async def _newest_position(db: aiosqlite.Connection) -> int:
    rows = await fetch_all(db, "SELECT coalesce(max(seq), 0) FROM list_entries")
    return int(rows[0][0])


async def _advance(db: aiosqlite.Connection, user_id: int, to_position: int) -> None:
    """Move a member's position up to `to_position` (never down: a re-follow may already have moved it)."""
    await db.execute(
        "UPDATE follow_members SET covered_seq = max(covered_seq, ?) WHERE user_id = ?", (to_position, user_id)
    )


class SqliteFollowStore:
    """The follow tables of one SQLite catalogue (the `FollowStore` protocol)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- a member's follows -------------------------------------------------------------------------------

    async def add_follow(
        self, user_id: int, new: NewFollow, *, guild_id: int | None, now: dt.datetime, limit: int = FOLLOW_LIMIT
    ) -> FollowAdded:
        """Add a follow unless the member has these terms or is at the cap; (re)start a member who followed
        nothing or was paused (see `FollowStore.add_follow`)."""
        async with self._db.transaction() as db:
            existing = await fetch_all(
                db, "SELECT * FROM follows WHERE user_id = ? AND terms_key = ?", (user_id, new.key)
            )
            count = int((await fetch_all(db, "SELECT count(*) FROM follows WHERE user_id = ?", (user_id,)))[0][0])
            if not existing and count >= limit:
                return FollowAdded("limit", None, count)
            member = await fetch_all(db, "SELECT paused_reason FROM follow_members WHERE user_id = ?", (user_id,))
            if count == 0 or not member or member[0]["paused_reason"] is not None:
                # Following (re)starts now: the first DM lists what enters the lists from here on.
                await db.execute(
                    "INSERT INTO follow_members (user_id, covered_seq, active_since) VALUES (?, ?, ?)\n"
                    "ON CONFLICT (user_id) DO UPDATE SET covered_seq = excluded.covered_seq,\n"
                    "    active_since = excluded.active_since, paused_reason = NULL, paused_at = NULL",
                    (user_id, await _newest_position(db), iso(now)),
                )
            if existing:
                return FollowAdded("exists", _follow_from_row(existing[0]), count)
            cursor = await db.execute(
                "INSERT INTO follows (user_id, guild_id, keywords, author, terms_key, created_at)\n"
                "VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, guild_id, json.dumps(list(new.keywords), ensure_ascii=False), new.author, new.key, iso(now)),
            )
            rows = await fetch_all(db, "SELECT * FROM follows WHERE follow_id = ?", (cursor.lastrowid,))
        return FollowAdded("added", _follow_from_row(rows[0]), count + 1)

    async def restore_follows(self, followers: Sequence[Follower], *, now: dt.datetime) -> int:
        """Copy members' follows and DM state in (see `FollowStore.restore_follows`), in one transaction."""
        added = 0
        async with self._db.transaction() as db:
            newest = await _newest_position(db)
            for follower in followers:
                await db.execute(
                    "INSERT INTO follow_members (user_id, covered_seq, active_since) VALUES (?, ?, ?)\n"
                    "ON CONFLICT (user_id) DO NOTHING",
                    (follower.user_id, newest, iso(now)),
                )
                await db.execute(
                    "UPDATE follow_members SET paused_reason = ?, paused_at = ?, last_dm_at = ? WHERE user_id = ?",
                    (
                        follower.paused_reason,
                        iso(follower.paused_at) if follower.paused_at else None,
                        iso(follower.last_dm_at) if follower.last_dm_at else None,
                        follower.user_id,
                    ),
                )
                for follow in follower.follows:
                    cursor = await db.execute(
                        "INSERT INTO follows (user_id, guild_id, keywords, author, terms_key, created_at)\n"
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, terms_key) DO NOTHING",
                        (
                            follower.user_id,
                            follow.guild_id,
                            json.dumps(list(follow.keywords), ensure_ascii=False),
                            follow.author,
                            follow.key,
                            iso(follow.created_at),
                        ),
                    )
                    added += cursor.rowcount
        return added

    async def remove_follow(self, user_id: int, follow_id: int) -> bool:
        """Delete `follow_id` if it belongs to `user_id`."""
        async with self._db.transaction() as db:
            cursor = await db.execute("DELETE FROM follows WHERE follow_id = ? AND user_id = ?", (follow_id, user_id))
            return cursor.rowcount > 0

    async def follower(self, user_id: int) -> Follower | None:
        """The member's follows (oldest first) and DM state; None when they follow nothing."""
        rows = await self._db.read(f"{_FOLLOWERS} WHERE m.user_id = ? ORDER BY f.follow_id", (user_id,))
        found = _followers_from_rows(rows)
        return found[0] if found else None

    async def followers(self) -> list[Follower]:
        """Every member with at least one follow, by user id (one statement: a consistent snapshot)."""
        return _followers_from_rows(await self._db.read(f"{_FOLLOWERS} ORDER BY m.user_id, f.follow_id"))

    # ---- list entries -------------------------------------------------------------------------------------

    async def list_position(self) -> int:
        """The newest list entry's position (0: nothing listed yet)."""
        rows = await self._db.read("SELECT coalesce(max(seq), 0) FROM list_entries")
        return int(rows[0][0])

    async def list_entries(self, after: int, until: int, *, since_day: dt.date) -> list[ListEntry]:
        """Entries in (`after`, `until`] listed on `since_day` or later, by position, with their papers."""
        rows = await self._db.read(
            "SELECT e.seq AS entry_seq, e.day AS entry_day, p.* FROM list_entries e\n"
            "JOIN papers p ON p.id = e.paper_id WHERE e.seq > ? AND e.seq <= ? AND e.day >= ? ORDER BY e.seq",
            (after, until, since_day.isoformat()),
        )
        return [
            ListEntry(int(row["entry_seq"]), dt.date.fromisoformat(row["entry_day"]), paper_from_row(row))
            for row in rows
        ]

    # ---- DM records -----------------------------------------------------------------------------------------

    async def dm(self, user_id: int, dm_date: dt.date) -> FollowDMRecord | None:
        """The DM record of a member for a UTC date."""
        rows = await self._db.read(f"SELECT * FROM follow_dms WHERE {_DM_KEY}", (user_id, dm_date.isoformat()))
        return _dm_from_row(rows[0]) if rows else None

    async def dms_in_state(self, state: DmState) -> list[FollowDMRecord]:
        """Every DM record in `state`, by date then user."""
        rows = await self._db.read("SELECT * FROM follow_dms WHERE state = ? ORDER BY dm_date, user_id", (state,))
        return [_dm_from_row(row) for row in rows]

    async def claim_dm(
        self,
        user_id: int,
        dm_date: dt.date,
        *,
        owner: str,
        lease_until: dt.datetime,
        now: dt.datetime,
        new: NewFollowDM | None = None,
    ) -> FollowDMClaim | None:
        """Claim the DM for `owner` (see `FollowStore.claim_dm`): create it from `new`, or take over a
        'sending' record whose lease ran out or that `owner` holds."""
        key = (user_id, dm_date.isoformat())
        async with self._db.transaction() as db:
            rows = await fetch_all(db, f"SELECT * FROM follow_dms WHERE {_DM_KEY}", key)
            previous: str | None = None
            if rows:
                row = rows[0]
                if row["state"] != "sending":
                    return None
                expiry = when(row["lease_until"])
                held_by_other = row["owner"] != owner or row["owner"] is None
                if held_by_other and expiry is not None and expiry > now:
                    return None
                previous = row["owner"]
                await db.execute(
                    f"UPDATE follow_dms SET owner = ?, lease_until = ? WHERE {_DM_KEY}", (owner, iso(lease_until), *key)
                )
            elif new is None:
                return None
            else:
                await db.execute(
                    "INSERT INTO follow_dms (user_id, dm_date, state, from_seq, to_seq, payload, owner, lease_until,\n"
                    "    started_at) VALUES (?, ?, 'sending', ?, ?, ?, ?, ?, ?)",
                    (*key, new.from_position, new.to_position, new.payload, owner, iso(lease_until), iso(now)),
                )
            claimed = await fetch_all(db, f"SELECT * FROM follow_dms WHERE {_DM_KEY}", key)
        return FollowDMClaim(_dm_from_row(claimed[0]), created=not rows, previous_owner=previous)

    async def release_dm(
        self, user_id: int, dm_date: dt.date, *, owner: str, retry_at: dt.datetime, error: str
    ) -> bool:
        """Release `owner`'s record after a transient failure, claimable again from `retry_at`."""
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "UPDATE follow_dms SET owner = NULL, lease_until = ?, attempts = attempts + 1, error = ?\n"
                f"WHERE {_DM_KEY} AND state = 'sending' AND owner = ?",
                (iso(retry_at), error, user_id, dm_date.isoformat(), owner),
            )
            return cursor.rowcount > 0

    async def finish_dm(
        self,
        user_id: int,
        dm_date: dt.date,
        state: DmState,
        *,
        owner: str,
        now: dt.datetime,
        error: str | None = None,
        pause: bool = False,
    ) -> bool:
        """Close `owner`'s record and apply it to the member in the same transaction."""
        if state == "sending":
            raise ValueError("finish_dm closes a DM: the state must be 'sent', 'skipped' or 'failed'")
        key = (user_id, dm_date.isoformat())
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db,
                f"SELECT to_seq, started_at FROM follow_dms WHERE {_DM_KEY} AND state = 'sending' AND owner = ?",
                (*key, owner),
            )
            if not rows:
                return False
            await db.execute(
                f"UPDATE follow_dms SET state = ?, error = ?, finished_at = ?, lease_until = NULL WHERE {_DM_KEY}",
                (state, error, iso(now), *key),
            )
            if state in ("sent", "skipped"):
                await _advance(db, user_id, int(rows[0]["to_seq"]))
            if state == "sent":
                await db.execute("UPDATE follow_members SET last_dm_at = ? WHERE user_id = ?", (iso(now), user_id))
            if pause:
                # A member who followed again after this DM was begun has resumed on purpose: keep them resumed.
                await db.execute(
                    "UPDATE follow_members SET paused_reason = ?, paused_at = ?\n"
                    "WHERE user_id = ? AND active_since <= ?",
                    (error or "paused", iso(now), user_id, rows[0]["started_at"]),
                )
        return True

    async def skip_dm(self, user_id: int, dm_date: dt.date, *, to_position: int, now: dt.datetime) -> bool:
        """Write a closed 'skipped' record and move the member's position, unless that day has a record."""
        async with self._db.transaction() as db:
            member = await fetch_all(db, "SELECT covered_seq FROM follow_members WHERE user_id = ?", (user_id,))
            start = int(member[0]["covered_seq"]) if member else 0
            cursor = await db.execute(
                "INSERT INTO follow_dms (user_id, dm_date, state, from_seq, to_seq, started_at, finished_at)\n"
                "VALUES (?, ?, 'skipped', ?, ?, ?, ?) ON CONFLICT (user_id, dm_date) DO NOTHING",
                (user_id, dm_date.isoformat(), start, max(start, to_position), iso(now), iso(now)),
            )
            if cursor.rowcount == 0:
                return False
            await _advance(db, user_id, to_position)
        return True
