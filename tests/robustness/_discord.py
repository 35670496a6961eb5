"""The bot composed as `bot.runtime` composes it, logged into the fake Discord, with a hand-moved clock.

PaperBot with a Scheduler (which owns the digest service) and the catalogue, exactly the runtime's wiring,
except that the scheduler and the digest service read a `Clock` the test moves (so a post time arrives
without waiting), and sources are optional. `step_to` moves the clock job run by job run, waking the real
scheduler at each.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.catalogue import Catalogue, open_catalogue
from bot.config import DatabaseSettings, DigestChannelSettings, DigestSettings, DiscordSettings, Settings
from bot.digest.schedule import Scheduler
from bot.digest.service import DigestService
from bot.discord_ui.client import PaperBot
from bot.render.digest import parse_marker
from bot.search import open_search
from bot.sources import Sources
from bot.stores import index_folder
from fake_discord import FakeDiscord, ids, running_client
from fake_discord.messages import StoredMessage
from tests.digest.conftest import Clock
from tests.stores import fixture_days

UTC = dt.UTC


def settings_for(fake: FakeDiscord, db: Path, channels: list[dict[str, Any]] | None = None) -> Settings:
    return Settings(
        discord=DiscordSettings(token=SecretStr(fake.token), api_base_url=fake.api_base_url, guild_ids=[ids.GUILD_ID]),
        database=DatabaseSettings(path=db),
        digest=DigestSettings(channels=[DigestChannelSettings(**c) for c in channels or []]),
    )


async def filled_catalogue(path: Path) -> Catalogue:
    catalogue = await open_catalogue(path)
    for day, entries in fixture_days().items():
        await catalogue.record_day(day, entries)
    return catalogue


@asynccontextmanager
async def serving(
    fake: FakeDiscord,
    catalogue: Catalogue,
    clock: Clock,
    settings: Settings,
    sources: Sources | None = None,
    *,
    refresh: Callable[[dt.date], Awaitable[object]] | None = None,
) -> AsyncIterator[tuple[PaperBot, DigestService]]:
    """One bot process on the fake; leaving the block stops it (scheduler first, as the runtime does).

    `refresh` is what the runtime passes to the digest (refetch a day's list just before posting).
    """
    scheduler = Scheduler(now=clock)
    stack = contextlib.AsyncExitStack()
    search = await stack.enter_async_context(open_search(catalogue, index_folder(settings), role="bot"))
    bot = PaperBot(
        settings, catalogue=catalogue, search=search, sources=sources, scheduler=scheduler, digest_refresh=refresh
    )
    service = bot.digest
    assert service is not None
    service.now = clock
    scheduler.start()
    try:
        async with stack, running_client(fake, bot, guild_ready_timeout=0.05):
            # The bot sets this event itself (no fake state changes): await it, fake.wait_for would idle 5 s.
            await asyncio.wait_for(service.ready.wait(), 10)
            await fake.wait_for_commands(ids.GUILD_ID)
            yield bot, service
    finally:
        scheduler.shutdown()


async def step_to(clock: Clock, scheduler: Scheduler, until: dt.datetime) -> None:
    """Move the clock to each due job run up to `until`, waking the scheduler (which runs the jobs) at each."""
    while True:
        upcoming = [t for j in scheduler.job_ids() if (t := scheduler.next_run(j)) is not None and t <= until]
        if not upcoming:
            break
        clock.set(min(upcoming))
        await scheduler.wakeup()
    clock.set(until)
    await scheduler.wakeup()


def digest_parts(fake: FakeDiscord, channel_id: int) -> list[tuple[dt.date, int, int]]:
    """(local date, part, parts) of every digest message the bot has in the channel, in channel order."""
    found = []
    for message in fake.channel_messages(channel_id):
        if int(message.author["id"]) != ids.BOT_USER_ID:
            continue
        for embed in message.embeds:
            marker = parse_marker((embed.get("footer") or {}).get("text", ""))
            if marker:
                found.append(marker)
                break
    return found


def assert_exactly_one_complete_digest(fake: FakeDiscord, channel_id: int, local_date: dt.date) -> int:
    """Every part of that day's digest is in the channel exactly once; returns the number of parts."""
    parts = [(part, total) for day, part, total in digest_parts(fake, channel_id) if day == local_date]
    assert parts, f"no digest for {local_date} in channel {channel_id}"
    totals = {total for _, total in parts}
    assert len(totals) == 1, parts
    (total,) = totals
    assert sorted(part for part, _ in parts) == list(range(1, total + 1)), f"missing or repeated parts: {parts}"
    return total


def bot_messages(fake: FakeDiscord, channel_id: int) -> list[StoredMessage]:
    return [m for m in fake.channel_messages(channel_id) if int(m.author["id"]) == ids.BOT_USER_ID]
