"""Sharding as Discord does it: GET /gateway/bot, IDENTIFY's shard, READY and every event only for the shard's
guilds, 4010/4011, the session start limit and identify pacing — over raw websockets, with discord.py's
AutoShardedBot, and with two bot processes holding disjoint shards of one fake.

Routing assertions read what the fake *sent* to each session (``session.event_names()``): an event that should
not reach a shard is proven absent without waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from fake_discord import (
    Channel,
    FakeDiscord,
    ManualClock,
    SessionStartLimit,
    guild_id_on_shard,
    running_client,
    shard_of,
    small_guild,
)
from fake_discord.tests.rawclient import RawGateway

REPO = Path(__file__).resolve().parents[2]
# Two guilds on shard 0 of 2, one on shard 1.
G0A, G0B, G1 = guild_id_on_shard(0, 2, 0), guild_id_on_shard(0, 2, 1), guild_id_on_shard(1, 2, 0)
WHOAMI = [{"name": "whoami", "description": "who answers", "type": 1}]


def three_guilds() -> list[Any]:
    return [small_guild(G0A), small_guild(G0B), small_guild(G1)]


@contextlib.asynccontextmanager
async def fake_and_http(**options: Any) -> AsyncIterator[tuple[FakeDiscord, aiohttp.ClientSession]]:
    """A started fake (with ``three_guilds()`` unless told otherwise) and an HTTP session carrying its token."""
    options.setdefault("guilds", three_guilds())
    async with (
        FakeDiscord(**options) as fake,
        aiohttp.ClientSession(headers={"Authorization": f"Bot {fake.token}"}) as http,
    ):
        yield fake, http


def test_guild_ids_land_on_the_shard_they_are_made_for() -> None:
    assert [shard_of(g, 2) for g in (G0A, G0B, G1)] == [0, 0, 1]
    assert all(shard_of(guild_id_on_shard(s, 5, i), 5) == s for s in range(5) for i in range(3))
    assert shard_of(G1, 2) == (G1 >> 22) % 2  # Discord's formula, nothing else


async def test_gateway_bot_advertises_the_shard_count_and_session_start_limit() -> None:
    limit = SessionStartLimit(total=1000, remaining=2, reset_after_ms=3_600_000, max_concurrency=4)
    async with fake_and_http(shard_count=2, session_start_limit=limit) as (fake, http):
        async with http.get(fake.api_base_url + "/gateway/bot") as resp:
            data = await resp.json()
        assert data == {
            "url": fake.gateway.url,
            "shards": 2,
            "session_start_limit": {"total": 1000, "remaining": 2, "reset_after": 3_600_000, "max_concurrency": 4},
        }
        for shard in ([0, 2], [1, 2]):  # each IDENTIFY takes one start
            async with RawGateway(http, fake.gateway.url) as gw:
                await gw.identify(fake.token, shard=shard)
        async with http.get(fake.api_base_url + "/gateway/bot") as resp:
            assert (await resp.json())["session_start_limit"]["remaining"] == 0
        async with RawGateway(http, fake.gateway.url) as gw:  # none left: Discord resets the token
            await gw.send_identify(fake.token, shard=[0, 2])
            assert await gw.closed_with() == 4004


async def test_ready_and_guild_creates_carry_only_the_shards_guilds() -> None:
    async with (
        fake_and_http(shard_count=2) as (fake, http),
        RawGateway(http, fake.gateway.url) as gw0,
        RawGateway(http, fake.gateway.url) as gw1,
    ):
        ready0 = await gw0.identify(fake.token, shard=[0, 2])
        ready1 = await gw1.identify(fake.token, shard=[1, 2])
        assert ready0["d"]["shard"] == [0, 2] and ready1["d"]["shard"] == [1, 2]
        assert {g["id"] for g in ready0["d"]["guilds"]} == {str(G0A), str(G0B)}
        assert [g["id"] for g in ready1["d"]["guilds"]] == [str(G1)]
        creates0 = [(await gw0.recv_until("GUILD_CREATE"))["d"]["id"] for _ in range(2)]
        assert sorted(creates0) == sorted([str(G0A), str(G0B)])
        assert (await gw1.recv_until("GUILD_CREATE"))["d"]["id"] == str(G1)
        s0, s1 = fake.gateway.all_sessions
        assert (s0.shard, s1.shard) == ((0, 2), (1, 2))
        assert s0.event_names() == ["READY", "GUILD_CREATE", "GUILD_CREATE"]
        assert s1.event_names() == ["READY", "GUILD_CREATE"]
        assert fake.gateway.live_shards() == {(0, 2), (1, 2)}


async def test_an_unsharded_identify_gets_every_guild() -> None:
    async with fake_and_http(shard_count=2) as (fake, http), RawGateway(http, fake.gateway.url) as gw:
        ready = await gw.identify(fake.token)
        assert "shard" not in ready["d"]
        assert {g["id"] for g in ready["d"]["guilds"]} == {str(G0A), str(G0B), str(G1)}


async def test_every_guild_event_goes_to_the_shard_holding_the_guild() -> None:
    async with (
        fake_and_http(shard_count=2) as (fake, http),
        RawGateway(http, fake.gateway.url) as gw0,
        RawGateway(http, fake.gateway.url) as gw1,
    ):
        await gw0.identify(fake.token, shard=[0, 2])
        await gw1.identify(fake.token, shard=[1, 2])
        async with http.put(f"{fake.api_base_url}/applications/{fake.app_id}/commands", json=WHOAMI) as resp:
            assert resp.status == 200
        s0, s1 = fake.gateway.all_sessions

        to_g1 = await fake.slash("whoami", guild_id=G1)
        event = await gw1.recv_until("INTERACTION_CREATE")
        assert event["d"]["id"] == str(to_g1.id) and event["d"]["guild_id"] == str(G1)
        assert to_g1.record.shard == (1, 2) and to_g1.record.delivered_to == [s1.id]

        to_g0 = await fake.slash("whoami", guild_id=G0B)
        assert (await gw0.recv_until("INTERACTION_CREATE"))["d"]["id"] == str(to_g0.id)
        assert to_g0.record.delivered_to == [s0.id]

        await fake.create_channel(Channel(id=G1 + 100, name="new"), guild_id=G1)
        assert (await gw1.recv_until("CHANNEL_CREATE"))["d"]["guild_id"] == str(G1)
        await fake.gateway.dispatch("TYPING_START", {"channel_id": "1", "user_id": "2"})  # no guild: shard 0
        assert (await gw0.recv_until("TYPING_START"))["d"]["channel_id"] == "1"

        assert s0.event_names().count("INTERACTION_CREATE") == 1 and "CHANNEL_CREATE" not in s0.event_names()
        assert s1.event_names().count("INTERACTION_CREATE") == 1 and "TYPING_START" not in s1.event_names()


@pytest.mark.parametrize("shard", [[2, 2], [-1, 2], [0, 0], [0], [0, 1, 2], "0,1", [0.0, 1], [True, 2], None], ids=repr)
async def test_an_invalid_shard_is_closed_with_4010(shard: Any) -> None:
    async with fake_and_http() as (fake, http):
        async with RawGateway(http, fake.gateway.url) as gw:
            hello = await gw.recv()
            assert hello["op"] == 10
            await gw.send({"op": 2, "d": {"token": fake.token, "intents": 0, "properties": {}, "shard": shard}})
            assert await gw.closed_with() == 4010
        assert fake.gateway.sessions == {}


async def test_a_shard_holding_too_many_guilds_is_closed_with_4011() -> None:
    async with fake_and_http(max_guilds_per_shard=1) as (fake, http):
        for shard in (None, [0, 2]):  # unsharded: 3 guilds; shard 0 of 2: 2 guilds
            async with RawGateway(http, fake.gateway.url) as gw:
                await gw.send_identify(fake.token, shard=shard)
                assert await gw.closed_with() == 4011
        for shard in ([1, 2], [0, 3], [1, 3], [2, 3]):  # one guild each (or none)
            async with RawGateway(http, fake.gateway.url) as gw:
                ready = await gw.identify(fake.token, shard=shard)
                assert len(ready["d"]["guilds"]) <= 1


async def test_identify_is_paced_per_concurrency_bucket() -> None:
    clock = ManualClock()
    limit = SessionStartLimit(max_concurrency=2)
    async with fake_and_http(clock=clock, identify_interval=5.0, session_start_limit=limit) as (fake, http):
        async with RawGateway(http, fake.gateway.url, close_code=4000) as gw:
            await gw.identify(fake.token, shard=[0, 4])
        async with RawGateway(http, fake.gateway.url, close_code=4000) as gw:  # bucket 1 % 2: its own pace
            await gw.identify(fake.token, shard=[1, 4])
        async with RawGateway(http, fake.gateway.url) as gw:  # bucket 2 % 2 == 0 again, too soon
            await gw.send_identify(fake.token, shard=[2, 4])
            assert await gw.recv() == {"op": 9, "d": False}
        assert [d["shard"] for d in fake.gateway.identify_rate_limited] == [[2, 4]]
        clock.advance(5.0)
        async with RawGateway(http, fake.gateway.url) as gw:
            await gw.identify(fake.token, shard=[2, 4])


async def test_a_close_with_1000_ends_the_session_and_other_codes_keep_it() -> None:
    async with fake_and_http() as (fake, http):
        sessions = {}
        for code in (1000, 4000):
            async with RawGateway(http, fake.gateway.url, close_code=code) as gw:
                sessions[code] = (await gw.identify(fake.token))["d"]["session_id"]
            await fake.wait_for(lambda: fake.gateway.connection is None, what="the socket to close")
        assert sessions[1000] not in fake.gateway.sessions and sessions[4000] in fake.gateway.sessions
        for code, expected in ((1000, {"op": 9, "d": False}), (4000, None)):
            async with RawGateway(http, fake.gateway.resume_url) as gw:
                await gw.recv()
                await gw.send({"op": 6, "d": {"token": fake.token, "session_id": sessions[code], "seq": 0}})
                answer = await gw.recv()
                if expected is not None:
                    assert answer == expected
                else:
                    assert answer["op"] == 0  # the replay begins


# -- discord.py's AutoShardedBot ------------------------------------------------------------------------------
class ShardedProbe(commands.AutoShardedBot):
    def __init__(self, **options: Any) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.shard_events: list[tuple[str, int]] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Documented hook; discord.py's default waits 5 s before every IDENTIFY but the first."""

    async def on_shard_ready(self, shard_id: int) -> None:
        self.shard_events.append(("ready", shard_id))

    async def setup_hook(self) -> None:
        @app_commands.command(name="whoami", description="which shard answers")
        async def whoami(interaction: discord.Interaction) -> None:
            assert interaction.guild is not None
            await interaction.response.send_message(f"shard {interaction.guild.shard_id}")

        self.tree.add_command(whoami)
        await self.tree.sync()


async def test_auto_sharded_bot_runs_the_recommended_shards_and_answers_each_guild_on_its_shard() -> None:
    async with FakeDiscord(guilds=three_guilds(), shard_count=2) as fake:
        async with running_client(fake, ShardedProbe()) as bot:
            assert fake.requests_to("GET /gateway/bot")  # no shard_count given: discord.py asked
            assert bot.shard_count == 2 and set(bot.shards) == {0, 1}
            assert sorted(tuple(i["shard"]) for i in fake.gateway.identifies) == [(0, 2), (1, 2)]
            assert {g.id: g.shard_id for g in bot.guilds} == {G0A: 0, G0B: 0, G1: 1}
            for guild_id, shard in ((G0A, 0), (G1, 1), (G0B, 0)):
                handle = await fake.slash("whoami", guild_id=guild_id)
                assert (await handle.reply()).content == f"shard {shard}"
                assert handle.record.shard == (shard, 2)
            assert sorted(bot.shard_events) == [("ready", 0), ("ready", 1)]
        fake.assert_clean()


async def test_a_shard_range_sees_only_its_guilds() -> None:
    async with (
        FakeDiscord(guilds=three_guilds(), shard_count=2) as fake,
        running_client(fake, ShardedProbe(shard_ids=[1], shard_count=2)) as bot,
    ):
        assert [g.id for g in bot.guilds] == [G1]
        assert fake.gateway.live_sessions_for(G0A) == [] and fake.gateway.live_sessions_for(G1)
        handle = await fake.slash("whoami", guild_id=G1)
        assert (await handle.reply()).content == "shard 1"


async def test_discord_py_stops_on_an_invalid_shard() -> None:
    async with FakeDiscord(guilds=three_guilds()) as fake:
        with pytest.raises(discord.ConnectionClosed) as closed:
            async with running_client(fake, ShardedProbe(shard_ids=[2], shard_count=2)):
                pass
        assert closed.value.code == 4010


async def test_discord_py_stops_when_sharding_is_required() -> None:
    async with FakeDiscord(guilds=three_guilds(), max_guilds_per_shard=2) as fake:
        bot = commands.Bot(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)
        with pytest.raises(discord.ConnectionClosed) as closed:
            async with running_client(fake, bot):
                pass
        assert closed.value.code == 4011


# -- several bot processes on one fake -------------------------------------------------------------------------
async def _start_shard_process(fake: FakeDiscord, label: str, shard_id: int) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fake_discord.tests.shard_process",
        fake.api_base_url, fake.gateway.url, fake.token, label, "2", str(shard_id),
        cwd=REPO, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_two_processes_with_disjoint_shards_each_answer_their_guilds() -> None:
    async with FakeDiscord(guilds=three_guilds(), shard_count=2) as fake:
        procs = [await _start_shard_process(fake, f"proc-{i}", i) for i in (0, 1)]
        try:
            await fake.wait_for(
                lambda: fake.gateway.live_shards() == {(0, 2), (1, 2)} and fake.commands.get(None),
                timeout=60,
                what="both shard processes to identify",
            )
            answers = {}
            for guild_id in (G0A, G1, G0B):
                handle = await fake.slash("whoami", guild_id=guild_id)
                answers[guild_id] = (await handle.reply(timeout=15)).content
            assert answers == {G0A: "proc-0 shard 0", G1: "proc-1 shard 1", G0B: "proc-0 shard 0"}

            procs[0].kill()  # kill -9: the socket drops without a close frame; the session stays resumable
            await procs[0].wait()
            await fake.wait_for(lambda: not fake.gateway.live_sessions_for(G0A), what="shard 0's socket to drop")
            (orphan,) = fake.gateway.sessions_for(G0A)
            assert not orphan.invalidated and orphan.connection is None
            handle = await fake.slash("whoami", guild_id=G1)  # the other process keeps serving its shard
            assert (await handle.reply(timeout=15)).content == "proc-1 shard 1"
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                _, err = await proc.communicate()
                assert b"Traceback" not in err or proc is procs[0], err.decode()
