"""Fixtures of the fake's own tests: raw (``env``: HTTP + an identified raw gateway) and through discord.py
(``fake`` + ``bot``: a real client logged in)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
from discord.ext import commands

from fake_discord import FakeDiscord, ManualClock, running_client
from fake_discord.tests.rawclient import Env, env_for


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    async with FakeDiscord() as fake, env_for(fake) as e:
        yield e


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def clocked_env(clock: ManualClock) -> AsyncIterator[Env]:
    async with FakeDiscord(clock=clock) as fake, env_for(fake) as e:
        yield e


class PlainBot(commands.Bot):
    """A real discord.py bot with no commands: for tests that drive REST through discord.py's own models."""

    def __init__(self) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Documented hook; discord.py's default sleeps 5 s before every re-IDENTIFY."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        server.assert_clean()


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[commands.Bot]:
    async with running_client(fake, PlainBot()) as client:
        yield client
