"""Digest persistence in SQLite: slash-command subscriptions, per-channel state, the post records (with their
threads and settled-upvotes edits) and the scheduler's slot claims.

A collaborator of the catalogue (`SqliteCatalogue.digests`), sharing its `Database`. Writes are transactions
under the catalogue's writer; SQLite has one writer at a time across processes, so a claim that reads a record
and then writes it inside one transaction is atomic against every other process. Reads are single statements
on the pooled read connections: in WAL mode they see the last commit and never wait for a writer, so a digest
start or a status command does not queue behind another process's long write.
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
from bot.catalogue.types import (
    ChannelState,
    EditState,
    NewPost,
    PostClaim,
    PostEdit,
    PostEditClaim,
    PostRecord,
    PostState,
)
from bot.models import Cadence, EmptyDays, RolePing, Subscription


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
        thread=bool(row["thread"]),
        pings=tuple(RolePing(int(p["role_id"]), tuple(p["keywords"])) for p in json.loads(row["pings"])),
        update_after_hours=float(row["update_after_hours"]),
        cadence=cast(Cadence, row["cadence"]),
        weekday=int(row["weekday"]),
    )


def _pings_json(pings: Iterable[RolePing]) -> str:
    return json.dumps([{"role_id": p.role_id, "keywords": list(p.keywords)} for p in pings], ensure_ascii=False)


# A post record with its parts folded in: which parts were sent as which message, and every part's nonce.
_POST_SELECT = (
    "SELECT p.*,\n"
    "    (SELECT json_group_object(CAST(x.part AS TEXT), x.message_id) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.message_id IS NOT NULL)\n"
    "        AS message_ids,\n"
    "    (SELECT json_group_object(CAST(x.part AS TEXT), x.nonce) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.nonce IS NOT NULL) AS nonces,\n"
    "    (SELECT json_group_object(CAST(x.part AS TEXT), x.edited_at) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = p.channel_id AND x.local_date = p.local_date AND x.edited_at IS NOT NULL)\n"
    "        AS edited_at\n"
    "FROM digest_posts p"
)
_KEY = "p.channel_id = ? AND p.local_date = ?"
# Claims of scheduler slots are kept this long, then deleted by later claims.
SLOT_KEEP = dt.timedelta(days=7)


def _post_from_row(row: sqlite3.Row) -> PostRecord:
    return PostRecord(
        channel_id=int(row["channel_id"]),
        local_date=dt.date.fromisoformat(row["local_date"]),
        list_day=dt.date.fromisoformat(row["list_day"]),
        state=cast(PostState, row["state"]),
        payload=row["payload"],
        message_ids={int(k): int(v) for k, v in json.loads(row["message_ids"] or "{}").items()},
        error=row["error"],
        started_at=when(row["started_at"]),
        finished_at=when(row["finished_at"]),
        owner=row["owner"],
        lease_until=when(row["lease_until"]),
        nonces={int(k): str(v) for k, v in json.loads(row["nonces"] or "{}").items()},
        guild_id=None if row["guild_id"] is None else int(row["guild_id"]),
        thread_id=None if row["thread_id"] is None else int(row["thread_id"]),
        thread_error=row["thread_error"],
        edited_at={int(k): dt.datetime.fromisoformat(v) for k, v in json.loads(row["edited_at"] or "{}").items()},
    )


# An edit with the parts already edited folded in.
_EDIT_SELECT = (
    "SELECT e.*,\n"
    "    (SELECT json_group_array(x.part) FROM digest_post_parts x\n"
    "     WHERE x.channel_id = e.channel_id AND x.local_date = e.local_date AND x.edited_at IS NOT NULL)\n"
    "        AS edited_parts\n"
    "FROM digest_post_edits e"
)
_EDIT_KEY = "e.channel_id = ? AND e.local_date = ?"


def _edit_from_row(row: sqlite3.Row) -> PostEdit:
    return PostEdit(
        channel_id=int(row["channel_id"]),
        local_date=dt.date.fromisoformat(row["local_date"]),
        due_at=dt.datetime.fromisoformat(row["due_at"]),
        state=cast(EditState, row["state"]),
        payload=row["payload"],
        owner=row["owner"],
        lease_until=when(row["lease_until"]),
        edited_parts=frozenset(int(p) for p in json.loads(row["edited_parts"] or "[]")),
        error=row["error"],
        finished_at=when(row["finished_at"]),
    )


def _holds(row: sqlite3.Row, owner: str) -> bool:
    """Whether `owner` holds this post record (it is 'posting' and theirs)."""
    return bool(row["state"] == "posting" and row["owner"] == owner)


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
        rows = await self._db.read(
            "SELECT s.*, c.failing_reason, c.failing_since FROM digest_subscriptions s\n"
            "LEFT JOIN digest_channel_state c USING (channel_id) ORDER BY s.channel_id",
        )
        return [_replace_failing(_sub_from_row(row), row["failing_reason"], when(row["failing_since"])) for row in rows]

    async def subscription(self, channel_id: int) -> Subscription | None:
        """The slash-command subscription of a channel, if any."""
        rows = await self._db.read("SELECT * FROM digest_subscriptions WHERE channel_id = ?", (channel_id,))
        return _sub_from_row(rows[0]) if rows else None

    async def subscribe(self, sub: Subscription, *, now: dt.datetime) -> Subscription:
        """Create or update a channel's subscription; a new one is owed posts from `now`, an update keeps
        its original creation time. Subscribing again clears a failing state (the admin fixed the channel)."""
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO digest_subscriptions\n"
                "    (channel_id, guild_id, time, timezone, top_n, min_upvotes, keywords, empty_days, created_at,\n"
                "     thread, pings, update_after_hours, cadence, weekday)\n"
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET guild_id = coalesce(excluded.guild_id, guild_id),\n"
                "    time = excluded.time, timezone = excluded.timezone, top_n = excluded.top_n,\n"
                "    min_upvotes = excluded.min_upvotes, keywords = excluded.keywords,\n"
                "    empty_days = excluded.empty_days, thread = excluded.thread, pings = excluded.pings,\n"
                "    update_after_hours = excluded.update_after_hours, cadence = excluded.cadence,\n"
                "    weekday = excluded.weekday",
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
                    int(sub.thread),
                    _pings_json(sub.pings),
                    float(sub.update_after_hours),
                    sub.cadence,
                    sub.weekday,
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
        rows = await self._db.read("SELECT * FROM digest_channel_state")
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
        rows = await self._db.read(f"{_POST_SELECT} WHERE {_KEY}", (channel_id, local_date.isoformat()))
        return _post_from_row(rows[0]) if rows else None

    async def posts_in_state(self, state: PostState) -> list[PostRecord]:
        """Every post record in `state` (the 'posting' ones are posts that may be half made)."""
        rows = await self._db.read(f"{_POST_SELECT} WHERE p.state = ? ORDER BY p.local_date, p.channel_id", (state,))
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
        rows = await self._db.read(f"{_POST_SELECT} ORDER BY p.local_date, p.channel_id")
        return [_post_from_row(row) for row in rows]

    async def restore_post(self, record: PostRecord) -> bool:
        """Make a record and its parts exactly as given; unchanged ones are not rewritten."""
        if await self.post(record.channel_id, record.local_date) == record:
            return False
        key = (record.channel_id, record.local_date.isoformat())
        parts = sorted(set(record.nonces) | set(record.message_ids) | set(record.edited_at))
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, error, started_at,\n"
                "    finished_at, owner, lease_until, guild_id, thread_id, thread_error)\n"
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)\n"
                "ON CONFLICT (channel_id, local_date) DO UPDATE SET list_day = excluded.list_day,\n"
                "    state = excluded.state, payload = excluded.payload, error = excluded.error,\n"
                "    started_at = excluded.started_at, finished_at = excluded.finished_at, owner = excluded.owner,\n"
                "    lease_until = excluded.lease_until, guild_id = excluded.guild_id,\n"
                "    thread_id = excluded.thread_id, thread_error = excluded.thread_error",
                (
                    *key,
                    record.list_day.isoformat(),
                    record.state,
                    record.payload,
                    record.error,
                    iso(record.started_at) if record.started_at else iso(dt.datetime.now(dt.UTC)),
                    iso(record.finished_at) if record.finished_at else None,
                    record.owner,
                    iso(record.lease_until) if record.lease_until else None,
                    record.guild_id,
                    record.thread_id,
                    record.thread_error,
                ),
            )
            await db.execute("DELETE FROM digest_post_parts WHERE channel_id = ? AND local_date = ?", key)
            await db.executemany(
                "INSERT INTO digest_post_parts (channel_id, local_date, part, nonce, message_id, edited_at)\n"
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(*key, part, *_part_values(record, part)) for part in parts],
            )
        return True

    async def all_edits(self) -> list[PostEdit]:
        """Every settled-upvotes edit, any state, by post."""
        rows = await self._db.read(f"{_EDIT_SELECT} ORDER BY e.local_date, e.channel_id")
        return [_edit_from_row(row) for row in rows]

    async def restore_edit(self, edit: PostEdit) -> bool:
        """Make a post's edit exactly as given (its post must exist); an equal one is not rewritten. The parts
        it edited are the post's own (`PostRecord.edited_at`, written by `restore_post`)."""
        if await self.edit(edit.channel_id, edit.local_date) == edit:
            return False
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO digest_post_edits (channel_id, local_date, due_at, state, payload, owner, lease_until,\n"
                "    error, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)\n"
                "ON CONFLICT (channel_id, local_date) DO UPDATE SET due_at = excluded.due_at,\n"
                "    state = excluded.state, payload = excluded.payload, owner = excluded.owner,\n"
                "    lease_until = excluded.lease_until, error = excluded.error, finished_at = excluded.finished_at",
                (
                    edit.channel_id,
                    edit.local_date.isoformat(),
                    iso(edit.due_at),
                    edit.state,
                    edit.payload,
                    edit.owner,
                    _maybe_iso(edit.lease_until),
                    edit.error,
                    _maybe_iso(edit.finished_at),
                ),
            )
        return True

    async def restore_channel_state(self, state: ChannelState) -> bool:
        """Make a channel's state exactly as given."""
        if (await self.channel_states()).get(state.channel_id) == state:
            return False
        async with self._db.transaction() as db:
            await db.execute(
                "INSERT INTO digest_channel_state (channel_id, first_seen, failing_reason, failing_since)\n"
                "VALUES (?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET first_seen = excluded.first_seen,\n"
                "    failing_reason = excluded.failing_reason, failing_since = excluded.failing_since",
                (
                    state.channel_id,
                    iso(state.first_seen) if state.first_seen else None,
                    state.failing_reason,
                    iso(state.failing_since) if state.failing_since else None,
                ),
            )
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
        'posting' record whose lease expired or that `owner` holds. One write transaction: SQLite's single
        writer makes the read-and-write atomic across processes."""
        key = (channel_id, local_date.isoformat())
        async with self._db.transaction() as db:
            rows = await fetch_all(db, "SELECT * FROM digest_posts WHERE channel_id = ? AND local_date = ?", key)
            previous: str | None = None
            if rows:
                row = rows[0]
                expiry = when(row["lease_until"])
                if row["state"] != "posting":
                    return None
                if row["owner"] != owner and expiry is not None and expiry > now:
                    return None
                previous = row["owner"]
                await db.execute(
                    "UPDATE digest_posts SET owner = ?, lease_until = ? WHERE channel_id = ? AND local_date = ?",
                    (owner, iso(lease_until), *key),
                )
            elif new is None:
                return None
            else:
                await db.execute(
                    "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, started_at, owner,\n"
                    "    lease_until, guild_id) VALUES (?, ?, ?, 'posting', ?, ?, ?, ?, ?)",
                    (*key, new.list_day.isoformat(), new.payload, iso(now), owner, iso(lease_until), new.guild_id),
                )
                await db.executemany(
                    "INSERT INTO digest_post_parts (channel_id, local_date, part, nonce) VALUES (?, ?, ?, ?)",
                    [(*key, part, nonce) for part, nonce in sorted(new.nonces.items())],
                )
            claimed = await fetch_all(db, f"{_POST_SELECT} WHERE {_KEY}", key)
        return PostClaim(_post_from_row(claimed[0]), created=not rows, previous_owner=previous)

    async def renew_post(self, channel_id: int, local_date: dt.date, *, owner: str, lease_until: dt.datetime) -> bool:
        """Extend `owner`'s lease; False when it no longer holds the record."""
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "UPDATE digest_posts SET lease_until = ?\n"
                "WHERE channel_id = ? AND local_date = ? AND state = 'posting' AND owner = ?",
                (iso(lease_until), channel_id, local_date.isoformat(), owner),
            )
            return cursor.rowcount > 0

    async def record_part(
        self, channel_id: int, local_date: dt.date, part: int, message_id: int, *, owner: str, now: dt.datetime
    ) -> bool:
        """Remember that `part` was sent as `message_id`, if `owner` still holds the record."""
        key = (channel_id, local_date.isoformat())
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db, "SELECT state, owner FROM digest_posts WHERE channel_id = ? AND local_date = ?", key
            )
            if not rows or not _holds(rows[0], owner):
                return False
            await db.execute(
                "INSERT INTO digest_post_parts (channel_id, local_date, part, message_id, sent_at)\n"
                "VALUES (?, ?, ?, ?, ?)\n"
                "ON CONFLICT (channel_id, local_date, part) DO UPDATE SET\n"
                "    message_id = coalesce(digest_post_parts.message_id, excluded.message_id),\n"
                "    sent_at = coalesce(digest_post_parts.sent_at, excluded.sent_at)",
                (*key, part, message_id, iso(now)),
            )
            return True

    async def finish_post(
        self,
        channel_id: int,
        local_date: dt.date,
        state: PostState,
        *,
        owner: str,
        error: str | None = None,
        now: dt.datetime,
        edit_at: dt.datetime | None = None,
    ) -> bool:
        """Close `owner`'s 'posting' record: 'posted', or 'failed'/'skipped' with the reason; a posted post with
        `edit_at` gets its settled-upvotes edit, due then, in the same transaction."""
        if state == "posting":
            raise ValueError("finish_post closes a post: the state must be 'posted', 'failed' or 'skipped'")
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "UPDATE digest_posts SET state = ?, error = ?, finished_at = ?, lease_until = NULL\n"
                "WHERE channel_id = ? AND local_date = ? AND state = 'posting' AND owner = ?",
                (state, error, iso(now), channel_id, local_date.isoformat(), owner),
            )
            if cursor.rowcount == 0:
                return False
            if edit_at is not None and state == "posted":
                await db.execute(
                    "INSERT INTO digest_post_edits (channel_id, local_date, due_at, state) VALUES (?, ?, ?, 'due')\n"
                    "ON CONFLICT (channel_id, local_date) DO NOTHING",
                    (channel_id, local_date.isoformat(), iso(edit_at)),
                )
            return True

    async def record_thread(
        self, channel_id: int, local_date: dt.date, *, owner: str, thread_id: int | None, error: str | None = None
    ) -> bool:
        """Remember the post's thread (or why there is none), if `owner` still holds the 'posting' record."""
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "UPDATE digest_posts SET thread_id = ?, thread_error = ?\n"
                "WHERE channel_id = ? AND local_date = ? AND state = 'posting' AND owner = ?",
                (thread_id, error, channel_id, local_date.isoformat(), owner),
            )
            return cursor.rowcount > 0

    # ---- settled-upvotes edits ------------------------------------------------------------------------------

    async def edits_open(self) -> list[PostEdit]:
        """Every edit 'due' or 'editing', by due time."""
        rows = await self._db.read(
            f"{_EDIT_SELECT} WHERE e.state IN ('due', 'editing') ORDER BY e.due_at, e.channel_id, e.local_date"
        )
        return [_edit_from_row(row) for row in rows]

    async def edit(self, channel_id: int, local_date: dt.date) -> PostEdit | None:
        """The edit of one post, if it has one."""
        rows = await self._db.read(f"{_EDIT_SELECT} WHERE {_EDIT_KEY}", (channel_id, local_date.isoformat()))
        return _edit_from_row(rows[0]) if rows else None

    async def claim_edit(
        self,
        channel_id: int,
        local_date: dt.date,
        *,
        owner: str,
        lease_until: dt.datetime,
        now: dt.datetime,
        payload: str | None = None,
    ) -> PostEditClaim | None:
        """Claim the edit for `owner` (see `DigestStore.claim_edit`), in one write transaction."""
        key = (channel_id, local_date.isoformat())
        async with self._db.transaction() as db:
            rows = await fetch_all(db, "SELECT * FROM digest_post_edits WHERE channel_id = ? AND local_date = ?", key)
            if not rows:
                return None
            row = rows[0]
            if row["state"] == "due":
                if payload is None or dt.datetime.fromisoformat(row["due_at"]) > now:
                    return None
                await db.execute(
                    "UPDATE digest_post_edits SET state = 'editing', payload = ?, owner = ?, lease_until = ?\n"
                    "WHERE channel_id = ? AND local_date = ?",
                    (payload, owner, iso(lease_until), *key),
                )
                created = True
            elif row["state"] == "editing":
                expiry = when(row["lease_until"])
                if row["owner"] != owner and expiry is not None and expiry > now:
                    return None
                await db.execute(
                    "UPDATE digest_post_edits SET owner = ?, lease_until = ? WHERE channel_id = ? AND local_date = ?",
                    (owner, iso(lease_until), *key),
                )
                created = False
            else:
                return None
            claimed = await fetch_all(db, f"{_EDIT_SELECT} WHERE {_EDIT_KEY}", key)
        return PostEditClaim(_edit_from_row(claimed[0]), created=created)

    async def record_edit(
        self, channel_id: int, local_date: dt.date, part: int, *, owner: str, now: dt.datetime
    ) -> bool:
        """Remember that `part` was edited, if `owner` still holds the edit."""
        key = (channel_id, local_date.isoformat())
        async with self._db.transaction() as db:
            rows = await fetch_all(
                db, "SELECT state, owner FROM digest_post_edits WHERE channel_id = ? AND local_date = ?", key
            )
            if not rows or rows[0]["state"] != "editing" or rows[0]["owner"] != owner:
                return False
            await db.execute(
                "UPDATE digest_post_parts SET edited_at = coalesce(edited_at, ?)\n"
                "WHERE channel_id = ? AND local_date = ? AND part = ?",
                (iso(now), *key, part),
            )
            return True

    async def finish_edit(
        self,
        channel_id: int,
        local_date: dt.date,
        state: EditState,
        *,
        owner: str,
        now: dt.datetime,
        error: str | None = None,
    ) -> bool:
        """Close `owner`'s 'editing' edit as 'edited' or 'failed'."""
        if state not in ("edited", "failed"):
            raise ValueError("finish_edit closes an edit: the state must be 'edited' or 'failed'")
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "UPDATE digest_post_edits SET state = ?, error = ?, finished_at = ?, lease_until = NULL\n"
                "WHERE channel_id = ? AND local_date = ? AND state = 'editing' AND owner = ?",
                (state, error, iso(now), channel_id, local_date.isoformat(), owner),
            )
            return cursor.rowcount > 0

    async def skip_post(self, channel_id: int, local_date: dt.date, list_day: dt.date, *, now: dt.datetime) -> bool:
        """Write a closed 'skipped' record unless the post already has a record."""
        async with self._db.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO digest_posts (channel_id, local_date, list_day, state, started_at, finished_at)\n"
                "VALUES (?, ?, ?, 'skipped', ?, ?) ON CONFLICT (channel_id, local_date) DO NOTHING",
                (channel_id, local_date.isoformat(), list_day.isoformat(), iso(now), iso(now)),
            )
            return cursor.rowcount > 0

    # ---- scheduler slots ------------------------------------------------------------------------------------

    async def claim_slot(self, job: str, slot_time: dt.datetime, *, owner: str, now: dt.datetime) -> bool:
        """Claim the run of `job` at `slot_time`: True for the first claimer only; old claims are deleted."""
        async with self._db.transaction() as db:
            await db.execute(
                "DELETE FROM job_slots WHERE slot_time < ?", (iso((now - SLOT_KEEP).replace(microsecond=0)),)
            )
            cursor = await db.execute(
                "INSERT INTO job_slots (job, slot_time, owner, claimed_at) VALUES (?, ?, ?, ?)\n"
                "ON CONFLICT (job, slot_time) DO NOTHING",
                (job, iso(slot_time.replace(microsecond=0)), owner, iso(now)),
            )
            return cursor.rowcount > 0


def _part_values(record: PostRecord, part: int) -> tuple[str | None, int | None, str | None]:
    """A part's nonce, message id and edit time as stored."""
    edited = record.edited_at.get(part)
    return record.nonces.get(part), record.message_ids.get(part), None if edited is None else iso(edited)


def _maybe_iso(value: dt.datetime | None) -> str | None:
    return None if value is None else iso(value)


def _replace_failing(sub: Subscription, reason: str | None, since: dt.datetime | None) -> Subscription:
    return replace(sub, failing_reason=reason, failing_since=since)
