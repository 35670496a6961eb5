"""PostgreSQL digest rows ↔ values: subscriptions, channel states, post records and their edits.

The digest store and its edits module share these, so a record reads back the same whichever wrote it, and the
same as from the SQLite backend: times are UTC, a post's parts are folded into its record (message ids, nonces,
edit times by part number), and an edit carries the parts already edited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from psycopg.types.json import Jsonb

from bot.catalogue.postgres._connections import Connection
from bot.catalogue.postgres._rows import Row, utc, when
from bot.catalogue.types import ChannelState, EditState, PostEdit, PostRecord, PostState
from bot.models import Cadence, EmptyDays, RolePing, Subscription

__all__ = [
    "EDIT_KEY",
    "EDIT_SELECT",
    "POST_KEY",
    "POST_SELECT",
    "edit_from_row",
    "fetch",
    "maybe_utc",
    "part_values",
    "pings_json",
    "post_from_row",
    "state_from_row",
    "sub_from_row",
]


def sub_from_row(row: Row) -> Subscription:
    """A `digest_subscriptions` row as the model (its failing state is the channel state's, joined by callers)."""
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
        thread=bool(row["thread"]),
        pings=tuple(RolePing(int(p["role_id"]), tuple(p["keywords"])) for p in row["pings"]),
        update_after_hours=float(row["update_after_hours"]),
        cadence=cast(Cadence, row["cadence"]),
        weekday=int(row["weekday"]),
    )


def pings_json(pings: Iterable[RolePing]) -> Jsonb:
    """Role pings as the `pings` column stores them (role ids are JSON numbers: jsonb keeps all 64 bits)."""
    return Jsonb([{"role_id": p.role_id, "keywords": list(p.keywords)} for p in pings])


# A post record with its parts folded in: which parts were sent as which message, every part's nonce, and when
# each edited part was edited.
POST_SELECT = (
    "SELECT p.*,\n"
    "    (SELECT jsonb_object_agg(x.part::text, x.message_id) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.message_id IS NOT NULL)\n"
    "        AS message_ids,\n"
    "    (SELECT jsonb_object_agg(x.part::text, x.nonce) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.nonce IS NOT NULL) AS nonces,\n"
    "    (SELECT array_agg(x.part ORDER BY x.part) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.edited_at IS NOT NULL)\n"
    "        AS edited_parts,\n"
    "    (SELECT array_agg(x.edited_at ORDER BY x.part) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.edited_at IS NOT NULL)\n"
    "        AS edited_times\n"
    "FROM digest_posts p"
)
POST_KEY = "p.channel_id = %s AND p.local_date = %s"


def post_from_row(row: Row) -> PostRecord:
    """A row of `POST_SELECT` as the record."""
    edited = zip(row["edited_parts"] or (), row["edited_times"] or (), strict=True)
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
        guild_id=None if row["guild_id"] is None else int(row["guild_id"]),
        thread_id=None if row["thread_id"] is None else int(row["thread_id"]),
        thread_error=row["thread_error"],
        edited_at={int(part): at.astimezone(dt.UTC) for part, at in edited},
    )


def part_values(record: PostRecord, part: int) -> tuple[str | None, int | None, dt.datetime | None]:
    """A part of a record as `digest_post_parts` stores it: its nonce, message id and edit time."""
    return record.nonces.get(part), record.message_ids.get(part), maybe_utc(record.edited_at.get(part))


# An edit with the parts already edited folded in.
EDIT_SELECT = (
    "SELECT e.*,\n"
    "    (SELECT array_agg(x.part ORDER BY x.part) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = e.channel_id AND x.local_date = e.local_date AND x.edited_at IS NOT NULL)\n"
    "        AS edited_parts\n"
    "FROM digest_post_edits e"
)
EDIT_KEY = "e.channel_id = %s AND e.local_date = %s"


def edit_from_row(row: Row) -> PostEdit:
    """A row of `EDIT_SELECT` as the edit."""
    return PostEdit(
        channel_id=int(row["channel_id"]),
        local_date=row["local_date"],
        due_at=row["due_at"].astimezone(dt.UTC),
        state=cast(EditState, row["state"]),
        payload=row["payload"],
        owner=row["owner"],
        lease_until=when(row["lease_until"]),
        edited_parts=frozenset(int(p) for p in row["edited_parts"] or ()),
        error=row["error"],
        finished_at=when(row["finished_at"]),
    )


def state_from_row(row: Row) -> ChannelState:
    """A `digest_channel_state` row as the value."""
    return ChannelState(
        channel_id=int(row["channel_id"]),
        first_seen=when(row["first_seen"]),
        failing_reason=row["failing_reason"],
        failing_since=when(row["failing_since"]),
    )


async def fetch(conn: Connection, sql: str, params: Any = None) -> list[Row]:
    """Every row of one statement run inside a caller's transaction."""
    cursor = await conn.execute(sql, params)
    return list(await cursor.fetchall())


def maybe_utc(value: dt.datetime | None) -> dt.datetime | None:
    """An optional time as stored (UTC; naive times refused)."""
    return None if value is None else utc(value)
