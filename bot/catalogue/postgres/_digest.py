"""Digest persistence in PostgreSQL: slash-command subscriptions, per-channel state, the post records and the
scheduler's slot claims.

A collaborator of the catalogue (`PostgresCatalogue.digests`), sharing its pools. Several bot processes (shards)
share these tables, so every decision two of them could race on is one transaction that takes the row first:
a claim inserts the record (`ON CONFLICT DO NOTHING`: of two processes creating it at once, one inserts and
the other waits for that commit and finds the row) or locks the existing one (`FOR UPDATE`) before reading
what it decides on. Whoever gets there first wins; the other learns it lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

from bot.catalogue.postgres._connections import BACKGROUND_WAIT_S, Connection, Database
from bot.catalogue.postgres._rows import Row, utc, when
from bot.catalogue.types import ChannelState, NewPost, PostClaim, PostRecord, PostState
from bot.models import EmptyDays, Subscription

__all__ = ["PostgresDigestStore"]


def _sub_from_row(row: Row) -> Subscription:
    hour, minute = (int(part) for part in str(row["time"]).split(":"))
    return Subscription(
        channel_id=int(row["channel_id"]),
        guild_id=None if row["guild_id"] is None else int(row["guild_id"]),
        time=dt.time(hour, minute),
        timezone=row["timezone"],
        top_n=int(row["top_n"]),
        min_upvotes=int(row["min_upvotes"]),
        keywords=tuple(row["keywords"]),
        empty_days=cast(EmptyDays, row["empty_days"]),
        source="db",
        created_at=when(row["created_at"]),
    )


# A post record with its parts folded in: which parts were sent as which message, and every part's nonce.
_POST_SELECT = (
    "SELECT p.*,\n"
    "    (SELECT jsonb_object_agg(x.part::text, x.message_id) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.message_id IS NOT NULL)\n"
    "        AS message_ids,\n"
    "    (SELECT jsonb_object_agg(x.part::text, x.nonce) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.nonce IS NOT NULL) AS nonces\n"
    "FROM digest_posts p"
)
_KEY = "p.channel_id = %s AND p.local_date = %s"
# Claims of scheduler slots are kept this long, then deleted by later claims.
SLOT_KEEP = dt.timedelta(days=7)


def _post_from_row(row: Row) -> PostRecord:
    return PostRecord(
        channel_id=int(row["channel_id"]),
        local_date=row["local_date"],
        list_day=row["list_day"],
        state=cast(PostState, row["state"]),
        payload=row["payload"],
        message_ids={int(k): int(v) for k, v in (row["message_ids"] or {}).items()},
        error=row["error"],
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
        owner=row["owner"],
        lease_until=when(row["lease_until"]),
        nonces={int(k): str(v) for k, v in (row["nonces"] or {}).items()},
    )


def _state_from_row(row: Row) -> ChannelState:
    return ChannelState(
        channel_id=int(row["channel_id"]),
        first_seen=when(row["first_seen"]),
        failing_reason=row["failing_reason"],
        failing_since=when(row["failing_since"]),
    )


async def _rows(conn: Connection, sql: str, params: Any = None) -> list[Row]:
    cursor = await conn.execute(sql, params)
    return list(await cursor.fetchall())


def _maybe(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else utc(value)


class PostgresDigestStore:
    """The digest tables of one PostgreSQL catalogue (the `DigestStore` protocol)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- subscriptions (slash commands) ---------------------------------------------------------------------

    async def subscriptions(self) -> list[Subscription]:
        """Every subscription made with slash commands, by channel id, with its failing state."""
        rows = await self._db.read(
            "SELECT s.*, c.failing_reason, c.failing_since FROM digest_subscriptions s\n"
            "LEFT JOIN digest_channel_state c USING (channel_id) ORDER BY s.channel_id"
        )
        return [
            replace(_sub_from_row(row), failing_reason=row["failing_reason"], failing_since=when(row["failing_since"]))
            for row in rows
        ]

    async def subscription(self, channel_id: int) -> Subscription | None:
        """The slash-command subscription of a channel, if any."""
        rows = await self._db.read("SELECT * FROM digest_subscriptions WHERE channel_id = %s", (channel_id,))
        return _sub_from_row(rows[0]) if rows else None

    async def subscribe(self, sub: Subscription, *, now: dt.datetime) -> Subscription:
        """Create or update a channel's subscription; a new one is owed posts from `now`, an update keeps
        its original creation time. Subscribing again clears a failing state (the admin fixed the channel)."""

        async def body(conn: Connection) -> Row:
            await conn.execute(
                "INSERT INTO digest_subscriptions AS s\n"
                "    (channel_id, guild_id, time, timezone, top_n, min_upvotes, keywords, empty_days, created_at)\n"
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET guild_id = coalesce(excluded.guild_id, s.guild_id),\n"
                "    time = excluded.time, timezone = excluded.timezone, top_n = excluded.top_n,\n"
                "    min_upvotes = excluded.min_upvotes, keywords = excluded.keywords,\n"
                "    empty_days = excluded.empty_days",
                (
                    sub.channel_id,
                    sub.guild_id,
                    sub.time.strftime("%H:%M"),
                    sub.timezone,
                    sub.top_n,
                    sub.min_upvotes,
                    list(sub.keywords),
                    sub.empty_days,
                    utc(now),
                ),
            )
            await conn.execute(
                "UPDATE digest_channel_state SET failing_reason = NULL, failing_since = NULL WHERE channel_id = %s",
                (sub.channel_id,),
            )
            rows = await _rows(conn, "SELECT * FROM digest_subscriptions WHERE channel_id = %s", (sub.channel_id,))
            return rows[0]

        return _sub_from_row(await self._db.write(body))

    async def unsubscribe(self, channel_id: int) -> bool:
        """Delete a channel's slash-command subscription; return whether there was one."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute("DELETE FROM digest_subscriptions WHERE channel_id = %s", (channel_id,))
            removed = cursor.rowcount > 0
            await conn.execute(
                "DELETE FROM digest_channel_state WHERE channel_id = %s AND first_seen IS NULL", (channel_id,)
            )
            return removed

        return await self._db.write(body)

    # ---- channel state ------------------------------------------------------------------------------------

    async def see_channels(self, channel_ids: Iterable[int], *, now: dt.datetime) -> dict[int, dt.datetime]:
        """Record `now` as first-seen for config channels not seen before; return every given channel's.

        Channels no longer in the file are forgotten, so one added back later counts from when it is seen
        again — a returning channel must not get a post "owed" from before it was re-added.
        """
        ids = sorted(set(channel_ids))
        stamp = utc(now)

        async def body(conn: Connection) -> dict[int, dt.datetime]:
            await conn.execute(
                "UPDATE digest_channel_state SET first_seen = NULL\n"
                "WHERE first_seen IS NOT NULL AND NOT (channel_id = ANY(%s))",
                (ids,),
            )
            await conn.execute(
                "DELETE FROM digest_channel_state WHERE first_seen IS NULL\n"
                "    AND channel_id NOT IN (SELECT channel_id FROM digest_subscriptions)"
            )
            if not ids:
                return {}
            await conn.cursor().executemany(
                "INSERT INTO digest_channel_state AS c (channel_id, first_seen) VALUES (%s, %s)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET first_seen = excluded.first_seen\n"
                "WHERE c.first_seen IS NULL",
                [(channel_id, stamp) for channel_id in ids],
            )
            rows = await _rows(
                conn, "SELECT channel_id, first_seen FROM digest_channel_state WHERE channel_id = ANY(%s)", (ids,)
            )
            return {int(row["channel_id"]): row["first_seen"].astimezone(dt.UTC) for row in rows}

        return await self._db.write(body)

    async def channel_states(self) -> dict[int, ChannelState]:
        """Every channel's digest state, by channel id."""
        rows = await self._db.read("SELECT * FROM digest_channel_state")
        return {int(row["channel_id"]): _state_from_row(row) for row in rows}

    async def mark_failing(self, channel_id: int, reason: str, *, now: dt.datetime) -> None:
        """Mark a channel failing (kept from the first failure: `failing_since` does not move)."""

        async def body(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO digest_channel_state AS c (channel_id, failing_reason, failing_since)\n"
                "VALUES (%s, %s, %s)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET failing_reason = excluded.failing_reason,\n"
                "    failing_since = coalesce(c.failing_since, excluded.failing_since)",
                (channel_id, reason, utc(now)),
            )

        await self._db.write(body)

    async def clear_failing(self, channel_id: int) -> None:
        """Clear a channel's failing state (a post went through)."""

        async def body(conn: Connection) -> None:
            await conn.execute(
                "UPDATE digest_channel_state SET failing_reason = NULL, failing_since = NULL\n"
                "WHERE channel_id = %s AND failing_reason IS NOT NULL",
                (channel_id,),
            )

        await self._db.write(body)

    # ---- post records ---------------------------------------------------------------------------------------

    async def post(self, channel_id: int, local_date: dt.date) -> PostRecord | None:
        """The post record of a channel for a local date."""
        rows = await self._db.read(f"{_POST_SELECT} WHERE {_KEY}", (channel_id, local_date))
        return _post_from_row(rows[0]) if rows else None

    async def posts_in_state(self, state: PostState) -> list[PostRecord]:
        """Every post record in `state` (the 'posting' ones are posts that may be half made)."""
        rows = await self._db.read(f"{_POST_SELECT} WHERE p.state = %s ORDER BY p.local_date, p.channel_id", (state,))
        return [_post_from_row(row) for row in rows]

    async def last_posts(self) -> dict[int, PostRecord]:
        """Each channel's latest post record (any state), by channel id."""
        rows = await self._db.read(
            f"{_POST_SELECT} JOIN (SELECT channel_id, max(local_date) AS d FROM digest_posts GROUP BY channel_id)\n"
            "    last ON p.channel_id = last.channel_id AND p.local_date = last.d"
        )
        return {int(row["channel_id"]): _post_from_row(row) for row in rows}

    async def all_posts(self) -> list[PostRecord]:
        """Every post record, oldest first."""
        rows = await self._db.read(f"{_POST_SELECT} ORDER BY p.local_date, p.channel_id", borrow_s=BACKGROUND_WAIT_S)
        return [_post_from_row(row) for row in rows]

    async def restore_post(self, record: PostRecord) -> bool:
        """Make a record and its parts exactly as given; unchanged ones are not rewritten."""
        if await self.post(record.channel_id, record.local_date) == record:
            return False
        key = (record.channel_id, record.local_date)
        parts = sorted(set(record.nonces) | set(record.message_ids))

        async def body(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, error, started_at,\n"
                "    finished_at, owner, lease_until) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)\n"
                "ON CONFLICT (channel_id, local_date) DO UPDATE SET list_day = excluded.list_day,\n"
                "    state = excluded.state, payload = excluded.payload, error = excluded.error,\n"
                "    started_at = excluded.started_at, finished_at = excluded.finished_at, owner = excluded.owner,\n"
                "    lease_until = excluded.lease_until",
                (
                    *key,
                    record.list_day,
                    record.state,
                    record.payload,
                    record.error,
                    utc(record.started_at) if record.started_at else dt.datetime.now(dt.UTC),
                    _maybe(record.finished_at),
                    record.owner,
                    _maybe(record.lease_until),
                ),
            )
            await conn.execute("DELETE FROM digest_post_parts WHERE channel_id = %s AND local_date = %s", key)
            await conn.cursor().executemany(
                "INSERT INTO digest_post_parts (channel_id, local_date, part, nonce, message_id)\n"
                "VALUES (%s, %s, %s, %s, %s)",
                [(*key, part, record.nonces.get(part), record.message_ids.get(part)) for part in parts],
            )

        await self._db.write(body)
        return True

    async def restore_channel_state(self, state: ChannelState) -> bool:
        """Make a channel's state exactly as given."""
        if (await self.channel_states()).get(state.channel_id) == state:
            return False

        async def body(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO digest_channel_state (channel_id, first_seen, failing_reason, failing_since)\n"
                "VALUES (%s, %s, %s, %s) ON CONFLICT (channel_id) DO UPDATE SET first_seen = excluded.first_seen,\n"
                "    failing_reason = excluded.failing_reason, failing_since = excluded.failing_since",
                (state.channel_id, _maybe(state.first_seen), state.failing_reason, _maybe(state.failing_since)),
            )

        await self._db.write(body)
        return True

    async def claim_post(
        self,
        channel_id: int,
        local_date: dt.date,
        *,
        owner: str,
        lease_until: dt.datetime,
        now: dt.datetime,
        new: NewPost | None = None,
    ) -> PostClaim | None:
        """Claim the post for `owner` (see `DigestStore.claim_post`): create it from `new`, or take over a
        'posting' record whose lease expired or that `owner` holds. One transaction holding the row."""
        key = (channel_id, local_date)

        async def body(conn: Connection) -> PostClaim | None:
            if new is not None:
                created = await conn.execute(
                    "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, started_at, owner,\n"
                    "    lease_until) VALUES (%s, %s, %s, 'posting', %s, %s, %s, %s)\n"
                    "ON CONFLICT (channel_id, local_date) DO NOTHING",
                    (*key, new.list_day, new.payload, utc(now), owner, utc(lease_until)),
                )
                if created.rowcount > 0:
                    await conn.cursor().executemany(
                        "INSERT INTO digest_post_parts (channel_id, local_date, part, nonce) VALUES (%s, %s, %s, %s)",
                        [(*key, part, nonce) for part, nonce in sorted(new.nonces.items())],
                    )
                    claimed = await _rows(conn, f"{_POST_SELECT} WHERE {_KEY}", key)
                    return PostClaim(_post_from_row(claimed[0]), created=True)
            rows = await _rows(
                conn,
                "SELECT state, owner, lease_until FROM digest_posts WHERE channel_id = %s AND local_date = %s\n"
                "FOR UPDATE",
                key,
            )
            if not rows:
                return None
            row = rows[0]
            expiry = when(row["lease_until"])
            if row["state"] != "posting" or (row["owner"] != owner and expiry is not None and expiry > now):
                return None
            await conn.execute(
                "UPDATE digest_posts SET owner = %s, lease_until = %s WHERE channel_id = %s AND local_date = %s",
                (owner, utc(lease_until), *key),
            )
            claimed = await _rows(conn, f"{_POST_SELECT} WHERE {_KEY}", key)
            return PostClaim(_post_from_row(claimed[0]), created=False, previous_owner=row["owner"])

        return await self._db.write(body)

    async def renew_post(self, channel_id: int, local_date: dt.date, *, owner: str, lease_until: dt.datetime) -> bool:
        """Extend `owner`'s lease; False when it no longer holds the record."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE digest_posts SET lease_until = %s\n"
                "WHERE channel_id = %s AND local_date = %s AND state = 'posting' AND owner = %s",
                (utc(lease_until), channel_id, local_date, owner),
            )
            return cursor.rowcount > 0

        return await self._db.write(body)

    async def record_part(
        self, channel_id: int, local_date: dt.date, part: int, message_id: int, *, owner: str, now: dt.datetime
    ) -> bool:
        """Remember that `part` was sent as `message_id`, if `owner` still holds the record (read under lock)."""
        key = (channel_id, local_date)

        async def body(conn: Connection) -> bool:
            rows = await _rows(
                conn, "SELECT state, owner FROM digest_posts WHERE channel_id = %s AND local_date = %s FOR UPDATE", key
            )
            if not rows or rows[0]["state"] != "posting" or rows[0]["owner"] != owner:
                return False
            await conn.execute(
                "INSERT INTO digest_post_parts AS x (channel_id, local_date, part, message_id, sent_at)\n"
                "VALUES (%s, %s, %s, %s, %s)\n"
                "ON CONFLICT (channel_id, local_date, part) DO UPDATE SET\n"
                "    message_id = coalesce(x.message_id, excluded.message_id),\n"
                "    sent_at = coalesce(x.sent_at, excluded.sent_at)",
                (*key, part, message_id, utc(now)),
            )
            return True

        return await self._db.write(body)

    async def finish_post(
        self,
        channel_id: int,
        local_date: dt.date,
        state: PostState,
        *,
        owner: str,
        error: str | None = None,
        now: dt.datetime,
    ) -> bool:
        """Close `owner`'s 'posting' record: 'posted', or 'failed'/'skipped' with the reason."""
        if state == "posting":
            raise ValueError("finish_post closes a post: the state must be 'posted', 'failed' or 'skipped'")

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE digest_posts SET state = %s, error = %s, finished_at = %s, lease_until = NULL\n"
                "WHERE channel_id = %s AND local_date = %s AND state = 'posting' AND owner = %s",
                (state, error, utc(now), channel_id, local_date, owner),
            )
            return cursor.rowcount > 0

        return await self._db.write(body)

    async def skip_post(self, channel_id: int, local_date: dt.date, list_day: dt.date, *, now: dt.datetime) -> bool:
        """Write a closed 'skipped' record unless the post already has a record."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "INSERT INTO digest_posts (channel_id, local_date, list_day, state, started_at, finished_at)\n"
                "VALUES (%s, %s, %s, 'skipped', %s, %s) ON CONFLICT (channel_id, local_date) DO NOTHING",
                (channel_id, local_date, list_day, utc(now), utc(now)),
            )
            return cursor.rowcount > 0

        return await self._db.write(body)

    # ---- scheduler slots ------------------------------------------------------------------------------------

    async def claim_slot(self, job: str, slot_time: dt.datetime, *, owner: str, now: dt.datetime) -> bool:
        """Claim the run of `job` at `slot_time`: True for the first claimer only; old claims are deleted.

        Of two processes claiming at once, the second's insert waits for the first's commit on the key, then
        does nothing."""

        async def body(conn: Connection) -> bool:
            await conn.execute(
                "DELETE FROM job_slots WHERE slot_time < %s", (utc(now - SLOT_KEEP).replace(microsecond=0),)
            )
            cursor = await conn.execute(
                "INSERT INTO job_slots (job, slot_time, owner, claimed_at) VALUES (%s, %s, %s, %s)\n"
                "ON CONFLICT (job, slot_time) DO NOTHING",
                (job, utc(slot_time).replace(microsecond=0), owner, utc(now)),
            )
            return cursor.rowcount > 0

        return await self._db.write(body)
