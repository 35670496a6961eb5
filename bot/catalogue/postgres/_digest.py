"""Digest persistence in PostgreSQL: slash-command subscriptions, per-channel state and the post records.

A collaborator of the catalogue (`PostgresCatalogue.digests`), sharing its pools. Every write is one
transaction; a decision two processes could race on (claiming a post) reads the record `FOR UPDATE` inside
it, so whichever gets there first wins and the other sees its record.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

from bot.catalogue.postgres._connections import Connection, Database
from bot.catalogue.postgres._rows import Row, utc, when
from bot.catalogue.types import ChannelState, PostRecord, PostState
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


def _post_from_row(row: Row) -> PostRecord:
    return PostRecord(
        channel_id=int(row["channel_id"]),
        local_date=row["local_date"],
        list_day=row["list_day"],
        state=cast(PostState, row["state"]),
        payload=row["payload"],
        message_ids={int(k): int(v) for k, v in row["message_ids"].items()},
        error=row["error"],
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
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
        rows = await self._db.read(
            "SELECT * FROM digest_posts WHERE channel_id = %s AND local_date = %s", (channel_id, local_date)
        )
        return _post_from_row(rows[0]) if rows else None

    async def posts_in_state(self, state: PostState) -> list[PostRecord]:
        """Every post record in `state` (at start: the 'posting' ones to reconcile)."""
        rows = await self._db.read(
            "SELECT * FROM digest_posts WHERE state = %s ORDER BY local_date, channel_id", (state,)
        )
        return [_post_from_row(row) for row in rows]

    async def last_posts(self) -> dict[int, PostRecord]:
        """Each channel's latest post record (any state), by channel id."""
        rows = await self._db.read(
            "SELECT DISTINCT ON (channel_id) * FROM digest_posts ORDER BY channel_id, local_date DESC"
        )
        return {int(row["channel_id"]): _post_from_row(row) for row in rows}

    async def begin_post(
        self,
        channel_id: int,
        local_date: dt.date,
        list_day: dt.date,
        *,
        state: PostState = "posting",
        payload: str = "[]",
        now: dt.datetime,
    ) -> bool:
        """Claim the (channel, local date) post; return False if a record that is not 'posting' exists.

        Written before the first message is sent: with it, a restart knows a post may be half made.
        """

        async def body(conn: Connection) -> bool:
            # Insert-or-lock first, so two processes claiming at once queue on the row instead of both
            # seeing "no record".
            await conn.execute(
                "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, started_at)\n"
                "VALUES (%s, %s, %s, 'posting', '[]', %s) ON CONFLICT (channel_id, local_date) DO NOTHING",
                (channel_id, local_date, list_day, utc(now)),
            )
            rows = await _rows(
                conn,
                "SELECT state FROM digest_posts WHERE channel_id = %s AND local_date = %s FOR UPDATE",
                (channel_id, local_date),
            )
            if rows and rows[0]["state"] != "posting":
                return False
            await conn.execute(
                "UPDATE digest_posts SET list_day = %s, state = %s, payload = %s, started_at = %s\n"
                "WHERE channel_id = %s AND local_date = %s",
                (list_day, state, payload, utc(now), channel_id, local_date),
            )
            return True

        return await self._db.write(body)

    async def post_progress(self, channel_id: int, local_date: dt.date, part: int, message_id: int) -> None:
        """Remember that part `part` of a 'posting' post was sent as `message_id`."""

        async def body(conn: Connection) -> None:
            await conn.execute(
                "UPDATE digest_posts SET message_ids = message_ids || jsonb_build_object(%s::text, %s::bigint)\n"
                "WHERE channel_id = %s AND local_date = %s",
                (str(part), message_id, channel_id, local_date),
            )

        await self._db.write(body)

    async def finish_post(
        self,
        channel_id: int,
        local_date: dt.date,
        state: PostState,
        *,
        message_ids: dict[int, int] | None = None,
        error: str | None = None,
        now: dt.datetime,
    ) -> None:
        """Close a post record: 'posted' with its message ids, or 'failed'/'skipped' with the reason."""
        ids = None if message_ids is None else json.dumps({str(k): v for k, v in message_ids.items()})

        async def body(conn: Connection) -> None:
            await conn.execute(
                "UPDATE digest_posts SET state = %s, message_ids = coalesce(%s::jsonb, message_ids), error = %s,\n"
                "    finished_at = %s WHERE channel_id = %s AND local_date = %s",
                (state, ids, error, utc(now), channel_id, local_date),
            )

        await self._db.write(body)
