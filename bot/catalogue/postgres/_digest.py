"""Digest persistence in PostgreSQL: slash-command subscriptions, per-channel state, the post records (with
their threads and settled-upvotes edits) and the scheduler's slot claims.

A collaborator of the catalogue (`PostgresCatalogue.digests`), sharing its pools. Several bot processes (shards)
share these tables, so every decision two of them could race on is one transaction that takes the row first:
a claim inserts the record (`ON CONFLICT DO NOTHING`: of two processes creating it at once, one inserts and
the other waits for that commit and finds the row) or locks the existing one (`FOR UPDATE`) before reading
what it decides on. Whoever gets there first wins; the other learns it lost. The edits' own steps live in
`_post_edits` (routed from here); how rows become values, in `_digest_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace

from bot.catalogue.postgres import _post_edits
from bot.catalogue.postgres._connections import BACKGROUND_WAIT_S, Connection, Database
from bot.catalogue.postgres._digest_rows import (
    POST_KEY,
    POST_SELECT,
    fetch,
    maybe_utc,
    part_values,
    pings_json,
    post_from_row,
    state_from_row,
    sub_from_row,
)
from bot.catalogue.postgres._rows import Row, utc, when
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
from bot.models import Subscription

__all__ = ["PostgresDigestStore"]

# Claims of scheduler slots are kept this long, then deleted by later claims.
SLOT_KEEP = dt.timedelta(days=7)


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
            replace(sub_from_row(row), failing_reason=row["failing_reason"], failing_since=when(row["failing_since"]))
            for row in rows
        ]

    async def subscription(self, channel_id: int) -> Subscription | None:
        """The slash-command subscription of a channel, if any."""
        rows = await self._db.read("SELECT * FROM digest_subscriptions WHERE channel_id = %s", (channel_id,))
        return sub_from_row(rows[0]) if rows else None

    async def subscribe(self, sub: Subscription, *, now: dt.datetime) -> Subscription:
        """Create or update a channel's subscription; a new one is owed posts from `now`, an update keeps
        its original creation time. Subscribing again clears a failing state (the admin fixed the channel)."""

        async def body(conn: Connection) -> Row:
            await conn.execute(
                "INSERT INTO digest_subscriptions AS s\n"
                "    (channel_id, guild_id, time, timezone, top_n, min_upvotes, keywords, empty_days, created_at,\n"
                "     thread, pings, update_after_hours, cadence, weekday)\n"
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)\n"
                "ON CONFLICT (channel_id) DO UPDATE SET guild_id = coalesce(excluded.guild_id, s.guild_id),\n"
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
                    list(sub.keywords),
                    sub.empty_days,
                    utc(now),
                    sub.thread,
                    pings_json(sub.pings),
                    float(sub.update_after_hours),
                    sub.cadence,
                    sub.weekday,
                ),
            )
            await conn.execute(
                "UPDATE digest_channel_state SET failing_reason = NULL, failing_since = NULL WHERE channel_id = %s",
                (sub.channel_id,),
            )
            rows = await fetch(conn, "SELECT * FROM digest_subscriptions WHERE channel_id = %s", (sub.channel_id,))
            return rows[0]

        return sub_from_row(await self._db.write(body))

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
            rows = await fetch(
                conn, "SELECT channel_id, first_seen FROM digest_channel_state WHERE channel_id = ANY(%s)", (ids,)
            )
            return {int(row["channel_id"]): row["first_seen"].astimezone(dt.UTC) for row in rows}

        return await self._db.write(body)

    async def channel_states(self) -> dict[int, ChannelState]:
        """Every channel's digest state, by channel id."""
        rows = await self._db.read("SELECT * FROM digest_channel_state")
        return {int(row["channel_id"]): state_from_row(row) for row in rows}

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
        rows = await self._db.read(f"{POST_SELECT} WHERE {POST_KEY}", (channel_id, local_date))
        return post_from_row(rows[0]) if rows else None

    async def posts_in_state(self, state: PostState) -> list[PostRecord]:
        """Every post record in `state` (the 'posting' ones are posts that may be half made)."""
        rows = await self._db.read(f"{POST_SELECT} WHERE p.state = %s ORDER BY p.local_date, p.channel_id", (state,))
        return [post_from_row(row) for row in rows]

    async def last_posts(self) -> dict[int, PostRecord]:
        """Each channel's latest post record (any state), by channel id."""
        rows = await self._db.read(
            f"{POST_SELECT} JOIN (SELECT channel_id, max(local_date) AS d FROM digest_posts GROUP BY channel_id)\n"
            "    last ON p.channel_id = last.channel_id AND p.local_date = last.d"
        )
        return {int(row["channel_id"]): post_from_row(row) for row in rows}

    async def all_posts(self) -> list[PostRecord]:
        """Every post record, oldest first."""
        rows = await self._db.read(f"{POST_SELECT} ORDER BY p.local_date, p.channel_id", borrow_s=BACKGROUND_WAIT_S)
        return [post_from_row(row) for row in rows]

    async def restore_post(self, record: PostRecord) -> bool:
        """Make a record and its parts exactly as given; unchanged ones are not rewritten."""
        if await self.post(record.channel_id, record.local_date) == record:
            return False
        key = (record.channel_id, record.local_date)
        parts = sorted(set(record.nonces) | set(record.message_ids) | set(record.edited_at))

        async def body(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, error, started_at,\n"
                "    finished_at, owner, lease_until, guild_id, thread_id, thread_error)\n"
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)\n"
                "ON CONFLICT (channel_id, local_date) DO UPDATE SET list_day = excluded.list_day,\n"
                "    state = excluded.state, payload = excluded.payload, error = excluded.error,\n"
                "    started_at = excluded.started_at, finished_at = excluded.finished_at, owner = excluded.owner,\n"
                "    lease_until = excluded.lease_until, guild_id = excluded.guild_id,\n"
                "    thread_id = excluded.thread_id, thread_error = excluded.thread_error",
                (
                    *key,
                    record.list_day,
                    record.state,
                    record.payload,
                    record.error,
                    utc(record.started_at) if record.started_at else dt.datetime.now(dt.UTC),
                    maybe_utc(record.finished_at),
                    record.owner,
                    maybe_utc(record.lease_until),
                    record.guild_id,
                    record.thread_id,
                    record.thread_error,
                ),
            )
            await conn.execute("DELETE FROM digest_post_parts WHERE channel_id = %s AND local_date = %s", key)
            await conn.cursor().executemany(
                "INSERT INTO digest_post_parts (channel_id, local_date, part, nonce, message_id, edited_at)\n"
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(*key, part, *part_values(record, part)) for part in parts],
            )

        await self._db.write(body)
        return True

    async def all_edits(self) -> list[PostEdit]:
        """Every settled-upvotes edit, any state, by post."""
        return await _post_edits.all_edits(self._db)

    async def restore_edit(self, edit: PostEdit) -> bool:
        """Make a post's edit exactly as given (its post restored first); an equal one is not rewritten."""
        return await _post_edits.restore(self._db, edit)

    async def restore_channel_state(self, state: ChannelState) -> bool:
        """Make a channel's state exactly as given."""
        if (await self.channel_states()).get(state.channel_id) == state:
            return False

        async def body(conn: Connection) -> None:
            await conn.execute(
                "INSERT INTO digest_channel_state (channel_id, first_seen, failing_reason, failing_since)\n"
                "VALUES (%s, %s, %s, %s) ON CONFLICT (channel_id) DO UPDATE SET first_seen = excluded.first_seen,\n"
                "    failing_reason = excluded.failing_reason, failing_since = excluded.failing_since",
                (state.channel_id, maybe_utc(state.first_seen), state.failing_reason, maybe_utc(state.failing_since)),
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
                    "    lease_until, guild_id) VALUES (%s, %s, %s, 'posting', %s, %s, %s, %s, %s)\n"
                    "ON CONFLICT (channel_id, local_date) DO NOTHING",
                    (*key, new.list_day, new.payload, utc(now), owner, utc(lease_until), new.guild_id),
                )
                if created.rowcount > 0:
                    await conn.cursor().executemany(
                        "INSERT INTO digest_post_parts (channel_id, local_date, part, nonce) VALUES (%s, %s, %s, %s)",
                        [(*key, part, nonce) for part, nonce in sorted(new.nonces.items())],
                    )
                    claimed = await fetch(conn, f"{POST_SELECT} WHERE {POST_KEY}", key)
                    return PostClaim(post_from_row(claimed[0]), created=True)
            rows = await fetch(
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
            claimed = await fetch(conn, f"{POST_SELECT} WHERE {POST_KEY}", key)
            return PostClaim(post_from_row(claimed[0]), created=False, previous_owner=row["owner"])

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
            rows = await fetch(
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
        edit_at: dt.datetime | None = None,
    ) -> bool:
        """Close `owner`'s 'posting' record: 'posted', or 'failed'/'skipped' with the reason; a posted post with
        `edit_at` gets its settled-upvotes edit, due then, in the same transaction (never closed without it)."""
        if state == "posting":
            raise ValueError("finish_post closes a post: the state must be 'posted', 'failed' or 'skipped'")

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE digest_posts SET state = %s, error = %s, finished_at = %s, lease_until = NULL\n"
                "WHERE channel_id = %s AND local_date = %s AND state = 'posting' AND owner = %s",
                (state, error, utc(now), channel_id, local_date, owner),
            )
            if cursor.rowcount == 0:
                return False
            if edit_at is not None and state == "posted":
                await _post_edits.schedule(conn, channel_id, local_date, edit_at)
            return True

        return await self._db.write(body)

    async def record_thread(
        self, channel_id: int, local_date: dt.date, *, owner: str, thread_id: int | None, error: str | None = None
    ) -> bool:
        """Remember the post's thread (or why there is none), if `owner` still holds the 'posting' record: one
        UPDATE whose condition is re-checked on the locked row, so a takeover in between makes it write nothing."""

        async def body(conn: Connection) -> bool:
            cursor = await conn.execute(
                "UPDATE digest_posts SET thread_id = %s, thread_error = %s\n"
                "WHERE channel_id = %s AND local_date = %s AND state = 'posting' AND owner = %s",
                (thread_id, error, channel_id, local_date, owner),
            )
            return cursor.rowcount > 0

        return await self._db.write(body)

    # ---- settled-upvotes edits (see _post_edits) ------------------------------------------------------------

    async def edits_open(self) -> list[PostEdit]:
        """Every edit 'due' or 'editing', by due time."""
        return await _post_edits.open_edits(self._db)

    async def edit(self, channel_id: int, local_date: dt.date) -> PostEdit | None:
        """The edit of one post, if it has one."""
        return await _post_edits.edit(self._db, channel_id, local_date)

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
        """Claim the edit for `owner` (see `DigestStore.claim_edit`), holding its row."""
        return await _post_edits.claim(
            self._db, channel_id, local_date, owner=owner, lease_until=lease_until, now=now, payload=payload
        )

    async def record_edit(
        self, channel_id: int, local_date: dt.date, part: int, *, owner: str, now: dt.datetime
    ) -> bool:
        """Remember that `part` was edited, if `owner` still holds the edit."""
        return await _post_edits.record_part(self._db, channel_id, local_date, part, owner=owner, now=now)

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
        return await _post_edits.finish(self._db, channel_id, local_date, state, owner=owner, now=now, error=error)

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
