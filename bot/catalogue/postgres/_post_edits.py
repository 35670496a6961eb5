"""The settled-upvotes edits of digest posts in PostgreSQL: each posted post's one edit, made exactly once.

An edit is written 'due' in the transaction that closes its post (`schedule`), then claimed by one process under
a lease with the edited messages, its parts recorded as they are edited, and closed. Several bot processes
(shards) race for the same due edits, so a claim and a part's record each lock the edit's row (`FOR UPDATE`)
before reading what they decide on: of two claimers, the second waits for the first's commit and then finds the
edit held. Closing is one `UPDATE … WHERE owner = …`, atomic by itself. The `PostgresDigestStore` routes the
`DigestStore` protocol's edit methods here.
"""

from __future__ import annotations

import datetime as dt

from bot.catalogue.postgres._connections import BACKGROUND_WAIT_S, Connection, Database
from bot.catalogue.postgres._digest_rows import EDIT_KEY, EDIT_SELECT, edit_from_row, fetch, maybe_utc
from bot.catalogue.postgres._rows import utc, when
from bot.catalogue.types import EditState, PostEdit, PostEditClaim

__all__ = ["all_edits", "claim", "edit", "finish", "open_edits", "record_part", "restore", "schedule"]


async def schedule(conn: Connection, channel_id: int, local_date: dt.date, due_at: dt.datetime) -> None:
    """Write the post's edit 'due' at `due_at`, inside the caller's transaction closing the post (once only)."""
    await conn.execute(
        "INSERT INTO digest_post_edits (channel_id, local_date, due_at, state) VALUES (%s, %s, %s, 'due')\n"
        "ON CONFLICT (channel_id, local_date) DO NOTHING",
        (channel_id, local_date, utc(due_at)),
    )


async def open_edits(db: Database) -> list[PostEdit]:
    """Every edit 'due' or 'editing', by due time."""
    rows = await db.read(
        f"{EDIT_SELECT} WHERE e.state IN ('due', 'editing') ORDER BY e.due_at, e.channel_id, e.local_date"
    )
    return [edit_from_row(row) for row in rows]


async def edit(db: Database, channel_id: int, local_date: dt.date) -> PostEdit | None:
    """The edit of one post, if it has one."""
    rows = await db.read(f"{EDIT_SELECT} WHERE {EDIT_KEY}", (channel_id, local_date))
    return edit_from_row(rows[0]) if rows else None


async def all_edits(db: Database) -> list[PostEdit]:
    """Every edit, any state, by post (for `db copy`)."""
    rows = await db.read(f"{EDIT_SELECT} ORDER BY e.local_date, e.channel_id", borrow_s=BACKGROUND_WAIT_S)
    return [edit_from_row(row) for row in rows]


async def claim(
    db: Database,
    channel_id: int,
    local_date: dt.date,
    *,
    owner: str,
    lease_until: dt.datetime,
    now: dt.datetime,
    payload: str | None,
) -> PostEditClaim | None:
    """Claim the edit for `owner` (see `DigestStore.claim_edit`): start a due one with `payload`, or take over
    an 'editing' one whose lease ran out or that `owner` holds. One transaction holding the edit's row."""
    key = (channel_id, local_date)

    async def body(conn: Connection) -> PostEditClaim | None:
        rows = await fetch(
            conn,
            "SELECT state, due_at, owner, lease_until FROM digest_post_edits\n"
            "WHERE channel_id = %s AND local_date = %s FOR UPDATE",
            key,
        )
        if not rows:
            return None
        row = rows[0]
        if row["state"] == "due":
            if payload is None or row["due_at"] > now:
                return None
            await conn.execute(
                "UPDATE digest_post_edits SET state = 'editing', payload = %s, owner = %s, lease_until = %s\n"
                "WHERE channel_id = %s AND local_date = %s",
                (payload, owner, utc(lease_until), *key),
            )
            created = True
        elif row["state"] == "editing":
            expiry = when(row["lease_until"])
            if row["owner"] != owner and expiry is not None and expiry > now:
                return None
            await conn.execute(
                "UPDATE digest_post_edits SET owner = %s, lease_until = %s WHERE channel_id = %s AND local_date = %s",
                (owner, utc(lease_until), *key),
            )
            created = False
        else:
            return None
        claimed = await fetch(conn, f"{EDIT_SELECT} WHERE {EDIT_KEY}", key)
        return PostEditClaim(edit_from_row(claimed[0]), created=created)

    return await db.write(body)


async def record_part(
    db: Database, channel_id: int, local_date: dt.date, part: int, *, owner: str, now: dt.datetime
) -> bool:
    """Remember that `part` was edited (its first edit time stays), if `owner` still holds the edit: the row is
    locked first, so a process taking the edit over waits until this record is committed."""
    key = (channel_id, local_date)

    async def body(conn: Connection) -> bool:
        rows = await fetch(
            conn,
            "SELECT state, owner FROM digest_post_edits WHERE channel_id = %s AND local_date = %s FOR UPDATE",
            key,
        )
        if not rows or rows[0]["state"] != "editing" or rows[0]["owner"] != owner:
            return False
        await conn.execute(
            "UPDATE digest_post_parts SET edited_at = coalesce(edited_at, %s)\n"
            "WHERE channel_id = %s AND local_date = %s AND part = %s",
            (utc(now), *key, part),
        )
        return True

    return await db.write(body)


async def finish(
    db: Database,
    channel_id: int,
    local_date: dt.date,
    state: EditState,
    *,
    owner: str,
    now: dt.datetime,
    error: str | None,
) -> bool:
    """Close `owner`'s 'editing' edit as 'edited' or 'failed'; False when it does not hold it."""
    if state not in ("edited", "failed"):
        raise ValueError("finish_edit closes an edit: the state must be 'edited' or 'failed'")

    async def body(conn: Connection) -> bool:
        cursor = await conn.execute(
            "UPDATE digest_post_edits SET state = %s, error = %s, finished_at = %s, lease_until = NULL\n"
            "WHERE channel_id = %s AND local_date = %s AND state = 'editing' AND owner = %s",
            (state, error, utc(now), channel_id, local_date, owner),
        )
        return cursor.rowcount > 0

    return await db.write(body)


async def restore(db: Database, given: PostEdit) -> bool:
    """Make a post's edit exactly as given (`db copy`; its post must exist); an equal one is not rewritten. The
    parts it edited are the post's own (`PostRecord.edited_at`, written when the post is restored)."""
    if await edit(db, given.channel_id, given.local_date) == given:
        return False

    async def body(conn: Connection) -> None:
        await conn.execute(
            "INSERT INTO digest_post_edits (channel_id, local_date, due_at, state, payload, owner, lease_until,\n"
            "    error, finished_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)\n"
            "ON CONFLICT (channel_id, local_date) DO UPDATE SET due_at = excluded.due_at,\n"
            "    state = excluded.state, payload = excluded.payload, owner = excluded.owner,\n"
            "    lease_until = excluded.lease_until, error = excluded.error, finished_at = excluded.finished_at",
            (
                given.channel_id,
                given.local_date,
                utc(given.due_at),
                given.state,
                given.payload,
                given.owner,
                maybe_utc(given.lease_until),
                given.error,
                maybe_utc(given.finished_at),
            ),
        )

    await db.write(body)
    return True
