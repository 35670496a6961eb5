"""Follow persistence in PostgreSQL: members' follows, the list entries, and the daily DM records.

A collaborator of the catalogue (`PostgresCatalogue.follows`), sharing its pools. Several bot processes share
these tables, so every decision two of them could race on takes a lock first, inside its one transaction:

* a member's follows are changed under a transaction-scoped advisory lock on that member, so the cap on
  follows holds against concurrent adds (there may be no row to lock yet when a member adds a first follow);
* a DM claim inserts the record (`ON CONFLICT DO NOTHING`) or locks the existing one (`FOR UPDATE`) before
  deciding; closing a DM locks it, then moves the member's position in the same transaction.

List entries are written by `_daily.record_day` (under the change log's lock, so positions grow in commit
order); here they are only read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

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
from bot.catalogue.postgres._connections import Connection, Database
from bot.catalogue.postgres._rows import Row, paper_from_row, utc, when

__all__ = ["PostgresFollowStore"]

# The two-key advisory lock space of a member's follows: (this class, the user id folded to 31 bits). Two
# members sharing a fold only wait for each other a moment.
MEMBER_LOCK_CLASS = 0x7062_0003
_DM_KEY = "user_id = %s AND dm_date = %s"
_FOLLOWERS = (
    "SELECT m.user_id, m.covered_seq, m.active_since, m.paused_reason, m.paused_at, m.last_dm_at,\n"
    "    f.follow_id, f.guild_id, f.keywords, f.author, f.terms_key, f.created_at\n"
    "FROM follow_members m JOIN follows f ON f.user_id = m.user_id"
)


def _follow_from_row(row: Row) -> Follow:
    return Follow(
        follow_id=int(row["follow_id"]),
        user_id=int(row["user_id"]),
        guild_id=None if row["guild_id"] is None else int(row["guild_id"]),
        keywords=tuple(row["keywords"]),
        author=row["author"],
        key=row["terms_key"],
        created_at=row["created_at"].astimezone(dt.UTC),
    )


def _followers_from_rows(rows: Sequence[Row]) -> list[Follower]:
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
                    active_since=row["active_since"].astimezone(dt.UTC),
                    paused_reason=row["paused_reason"],
                    paused_at=when(row["paused_at"]),
                    last_dm_at=when(row["last_dm_at"]),
                )
            )
            follows = []
    return out


def _dm_from_row(row: Row) -> FollowDMRecord:
    return FollowDMRecord(
        user_id=int(row["user_id"]),
        dm_date=row["dm_date"],
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


async def _rows(conn: Connection, sql: str, params: Any = None) -> list[Row]:
    cursor = await conn.execute(sql, params)
    return list(await cursor.fetchall())


async def _lock_member(conn: Connection, user_id: int) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (MEMBER_LOCK_CLASS, user_id & 0x7FFF_FFFF))


async def _newest_position(conn: Connection) -> int:
    rows = await _rows(conn, "SELECT coalesce(max(seq), 0) AS newest FROM list_entries")
    return int(rows[0]["newest"])


async def _advance(conn: Connection, user_id: int, to_position: int) -> None:
    """Move a member's position up to `to_position` (never down: a re-follow may already have moved it)."""
    await conn.execute(
        "UPDATE follow_members SET covered_seq = greatest(covered_seq, %s) WHERE user_id = %s", (to_position, user_id)
    )


class PostgresFollowStore:
    """The follow tables of one PostgreSQL catalogue (the `FollowStore` protocol)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- a member's follows -------------------------------------------------------------------------------

    async def add_follow(
        self, user_id: int, new: NewFollow, *, guild_id: int | None, now: dt.datetime, limit: int = FOLLOW_LIMIT
    ) -> FollowAdded:
        """Add a follow unless the member has these terms or is at the cap; (re)start a member who followed
        nothing or was paused (see `FollowStore.add_follow`). Under the member's lock: the cap holds."""

        async def body(conn: Connection) -> FollowAdded:
            await _lock_member(conn, user_id)
            existing = await _rows(
                conn, "SELECT * FROM follows WHERE user_id = %s AND terms_key = %s", (user_id, new.key)
            )
            counted = await _rows(conn, "SELECT count(*) AS n FROM follows WHERE user_id = %s", (user_id,))
            count = int(counted[0]["n"])
            if not existing and count >= limit:
                return FollowAdded("limit", None, count)
            member = await _rows(conn, "SELECT paused_reason FROM follow_members WHERE user_id = %s", (user_id,))
            if count == 0 or not member or member[0]["paused_reason"] is not None:
                # Following (re)starts now: the first DM lists what enters the lists from here on.
                await conn.execute(
                    "INSERT INTO follow_members (user_id, covered_seq, active_since) VALUES (%s, %s, %s)\n"
                    "ON CONFLICT (user_id) DO UPDATE SET covered_seq = excluded.covered_seq,\n"
                    "    active_since = excluded.active_since, paused_reason = NULL, paused_at = NULL",
                    (user_id, await _newest_position(conn), utc(now)),
                )
            if existing:
                return FollowAdded("exists", _follow_from_row(existing[0]), count)
            added = await _rows(
                conn,
                "INSERT INTO follows (user_id, guild_id, keywords, author, terms_key, created_at)\n"
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
                (user_id, guild_id, list(new.keywords), new.author, new.key, utc(now)),
            )
            return FollowAdded("added", _follow_from_row(added[0]), count + 1)

        return await self._db.write(body)

    async def restore_follows(self, followers: Sequence[Follower], *, now: dt.datetime) -> int:
        """Copy members' follows and DM state in (see `FollowStore.restore_follows`), in one transaction."""

        async def body(conn: Connection) -> int:
            added = 0
            newest = await _newest_position(conn)
            for follower in sorted(followers, key=lambda f: f.user_id):
                await _lock_member(conn, follower.user_id)
                await conn.execute(
                    "INSERT INTO follow_members (user_id, covered_seq, active_since) VALUES (%s, %s, %s)\n"
                    "ON CONFLICT (user_id) DO NOTHING",
                    (follower.user_id, newest, utc(now)),
                )
                await conn.execute(
                    "UPDATE follow_members SET paused_reason = %s, paused_at = %s, last_dm_at = %s WHERE user_id = %s",
                    (
                        follower.paused_reason,
                        utc(follower.paused_at) if follower.paused_at else None,
                        utc(follower.last_dm_at) if follower.last_dm_at else None,
                        follower.user_id,
                    ),
                )
                for follow in follower.follows:
                    cursor = await conn.execute(
                        "INSERT INTO follows (user_id, guild_id, keywords, author, terms_key, created_at)\n"
                        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, terms_key) DO NOTHING",
                        (
                            follower.user_id,
                            follow.guild_id,
                            list(follow.keywords),
                            follow.author,
                            follow.key,
                            utc(follow.created_at),
                        ),
                    )
                    added += max(cursor.rowcount, 0)
            return added

        return await self._db.write(body)

    async def remove_follow(self, user_id: int, follow_id: int) -> bool:
        """Delete `follow_id` if it belongs to `user_id`."""

        async def body(conn: Connection) -> bool:
            await _lock_member(conn, user_id)
            cursor = await conn.execute(
                "DELETE FROM follows WHERE follow_id = %s AND user_id = %s", (follow_id, user_id)
            )
            return cursor.rowcount > 0

        return await self._db.write(body)

    async def follower(self, user_id: int) -> Follower | None:
        """The member's follows (oldest first) and DM state; None when they follow nothing."""
        rows = await self._db.read(f"{_FOLLOWERS} WHERE m.user_id = %s ORDER BY f.follow_id", (user_id,))
        found = _followers_from_rows(rows)
        return found[0] if found else None

    async def followers(self) -> list[Follower]:
        """Every member with at least one follow, by user id (one statement: a consistent snapshot)."""
        return _followers_from_rows(await self._db.read(f"{_FOLLOWERS} ORDER BY m.user_id, f.follow_id"))

    # ---- list entries -------------------------------------------------------------------------------------

    async def list_position(self) -> int:
        """The newest list entry's position (0: nothing listed yet)."""
        return int(await self._db.value("SELECT coalesce(max(seq), 0) FROM list_entries"))

    async def list_entries(self, after: int, until: int, *, since_day: dt.date) -> list[ListEntry]:
        """Entries in (`after`, `until`] listed on `since_day` or later, by position, with their papers."""
        rows = await self._db.read(
            "SELECT e.seq AS entry_seq, e.day AS entry_day, p.* FROM list_entries e\n"
            "JOIN papers p ON p.id = e.paper_id WHERE e.seq > %s AND e.seq <= %s AND e.day >= %s ORDER BY e.seq",
            (after, until, since_day),
        )
        return [ListEntry(int(row["entry_seq"]), row["entry_day"], paper_from_row(row)) for row in rows]

    # ---- DM records -----------------------------------------------------------------------------------------

    async def dm(self, user_id: int, dm_date: dt.date) -> FollowDMRecord | None:
        """The DM record of a member for a UTC date."""
        rows = await self._db.read(f"SELECT * FROM follow_dms WHERE {_DM_KEY}", (user_id, dm_date))
        return _dm_from_row(rows[0]) if rows else None

    async def dms_in_state(self, state: DmState) -> list[FollowDMRecord]:
        """Every DM record in `state`, by date then user."""
        rows = await self._db.read("SELECT * FROM follow_dms WHERE state = %s ORDER BY dm_date, user_id", (state,))
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
        'sending' record whose lease ran out or that `owner` holds. One transaction holding the row."""
        key = (user_id, dm_date)

        async def body(conn: Connection) -> FollowDMClaim | None:
            if new is not None:
                created = await _rows(
                    conn,
                    "INSERT INTO follow_dms (user_id, dm_date, state, from_seq, to_seq, payload, owner, lease_until,\n"
                    "    started_at) VALUES (%s, %s, 'sending', %s, %s, %s, %s, %s, %s)\n"
                    "ON CONFLICT (user_id, dm_date) DO NOTHING RETURNING *",
                    (*key, new.from_position, new.to_position, new.payload, owner, utc(lease_until), utc(now)),
                )
                if created:
                    return FollowDMClaim(_dm_from_row(created[0]), created=True)
            rows = await _rows(conn, f"SELECT * FROM follow_dms WHERE {_DM_KEY} FOR UPDATE", key)
            if not rows or rows[0]["state"] != "sending":
                return None
            row = rows[0]
            expiry = when(row["lease_until"])
            held_by_other = row["owner"] != owner or row["owner"] is None
            if held_by_other and expiry is not None and expiry > now:
                return None
            claimed = await _rows(
                conn,
                f"UPDATE follow_dms SET owner = %s, lease_until = %s WHERE {_DM_KEY} RETURNING *",
                (owner, utc(lease_until), *key),
            )
            return FollowDMClaim(_dm_from_row(claimed[0]), created=False, previous_owner=row["owner"])

        return await self._db.write(body)

    async def release_dm(
        self, user_id: int, dm_date: dt.date, *, owner: str, retry_at: dt.datetime, error: str
    ) -> bool:
        """Release `owner`'s record after a transient failure, claimable again from `retry_at`."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE follow_dms SET owner = NULL, lease_until = %s, attempts = attempts + 1, error = %s\n"
                f"WHERE {_DM_KEY} AND state = 'sending' AND owner = %s",
                (utc(retry_at), error, user_id, dm_date, owner),
            )
            return cursor.rowcount > 0

        return await self._db.write(body)

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
        key = (user_id, dm_date)

        async def body(conn: Connection) -> bool:
            rows = await _rows(
                conn,
                f"SELECT to_seq, started_at FROM follow_dms WHERE {_DM_KEY} AND state = 'sending' AND owner = %s\n"
                "FOR UPDATE",
                (*key, owner),
            )
            if not rows:
                return False
            await _lock_member(conn, user_id)
            await conn.execute(
                f"UPDATE follow_dms SET state = %s, error = %s, finished_at = %s, lease_until = NULL WHERE {_DM_KEY}",
                (state, error, utc(now), *key),
            )
            if state in ("sent", "skipped"):
                await _advance(conn, user_id, int(rows[0]["to_seq"]))
            if state == "sent":
                await conn.execute("UPDATE follow_members SET last_dm_at = %s WHERE user_id = %s", (utc(now), user_id))
            if pause:
                # A member who followed again after this DM was begun has resumed on purpose: keep them resumed.
                await conn.execute(
                    "UPDATE follow_members SET paused_reason = %s, paused_at = %s\n"
                    "WHERE user_id = %s AND active_since <= %s",
                    (error or "paused", utc(now), user_id, rows[0]["started_at"]),
                )
            return True

        return await self._db.write(body)

    async def skip_dm(self, user_id: int, dm_date: dt.date, *, to_position: int, now: dt.datetime) -> bool:
        """Write a closed 'skipped' record and move the member's position, unless that day has a record."""

        async def body(conn: Connection) -> bool:
            await _lock_member(conn, user_id)
            member = await _rows(conn, "SELECT covered_seq FROM follow_members WHERE user_id = %s", (user_id,))
            start = int(member[0]["covered_seq"]) if member else 0
            cursor = await conn.execute(
                "INSERT INTO follow_dms (user_id, dm_date, state, from_seq, to_seq, started_at, finished_at)\n"
                "VALUES (%s, %s, 'skipped', %s, %s, %s, %s) ON CONFLICT (user_id, dm_date) DO NOTHING",
                (user_id, dm_date, start, max(start, to_position), utc(now), utc(now)),
            )
            if cursor.rowcount == 0:
                return False
            await _advance(conn, user_id, to_position)
            return True

        return await self._db.write(body)
