"""A Hugging Face and arXiv outage for a whole day, seen from Discord: the bot keeps serving from what it has.

The bot (composed like the runtime, digest refresh wired to the real ingest over loopback HTTP) runs while the
fixture server answers 503 to everything. Slash commands on stored papers answer normally and on time; a
lookup that needs the network gets a short friendly message; the scheduled digest's refresh fails (bounded
attempts, logged) and the digest is still posted, exactly once, from the stored list; the catalogue is intact.

Service-level versions of the digest part exist in tests/digest/test_service.py
(test_a_failing_refresh_still_posts_the_stored_list); this one runs it through real HTTP and real Discord.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.config import load_settings
from bot.ingest import ingest_day
from bot.sources import open_sources
from fake_discord import FakeDiscord, ids
from tests.digest.conftest import Clock
from tests.fixture_server import FixtureServer
from tests.robustness._discord import (
    assert_exactly_one_complete_digest,
    filled_catalogue,
    serving,
    settings_for,
    step_to,
)
from tests.robustness.conftest import FAST_POLICY, Sleeps, check_database

START = dt.datetime(2024, 3, 16, 8, 0, tzinfo=dt.UTC)
CHANNEL = [{"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9), "timezone": "UTC", "top_n": 5}]
DOWN = 503


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await filled_catalogue(tmp_path / "papers.db")
    try:
        yield cat
    finally:
        await cat.close()


async def test_a_day_long_outage_never_stops_commands_or_the_digest(
    fixture_server: FixtureServer, catalogue: Catalogue, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    stored_before = check_database(catalogue.path)
    for path in ("/api/daily_papers", "/api/query", "/api/papers/2405.00001"):
        fixture_server.fail_next(path, [DOWN] * 1000)
    src_settings = load_settings(environ=fixture_server.environ() | {"PAPERBOT_DATABASE__PATH": str(catalogue.path)})
    sleeps = Sleeps()
    clock = Clock(START)
    async with FakeDiscord() as fake, open_sources(src_settings, policy=FAST_POLICY, sleep=sleeps) as sources:

        async def refresh(day: dt.date) -> object:
            return await ingest_day(day, catalogue, sources)

        settings = settings_for(fake, catalogue.path, CHANNEL)
        async with serving(fake, catalogue, clock, settings, sources, refresh=refresh) as (_, service):
            # Stored papers: answered from the catalogue, on time, without touching the dead source.
            fixture_server.clear_requests()
            for command, options in [
                ("paper search", {"query": "video generation"}),
                ("paper abstract", {"title": "2403.07815"}),
                ("paper trending", {"period": "week"}),
            ]:
                handle = await fake.slash(command, user_id=ids.MEMBER_USER_ID, **options)
                assert (await handle.response()).latency < 3.0
                assert (await handle.original()).embeds, command
            assert fixture_server.requests == []
            # A paper that is not stored needs the network: a short friendly message, not silence.
            handle = await fake.slash("paper abstract", title="2405.00001", user_id=ids.MEMBER_USER_ID)
            assert (await handle.response()).latency < 3.0
            message = await handle.original()
            assert message.content and not message.embeds and not handle.errors

            # The digest's refresh fails after bounded attempts; the post goes out from the stored list.
            fixture_server.clear_requests()
            await step_to(clock, service.scheduler, START.replace(hour=10))
            assert_exactly_one_complete_digest(fake, ids.GENERAL_CHANNEL_ID, START.date())
            assert 1 <= len(fixture_server.requests_to("/api/daily_papers")) <= FAST_POLICY.max_attempts
            assert any("Refreshing list 2024-03-15 before the digest failed" in r.getMessage() for r in caplog.records)

        assert check_database(catalogue.path).days == stored_before.days
