"""PaperBot as discord.py's AutoShardedBot on the fake's sharded gateway: which guilds a process serves, what it
logs and meters for each shard, and how fast its shards identify."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot import metrics
from bot.catalogue import Catalogue
from bot.config import DatabaseSettings, DiscordSettings, Settings
from bot.discord_ui.client import PaperBot
from bot.discord_ui.pacing import MESSAGES_PER_SECOND
from bot.discord_ui.sharding import IdentifyPacer, ShardsOutOfRange
from bot.search import SearchService
from fake_discord import FakeDiscord, SessionStartLimit, guild_id_on_shard, ids, running_client, small_guild

SHARDS = 2
GUILDS = {shard: [guild_id_on_shard(shard, SHARDS, i) for i in range(2)] for shard in range(SHARDS)}


def world() -> list[Any]:
    return [small_guild(guild_id) for shard in range(SHARDS) for guild_id in GUILDS[shard]]


def settings(fake: FakeDiscord, db: Path, **discord: Any) -> Settings:
    return Settings(
        discord=DiscordSettings(token=SecretStr(fake.token), api_base_url=fake.api_base_url, **discord),
        database=DatabaseSettings(path=db),
    )


def shard_up(shard: int) -> float | None:
    for line in metrics.scrape().splitlines():
        if line.startswith(f'paperbot_shard_up{{shard="{shard}"}} '):
            return float(line.rsplit(" ", 1)[1])
    return None


async def next_event(bot: PaperBot, event: str, action: Callable[[], Awaitable[object]]) -> Any:
    """Run `action` and wait for discord.py's `event` — after PaperBot's own handler for it has run.

    An extra listener is scheduled after the bot's `on_<event>` method, so once it fires that method (which
    does not await) has finished; `bot.wait_for` would resolve before it.
    """
    fired: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    async def listener(*args: Any) -> None:
        if not fired.done():
            fired.set_result(args)

    bot.add_listener(listener, f"on_{event}")
    try:
        await action()
        return await asyncio.wait_for(fired, timeout=15)
    finally:
        bot.remove_listener(listener, f"on_{event}")


@pytest.fixture
async def sharded_fake() -> AsyncIterator[FakeDiscord]:
    # Discord's identify pacing enforced (one IDENTIFY per 5 s per bucket), with two buckets.
    async with FakeDiscord(
        guilds=world(),
        shard_count=SHARDS,
        identify_interval=5.0,
        session_start_limit=SessionStartLimit(max_concurrency=2),
    ) as fake:
        yield fake
        fake.assert_clean()


def make_bot(fake: FakeDiscord, filled_search: SearchService, tmp_path: Path, **discord: Any) -> PaperBot:
    catalogue: Catalogue = filled_search.catalogue
    return PaperBot(
        settings(fake, tmp_path / "unused.db", **discord), catalogue=catalogue, search=filled_search, sources=None
    )


def test_a_process_posts_at_its_share_of_the_tokens_message_budget(
    filled_search: SearchService, tmp_path: Path
) -> None:
    class Offline:  # the rate is read from the settings alone: nothing connects
        token = "x"
        api_base_url = "http://127.0.0.1:9/api/v10"

    fake: Any = Offline()
    assert make_bot(fake, filled_search, tmp_path).message_rate() == MESSAGES_PER_SECOND  # one process, all
    assert make_bot(fake, filled_search, tmp_path, shard_count=4, shard_ids=[0, 1, 2]).message_rate() == 30.0
    assert make_bot(fake, filled_search, tmp_path, shard_count=4).message_rate() == MESSAGES_PER_SECOND


async def test_a_process_serves_only_its_shards_guilds_and_says_so(
    sharded_fake: FakeDiscord, filled_search: SearchService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = sharded_fake
    caplog.set_level(logging.INFO, logger="bot")
    bot = make_bot(fake, filled_search, tmp_path, shard_count=2, shard_ids=[1])
    async with running_client(fake, bot, guild_ready_timeout=0.05):
        assert fake.gateway.live_shards() == {(1, 2)}
        assert sorted(g.id for g in bot.guilds) == sorted(GUILDS[1])
        await fake.wait_for_commands(None)
        handle = await fake.slash("paper search", guild_id=GUILDS[1][1], query="diffusion", user_id=ids.MEMBER_USER_ID)
        reply = await handle.original()
        assert handle.record.shard == (1, 2)
        assert reply.embeds and "diffusion" in reply.embeds[0]["title"]
        assert shard_up(1) == 1.0
        assert shard_up(0) is None or shard_up(0) == 0.0  # never this process's
    messages = [r.getMessage() for r in caplog.records]
    assert "Running shard 1 of 2" in messages
    assert "Shard 1 ready: 2 guild(s)" in messages
    assert any(m.startswith("Connected as ") and m.endswith("in 2 guild(s) on shard 1 of 2") for m in messages)
    assert shard_up(1) == 0.0  # closed with the bot


async def test_a_lost_shard_is_logged_and_metered_until_it_resumes(
    sharded_fake: FakeDiscord, filled_search: SearchService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = sharded_fake
    caplog.set_level(logging.INFO, logger="bot")
    bot = make_bot(fake, filled_search, tmp_path)  # shard_count 0: Discord's count (2), both shards here
    async with running_client(fake, bot, guild_ready_timeout=0.05):
        assert fake.gateway.live_shards() == {(0, 2), (1, 2)}
        assert (shard_up(0), shard_up(1)) == (1.0, 1.0)

        (shard,) = await next_event(bot, "shard_disconnect", lambda: fake.gateway.disconnect(4000, shard_id=1))
        assert shard == 1
        assert (shard_up(0), shard_up(1)) == (1.0, 0.0)
        (shard,) = await next_event(bot, "shard_resumed", lambda: asyncio.sleep(0))
        assert shard == 1 and shard_up(1) == 1.0
        assert len(fake.gateway.resumes) == 1

        await fake.wait_for_commands(None)
        handle = await fake.slash("paper search", guild_id=GUILDS[1][0], query="diffusion", user_id=ids.MEMBER_USER_ID)
        assert (await handle.original()).embeds  # the resumed shard still serves its guilds
    messages = [r.getMessage() for r in caplog.records]
    assert "Running shards 0, 1 of 2" in messages
    assert "Shard 1 lost its gateway connection; reconnecting" in messages
    assert "Shard 1 resumed its session" in messages
    assert not [m for m in messages if "Shard 0 lost" in m]  # a shutdown is not a lost shard


async def test_shards_in_different_identify_buckets_identify_at_once(
    sharded_fake: FakeDiscord, filled_search: SearchService, tmp_path: Path
) -> None:
    """discord.py's own hook sleeps 5 s before the second shard's IDENTIFY; Discord allows both at once here."""
    fake = sharded_fake
    bot = make_bot(fake, filled_search, tmp_path, shard_count=2)
    async with running_client(fake, bot, guild_ready_timeout=0.05):
        assert bot.identify_pacer.max_concurrency == 2
        assert bot.identify_pacer.identified == [(0, 0.0), (1, 0.0)]
        assert not fake.gateway.identify_rate_limited  # and the fake's 5 s pacing was respected
        assert len(fake.gateway.identifies) == 2


async def test_shard_ids_without_a_count_run_on_discords_count(
    sharded_fake: FakeDiscord, filled_search: SearchService, tmp_path: Path
) -> None:
    fake = sharded_fake
    bot = make_bot(fake, filled_search, tmp_path, shard_ids=[1])
    async with running_client(fake, bot, guild_ready_timeout=0.05):
        assert fake.gateway.live_shards() == {(1, 2)}
        assert bot.shard_count == 2 and bot.running_shards() == [1]
        # Half the shards, half the token's 40 messages/s: two such processes together stay at 40/s.
        assert bot.message_rate() == MESSAGES_PER_SECOND / 2

    beyond = make_bot(fake, filled_search, tmp_path, shard_ids=[0, 3])
    with pytest.raises(
        ShardsOutOfRange, match=r"shard id\(s\) 3 are not below Discord's recommended shard count \(2\)"
    ):
        async with running_client(fake, beyond, guild_ready_timeout=0.05):
            pass


# ---- the pacer on its own: a clock that moves only when it sleeps ----------------------------------------


class Time:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def pacer(time: Time, concurrency: int | Exception) -> IdentifyPacer:
    async def read() -> int:
        if isinstance(concurrency, Exception):
            raise concurrency
        return concurrency

    return IdentifyPacer(read, clock=time.clock, sleep=time.sleep)


async def test_one_bucket_paces_identifies_five_seconds_apart() -> None:
    time = Time()
    paced = pacer(time, 1)
    for shard in (0, 1, 2):
        await paced.wait(shard)
    assert paced.identified == [(0, 0.0), (1, 5.0), (2, 5.0)]
    time.now += 60  # long after: nothing to wait for (discord.py's hook would sleep 5 s again)
    await paced.wait(1)
    assert paced.identified[-1] == (1, 0.0)


async def test_each_bucket_is_paced_on_its_own() -> None:
    time = Time()
    paced = pacer(time, 2)
    await paced.wait(0)
    await paced.wait(1)
    time.now += 2
    await paced.wait(2)  # bucket 0: 5 s after shard 0, 2 s of which have passed
    assert paced.identified == [(0, 0.0), (1, 0.0), (2, 3.0)]


async def test_an_unreadable_limit_paces_as_one_bucket(caplog: pytest.LogCaptureFixture) -> None:
    time = Time()
    paced = pacer(time, OSError("gateway unreachable"))
    await paced.wait(0)
    await paced.wait(1)
    assert paced.max_concurrency == 1
    assert paced.identified == [(0, 0.0), (1, 5.0)]
    assert "Could not read the gateway's session start limit (gateway unreachable)" in caplog.text
