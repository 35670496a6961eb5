"""SIGKILL a real `python -m bot run` in the middle of a digest post, restart it: one complete digest, no repeats.

tests/digest/ simulates the crash in-process (an exception between `posting` and `posted`); this kills the
real process. The catalogue holds a subscription that was owed a post 30 minutes ago (local time chosen so
the post falls mid-day wherever the test runs), so the bot makes the post as soon as it starts. The fake
Discord holds a chosen part of the post with a 429 (discord.py waits it out), and the process is killed there:

* ``held-first``: the `posting` record is claimed, nothing is in the channel yet;
* ``held-second``: part 1 is in the channel, part 2 is waiting;
* ``after-last``: every part is in the channel; killed before or after `posted` was recorded.

After each kill the database passes its integrity checks; the restarted bot reconciles from the channel's
history and finishes the post: every part exactly once, the record `posted`, and no part sent twice.
CI runs ``held-second``; `PAPERBOT_CRASH_SEEDS=N` adds N seeded kills over all three points (slow).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.catalogue import open_catalogue
from bot.models import DailyEntry, Subscription
from fake_discord import FakeDiscord, ids
from tests.robustness._discord import assert_exactly_one_complete_digest, bot_messages, digest_parts
from tests.robustness._proc import start_bot
from tests.robustness.conftest import check_database
from tests.stores import fixture_days

POSTS = "POST /channels/*/messages"
CHANNEL = ids.GENERAL_CHANNEL_ID
KILL_POINTS = ("held-first", "held-second", "after-last")
EXTRA_SEEDS = int(os.environ.get("PAPERBOT_CRASH_SEEDS", "0"))


def _midday_zone(now: dt.datetime) -> tuple[str, dt.datetime]:
    """An Etc/GMT zone where it is around noon now, and the local time 30 minutes ago there."""
    offset = (12 - now.hour + 12) % 24 - 12  # hours east of UTC, in [-12, 11]
    name = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-5 is UTC+5 (POSIX sign)
    local = (now - dt.timedelta(minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=offset)))
    return name, local


async def _prepare(db: Path, now: dt.datetime) -> dt.date:
    """The list the post shows, and a subscription owed a post since 30 minutes ago; returns its local date."""
    zone, local = _midday_zone(now)
    post_instant = (now - dt.timedelta(minutes=30)).replace(second=0, microsecond=0)
    list_day = post_instant.date() - dt.timedelta(days=1)
    entries = fixture_days()[dt.date(2024, 5, 28)]
    async with await open_catalogue(db) as catalogue:
        await catalogue.record_day(list_day, [DailyEntry(list_day, e.paper, e.upvotes) for e in entries])
        sub = Subscription(
            channel_id=CHANNEL,
            guild_id=ids.GUILD_ID,
            time=local.time().replace(second=0, microsecond=0),
            timezone=zone,
            top_n=14,
        )
        await catalogue.digests.subscribe(sub, now=now - dt.timedelta(days=2))
    return local.date()


def _record_state(db: Path, local_date: dt.date) -> str | None:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT state FROM digest_posts WHERE channel_id = ? AND local_date = ?", (CHANNEL, local_date.isoformat())
        ).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def _env(fake: FakeDiscord, db: Path) -> dict[str, str]:
    return {
        "PAPERBOT_DISCORD__TOKEN": fake.token,
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DISCORD__GUILD_IDS": f"[{ids.GUILD_ID}]",
        "PAPERBOT_DATABASE__PATH": str(db),
        "PAPERBOT_SOURCES__HUGGINGFACE__ENABLED": "false",
        "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
    }


def _parts_total(fake: FakeDiscord) -> int | None:
    parts = digest_parts(fake, CHANNEL)
    return parts[0][2] if parts else None


async def _kill_mid_digest(point: str, seed: int, tmp_path: Path) -> dict[str, object]:
    rng = random.Random(seed)
    db = tmp_path / f"{point}-{seed}" / "papers.db"
    local_date = await _prepare(db, dt.datetime.now(dt.UTC))
    async with FakeDiscord() as fake:
        env = _env(fake, db)
        if point == "held-first":
            fake.rate_limit_next(POSTS, retry_after=10.0)
        first = await start_bot("run", env=env, cwd=db.parent)
        try:
            if point == "held-first":
                await fake.wait_for(lambda: any(r.status == 429 for r in fake.requests_to(POSTS)), timeout=30)
            elif point == "held-second":
                await fake.wait_for(lambda: bot_messages(fake, CHANNEL), timeout=30, what="part 1")
                fake.rate_limit_next(POSTS, retry_after=10.0)  # whatever part comes next waits
                await fake.wait_for(
                    lambda: (
                        any(r.status == 429 for r in fake.requests_to(POSTS))
                        or len(bot_messages(fake, CHANNEL)) == _parts_total(fake)
                    ),
                    timeout=30,
                    what="part 2 held (or the post complete)",
                )
            else:
                await fake.wait_for(
                    lambda: bot_messages(fake, CHANNEL) and len(bot_messages(fake, CHANNEL)) == _parts_total(fake),
                    timeout=30,
                    what="every part posted",
                )
            await asyncio.sleep(rng.uniform(0.0, 0.05))  # the seeded kill instant itself, not a synchronisation
        finally:
            first.kill()
            await first.communicate()
        sent_at_kill = len(bot_messages(fake, CHANNEL))
        state_at_kill = _record_state(db, local_date)
        check_database(db)
        assert state_at_kill in {"posting", "posted"}, state_at_kill

        # Restart: the bot reconciles from the channel's history and finishes the post. Its own log line says
        # when start-up (reconciliation and owed posts) is over; only then is the outcome final.
        second = await start_bot("run", env=env, cwd=db.parent)
        seen: list[bytes] = []
        try:
            assert second.stderr is not None
            async with asyncio.timeout(30):
                while b"Digest service ready" not in (line := await second.stderr.readline()):
                    assert line, b"".join(seen).decode()[-2000:]
                    seen.append(line)
            assert _record_state(db, local_date) == "posted"
        finally:
            second.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 0, err.decode()[-2000:]
        total = assert_exactly_one_complete_digest(fake, CHANNEL, local_date)
        created = [r for r in fake.requests_to(POSTS) if r.ok]
        assert len(created) == total, f"{len(created)} messages created for {total} parts: something was sent twice"
        check_database(db)
        fake.assert_clean()
    return {"point": point, "seed": seed, "parts": total, "sent_at_kill": sent_at_kill, "state_at_kill": state_at_kill}


async def test_sigkill_between_digest_parts_then_restart_completes_the_post_once(tmp_path: Path) -> None:
    outcome = await _kill_mid_digest("held-second", 5, tmp_path)
    print(f"digest crash: {outcome}")
    assert outcome["state_at_kill"] == "posting"


@pytest.mark.slow
@pytest.mark.skipif(EXTRA_SEEDS == 0, reason="set PAPERBOT_CRASH_SEEDS=N to try N more kill points")
async def test_sigkill_during_digest_posts_many_seeds(tmp_path: Path) -> None:
    outcomes = [await _kill_mid_digest(KILL_POINTS[i % 3], 3000 + i, tmp_path) for i in range(EXTRA_SEEDS)]
    print(f"digest crash: {outcomes}")
