"""A PostgreSQL catalogue made before the digest features (schema version 1) upgrades in place: its
subscriptions read back with the settings' defaults, its posts keep their parts and have no thread and no edit,
and the new settings can be written at once."""

from __future__ import annotations

import datetime as dt

import psycopg

from bot.catalogue import NewPost, open_catalogue
from bot.catalogue.postgres._migrate import available_migrations
from bot.models import RolePing, Subscription
from tests.postgres import PostgresDatabase

NOW = dt.datetime(2026, 11, 26, 8, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 26)


def _make_version_1(url: str) -> None:
    """The database as a paperbot with only migration 0001 left it, with a subscription and a posted post."""
    [(version, _name, sql)] = [m for m in available_migrations() if m[0] == 1]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz DEFAULT now())")
        with conn.transaction():
            conn.execute(sql)  # type: ignore[arg-type]
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
        conn.execute(
            "INSERT INTO digest_subscriptions (channel_id, guild_id, time, timezone, top_n, min_upvotes, keywords,\n"
            "    empty_days, created_at) VALUES (5, 9, '07:30', 'Europe/Berlin', 4, 2, '{llm}', 'note', %s)",
            (NOW,),
        )
        conn.execute(
            "INSERT INTO digest_posts (channel_id, local_date, list_day, state, payload, started_at, finished_at)\n"
            "VALUES (5, %s, %s, 'posted', '[1]', %s, %s)",
            (DAY, DAY - dt.timedelta(days=1), NOW, NOW),
        )
        conn.execute(
            "INSERT INTO digest_post_parts (channel_id, local_date, part, nonce, message_id, sent_at)\n"
            "VALUES (5, %s, 1, 'n1', 1001, %s)",
            (DAY, NOW),
        )


async def test_a_version_1_catalogue_upgrades_with_defaults_and_keeps_its_posts(
    postgres_database: PostgresDatabase,
) -> None:
    _make_version_1(postgres_database.url)
    async with await open_catalogue(postgres_database.url) as catalogue:
        store = catalogue.digests
        [sub] = await store.subscriptions()
        assert (sub.channel_id, sub.time, sub.timezone, sub.top_n, sub.keywords) == (
            5,
            dt.time(7, 30),
            "Europe/Berlin",
            4,
            ("llm",),
        )
        assert (sub.thread, sub.pings, sub.update_after_hours, sub.cadence, sub.weekday) == (False, (), 0, "daily", 0)
        record = await store.post(5, DAY)
        assert record is not None and record.state == "posted"
        assert (record.message_ids, record.nonces, record.edited_at) == ({1: 1001}, {1: "n1"}, {})
        assert (record.guild_id, record.thread_id, record.thread_error) == (None, None, None)
        assert await store.edits_open() == [] and await store.edit(5, DAY) is None

        # The new settings and records are usable at once.
        pinged = Subscription(5, pings=(RolePing(11, ("rl",)),), thread=True, cadence="weekly", weekday=6)
        saved = await store.subscribe(pinged, now=NOW)
        assert (saved.pings, saved.thread, saved.weekday, saved.created_at) == (pinged.pings, True, 6, NOW)
        new = NewPost(DAY, payload="[2]", nonces={1: "m1"}, guild_id=9)
        later = DAY + dt.timedelta(days=1)
        lease = NOW + dt.timedelta(days=1, minutes=5)
        assert await store.claim_post(5, later, owner="a", lease_until=lease, now=NOW + dt.timedelta(days=1), new=new)
        assert await store.finish_post(5, later, "posted", owner="a", now=lease, edit_at=lease)
        assert [e.local_date for e in await store.edits_open()] == [later]
