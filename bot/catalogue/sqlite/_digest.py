"""Digest persistence in SQLite: slash-command subscriptions, per-channel state and the post records.

A collaborator of the catalogue (`SqliteCatalogue.digests`), sharing its `Database`: writes are transactions
under the catalogue's writer; reads that must see a consistent pair of tables run inside one too.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from typing import cast

from bot.catalogue.sqlite._connections import Database, fetch_all
from bot.catalogue.sqlite._rows import iso, when
from bot.catalogue.types import ChannelState, PostRecord, PostState
from bot.models import EmptyDays, Subscription


def _sub_from_row(row: sqlite3.Row) -> Subscription:
    hour, minute = (int(part) for part in str(row["time"]).split(":"))
    return Subscription(
        channel_id=int(row["channel_id"]),
        guild_id=None if row["guild_id"] is None else int(row["guild_id"]),
        time=dt.time(hour, minute),
        timezone=row["timezone"],
        top_n=int(row["top_n"]),
        min_upvotes=int(row["min_upvotes"]),
        keywords=tuple(json.loads(row["keywords"])),
        empty_days=cast(EmptyDays, row["empty_days"]),
        source="db",
        created_at=when(row["created_at"]),
    )


def _post_from_row(row: sqlite3.Row) -> PostRecord:
    return PostRecord(
        channel_id=int(row["channel_id"]),
        local_date=dt.date.fromisoformat(row["local_date"]),
        list_day=dt.date.fromisoformat(row["list_day"]),
        state=cast(PostState, row["state"]),
        payload=row["payload"],
        message_ids={int(k): int(v) for k, v in json.loads(row["message_ids"]).items()},
        error=row["error"],
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
    )


def _state_from_row(row: sqlite3.Row) -> ChannelState:
    return ChannelState(
        channel_id=int(row["channel_id"]),
        first_seen=when(row["first_seen"]),
        failing_reason=row["failing_reason"],
        failing_since=when(row["failing_since"]),
    )


class SqliteDigestStore:
    """The digest tables of one SQLite catalogue (the `DigestStore` protocol)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # ---- subscriptions (slash commands) ---------------------------------------------------------------------

    async def subscriptions(self) -> list[Subscription]:
        """Every subscription made with slash commands, by channel id, with its failing state."""
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db,
                "SELECT s.*, c.failing_reason, c.failing_since FROM digest_subscriptions s\n"
                "LEFT JOIN digest_channel_state c USING (channel_id) ORDER BY s.channel_id",
            )
        return [
            _replace_failing(_sub_from_row(row), row["failing_reason"], when(row["failing_since"])) for row in rows
        ]

    async def subscription(self, channel_id: int) -> Subscription | None:
        """The slash-command subscription of a channel, if any."""
        async with self._db.transaction() as db:
            rows = await fetch_all(db, "SELECT * FROM digest_subscriptions WHERE channel_id = ?", (channel_id,))
        return _sub_from_row(rows[0]) if rows else None

    async def subscribe(self, sub: Subscription, *, now: dt.datetime) -> Subscription:
        """Create or update a channel's subscription; a new one is owed posts from `now`, an update keeps
        its original creation time. Subscribing again clears a failing state (the admin fixed the channel)."""
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO digest_subscriptions\n"
                "    (channel_id, guild_id, time, timezone, top_n, min_upvotes, keywords, empty_days, created_at)\n"
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET guild_id = coalesce(excluded.guild_id, guild_id),\n"
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
                    json.dumps(list(sub.keywords), ensure_ascii=False),
                    sub.empty_days,
                    iso(now),
                ),
            )
            await db.execute(
                "UPDATE digest_channel_state SET failing_reason = NULL, failing_since = NULL WHERE channel_id = ?",
                (sub.channel_id,),
            )
            rows = await fetch_all(db, "SELECT * FROM digest_subscriptions WHERE channel_id = ?", (sub.channel_id,))
        return _sub_from_row(rows[0])

    async def unsubscribe(self, channel_id: int) -> bool:
        """Delete a channel's slash-command subscription; return whether there was one."""
        async with self._db.transaction() as db:
            cursor = await db.execute("DELETE FROM digest_subscriptions WHERE channel_id = ?", (channel_id,))
            removed = cursor.rowcount > 0
            await db.execute(
                "DELETE FROM digest_channel_state WHERE channel_id = ? AND first_seen IS NULL", (channel_id,)
            )
        return removed

    # ---- channel state ------------------------------------------------------------------------------------

    async def see_channels(self, channel_ids: Iterable[int], *, now: dt.datetime) -> dict[int, dt.datetime]:
        """Record `now` as first-seen for config channels not seen before; return every given channel's.

        Channels no longer in the file are forgotten, so one added back later counts from when it is seen
        again — a returning channel must not get a post "owed" from before it was re-added.
        """
        ids = sorted(set(channel_ids))
        async with self._db.transaction() as db:
            marks = ", ".join("?" for _ in ids)
            gone = f"first_seen IS NOT NULL AND channel_id NOT IN ({marks})" if ids else "first_seen IS NOT NULL"
            await db.execute(f"UPDATE digest_channel_state SET first_seen = NULL WHERE {gone}", ids)
            await db.execute(
                "DELETE FROM digest_channel_state WHERE first_seen IS NULL\n"
                "    AND channel_id NOT IN (SELECT channel_id FROM digest_subscriptions)"
            )
            if not ids:
                return {}
            await db.executemany(
                "INSERT INTO digest_channel_state (channel_id, first_seen) VALUES (?, ?)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET first_seen = excluded.first_seen\n"
                "WHERE digest_channel_state.first_seen IS NULL",
                [(channel_id, iso(now)) for channel_id in ids],
            )
            rows = await fetch_all(
                db, f"SELECT channel_id, first_seen FROM digest_channel_state WHERE channel_id IN ({marks})", ids
            )
        return {int(row["channel_id"]): dt.datetime.fromisoformat(row["first_seen"]) for row in rows}

    async def channel_states(self) -> dict[int, ChannelState]:
        """Every channel's digest state, by channel id."""
        async with self._db.transaction() as db:
            rows = await fetch_all(db, "SELECT * FROM digest_channel_state")
        return {int(row["channel_id"]): _state_from_row(row) for row in rows}

    async def mark_failing(self, channel_id: int, reason: str, *, now: dt.datetime) -> None:
        """Mark a channel failing (kept from the first failure: `failing_since` does not move)."""
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO digest_channel_state (channel_id, failing_reason, failing_since) VALUES (?, ?, ?)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET failing_reason = excluded.failing_reason,\n"
                "    failing_since = coalesce(digest_channel_state.failing_since, excluded.failing_since)",
                (channel_id, reason, iso(now)),
            )

    async def clear_failing(self, channel_id: int) -> None:
        """Clear a channel's failing state (a post went through)."""
        async with self._db.transaction() as db:
            await db.execute(
                "UPDATE digest_channel_state SET failing_reason = NULL, failing_since = NULL\n"
                "WHERE channel_id = ? AND failing_reason IS NOT NULL",
                (channel_id,),
            )

    # ---- post records ---------------------------------------------------------------------------------------

    async def post(self, channel_id: int, local_date: dt.date) -> PostRecord | None:
        """The post record of a channel for a local date."""
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db,
                "SELECT * FROM digest_posts WHERE channel_id = ? AND local_date = ?",
                (channel_id, local_date.isoformat()),
            )
        return _post_from_row(rows[0]) if rows else None

    async def posts_in_state(self, state: PostState) -> list[PostRecord]:
        """Every post record in `state` (at start: the 'posting' ones to reconcile)."""
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db, "SELECT * FROM digest_posts WHERE state = ? ORDER BY local_date, channel_id", (state,)
            )
        return [_post_from_row(row) for row in rows]

    async def last_posts(self) -> dict[int, PostRecord]:
        """Each channel's latest post record (any state), by channel id."""
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db,
                "SELECT p.* FROM digest_posts p JOIN (SELECT channel_id, max(local_date) AS d FROM digest_posts\n"
                "    GROUP BY channel_id) last ON p.channel_id = last.channel_id AND p.local_date = last.d",
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
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db,
                "SELECT state FROM digest_posts WHERE channel_id = ? AND local_date = ?",
                (channel_id, local_date.isoformat()),
            )
            if rows and rows[0]["state"] != "posting":
                return False
            await db.execute(
                "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, started_at)\n"
                "VALUES (?, ?, ?, ?, ?, ?)\n"
                "ON CONFLICT (channel_id, local_date) DO UPDATE SET list_day = excluded.list_day,\n"
                "    state = excluded.state, payload = excluded.payload, started_at = excluded.started_at",
                (channel_id, local_date.isoformat(), list_day.isoformat(), state, payload, iso(now)),
            )
        return True

    async def post_progress(self, channel_id: int, local_date: dt.date, part: int, message_id: int) -> None:
        """Remember that part `part` of a 'posting' post was sent as `message_id`."""
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db,
                "SELECT message_ids FROM digest_posts WHERE channel_id = ? AND local_date = ?",
                (channel_id, local_date.isoformat()),
            )
            if not rows:
                return
            ids = json.loads(rows[0]["message_ids"])
            ids[str(part)] = message_id
            await db.execute(
                "UPDATE digest_posts SET message_ids = ? WHERE channel_id = ? AND local_date = ?",
                (json.dumps(ids), channel_id, local_date.isoformat()),
            )

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
        async with self._db.transaction() as db:
            await db.execute(
                "UPDATE digest_posts SET state = ?, message_ids = coalesce(?, message_ids), error = ?,\n"
                "    finished_at = ? WHERE channel_id = ? AND local_date = ?",
                (
                    state,
                    None if message_ids is None else json.dumps({str(k): v for k, v in message_ids.items()}),
                    error,
                    iso(now),
                    channel_id,
                    local_date.isoformat(),
                ),
            )


def _replace_failing(sub: Subscription, reason: str | None, since: dt.datetime | None) -> Subscription:
    return replace(sub, failing_reason=reason, failing_since=since)
