"""A loopback fake Discord (REST under ``/api/v10`` + the gateway) for tests with the real discord.py client.

``FakeDiscord`` is an aiohttp server on 127.0.0.1 (random port). A real ``discord.Client``/``commands.Bot`` —
or paperbot's runtime, in this process or in subprocesses — logs in, syncs commands, receives interactions and
events, posts, edits, DMs, starts threads and gets rate limited; the fake answers as Discord does (status,
JSON error code and path, headers) and records everything for assertions. Dev-only: not installed by
``pip install .`` and not in the Docker image.

Quick start (pytest-asyncio, ``asyncio_mode=auto``)::

    from fake_discord import FakeDiscord, ids, running_client

    async def test_search_replies():
        async with FakeDiscord() as fake:                      # default_guild(): stable ids in ``ids``
            async with running_client(fake, MyBot(guild_ready_timeout=0.1)):
                h = await fake.slash("paper search", query="attention", user_id=ids.MEMBER_USER_ID)
                msg = await h.original()
                assert msg.pings is not None and msg.pings.nobody   # paper text pinged nobody
            fake.assert_clean()

Sharded: ``FakeDiscord(guilds=[small_guild(guild_id_on_shard(s, 2)) for s in (0, 1)], shard_count=2)``; each
guild's events (interactions included) go only to the sessions of its shard, from any number of processes.
DMs: ``fake.dms.close(user_id)`` → 50007. Faults: ``fake.fail_after_create(channel_id, status=500)``. Rate
limits: ``fake.rate_limits.set_global(50)`` / ``set_route(...)``. Records: ``msg.pings``, ``msg.edits``,
``fake.threads()``, ``fake.dm_messages(user_id)``, ``fake.nonces.replays``, ``fake.requests``.

``fake_discord/README.md`` is the full reference: what it models (with the tests that prove each part), every
knob, what it records, every Discord limit and error code it enforces, and what it does not model.
"""

from . import world as ids
from .clock import ManualClock
from .errors import DiscordError, FormErrors
from .harness import pointed_at, pointed_at_urls, running_client
from .interactions import InteractionHandle
from .mentions import Mentions
from .messages import MessageEdit, StoredMessage
from .permissions import ALL_PERMISSIONS, DEFAULT_EVERYONE, P
from .records import InteractionRecord, InteractionResponse, RecordedRequest
from .server import FakeDiscord, FakeTimeout, SessionStartLimit
from .world import (
    Channel,
    ChannelType,
    Guild,
    Member,
    Overwrite,
    Role,
    User,
    default_guild,
    guild_id_on_shard,
    shard_of,
    small_guild,
)

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_EVERYONE",
    "Channel",
    "ChannelType",
    "DiscordError",
    "FakeDiscord",
    "FakeTimeout",
    "FormErrors",
    "Guild",
    "InteractionHandle",
    "InteractionRecord",
    "InteractionResponse",
    "ManualClock",
    "Member",
    "Mentions",
    "MessageEdit",
    "Overwrite",
    "P",
    "RecordedRequest",
    "Role",
    "SessionStartLimit",
    "StoredMessage",
    "User",
    "default_guild",
    "guild_id_on_shard",
    "ids",
    "pointed_at",
    "pointed_at_urls",
    "running_client",
    "shard_of",
    "small_guild",
]
