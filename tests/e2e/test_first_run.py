"""A first run fills an empty catalogue in the background, so trending and digests have data at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

from bot.runtime import FIRST_RUN_DAYS
from tests.e2e.conftest import StartBot
from tests.fixture_server import FixtureServer

RECORDED_DAY = dt.date(2024, 3, 13)


def _listed(db: Path, day: dt.date) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return int(con.execute("SELECT count(*) FROM daily WHERE day = ?", (day.isoformat(),)).fetchone()[0])


async def _wait_for_file_state(check: Callable[[], bool], *, within: float = 20.0) -> None:
    """Bounded poll of the database file (another task writes it; there is no event to await)."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the first-run fill did not land in time"
        await asyncio.sleep(0.05)


async def test_an_empty_catalogue_is_filled_with_the_last_month(
    start_bot: StartBot, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    recent = today - dt.timedelta(days=3)
    items = fixture_server.day_items(RECORDED_DAY)
    fixture_server.set_day(recent, items)
    bot = await start_bot(catalogue="empty")
    db = bot.settings.database.path
    await _wait_for_file_state(lambda: db.exists() and _listed(db, recent) == len(items))
    asked = {r.query.get("date") for r in fixture_server.requests_to("/api/daily_papers")}
    first = today - dt.timedelta(days=FIRST_RUN_DAYS - 1)
    assert first.isoformat() in asked and (first - dt.timedelta(days=1)).isoformat() not in asked
    assert await bot.stop() == 0


async def test_a_catalogue_with_lists_is_not_refilled_at_start(
    start_bot: StartBot, fixture_server: FixtureServer
) -> None:
    bot = await start_bot(catalogue="full")
    assert await bot.stop() == 0
    assert fixture_server.requests_to("/api/daily_papers") == []
