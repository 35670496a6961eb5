"""Run a real discord.py client against a :class:`FakeDiscord`, deterministically.

How the client is pointed at the fake (and why):

- REST: discord.py builds every URL — bot routes, interaction callbacks, webhook followups — from the class
  attribute ``discord.http.Route.BASE``. :func:`pointed_at` sets it to ``fake.api_base_url`` and restores it.
- Gateway: a plain ``Client``/``commands.Bot`` never asks ``GET /gateway/bot``; it connects to the class
  attribute ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (and goes back to it after a non-resumable
  INVALID_SESSION; resumes use ``READY.resume_gateway_url``, which the fake points at itself). There is no
  public per-client setting, so :func:`pointed_at` temporarily replaces that class attribute with
  ``yarl.URL(fake.gateway.url)``. The production runtime instead asks ``GET {api_base_url}/gateway/bot`` when
  its API base is not Discord's (CONTRACT.md); the fake serves that route, so a runtime that does so works
  with or without this patch.

Both are process-global class attributes: run one fake-backed client *per process* at a time (the normal
pytest setup). Several bot processes — e.g. one per shard range — each point themselves at the same fake:
:func:`pointed_at_urls` takes the two URLs a subprocess gets from its parent.

Sharded clients: an ``AutoShardedClient``/``AutoShardedBot`` without ``shard_count`` asks ``GET /gateway/bot``
(the fake answers ``fake.shard_count``) and connects to the URL it returns; with ``shard_count`` it uses
``DEFAULT_GATEWAY``, which :func:`pointed_at` patches. discord.py sleeps 5 s before every IDENTIFY but the
first (``Client.before_identify_hook``), so a test client running several shards should override that
documented hook. :func:`running_client` waits for the guilds of the client's own shards only.

Ready: ``on_ready`` fires ``guild_ready_timeout`` seconds (default 2.0) after the last GUILD_CREATE — discord.py
waits that long for more guilds; with default intents it does not chunk members. ``guild_ready_timeout`` is a
documented ``Client`` constructor option, so construct test clients with ``guild_ready_timeout=0.1``. For a
bot built by code that doesn't expose it, :func:`running_client` can set the same value on the client's
connection state (``client._connection.guild_ready_timeout``, a private attribute — said plainly).
:func:`running_client` then waits for ``wait_until_ready()`` *and* for every configured guild to be
available in the client's cache, so the first interaction a test sends is never racing the startup.
"""

# ruff: noqa: ASYNC109  -- ``ready_timeout`` is a deadline parameter by design
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import discord
import discord.http
import yarl
from discord.gateway import DiscordWebSocket

from .server import FakeDiscord, FakeTimeout
from .world import shard_of

__all__ = ["expected_guild_ids", "pointed_at", "pointed_at_urls", "running_client"]

_log = logging.getLogger(__name__)
ClientT = TypeVar("ClientT", bound=discord.Client)


@contextlib.contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at ``fake`` for the duration of the block."""
    with pointed_at_urls(fake.api_base_url, fake.gateway.url):
        yield


@contextlib.contextmanager
def pointed_at_urls(api_base_url: str, gateway_url: str) -> Iterator[None]:
    """:func:`pointed_at` by URL (``fake.api_base_url``, ``fake.gateway.url``), for a bot in another process."""
    old_base = discord.http.Route.BASE
    old_gateway = DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = api_base_url
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


def expected_guild_ids(fake: FakeDiscord, client: discord.Client) -> list[int]:
    """The configured guilds the client's shards receive (all of them for an unsharded client)."""
    if isinstance(client, discord.AutoShardedClient):
        count = client.shard_count or fake.shard_count
        shard_ids = set(client.shard_ids if client.shard_ids is not None else range(count))
    else:
        count = client.shard_count or 1
        shard_ids = {client.shard_id or 0}
    return [g.id for g in fake.guilds if shard_of(g.id, count) in shard_ids]


@contextlib.asynccontextmanager
async def running_client(
    fake: FakeDiscord,
    client: ClientT,
    *,
    ready_timeout: float = 15.0,
    guild_ready_timeout: float | None = None,
    token: str | None = None,
) -> AsyncIterator[ClientT]:
    """Log ``client`` into ``fake``, wait until it is ready with every guild cached, yield it, close it.

    ``client.login()`` runs first (its ``setup_hook`` — e.g. ``tree.sync()`` — completes before the gateway
    connects, as in production); errors from login (``LoginFailure`` for a wrong ``token``) propagate.
    On exit the client is closed and its connect task awaited, so nothing leaks into the next test.
    """
    if guild_ready_timeout is not None:
        client._connection.guild_ready_timeout = guild_ready_timeout
    with pointed_at(fake):
        connect_task: asyncio.Task[None] | None = None
        try:
            await client.login(token if token is not None else fake.token)
            connect_task = asyncio.create_task(client.connect(reconnect=True), name="fake-discord-client")
            await _wait_ready(fake, client, connect_task, ready_timeout)
            yield client
        finally:
            await client.close()
            if connect_task is not None:
                try:
                    await asyncio.wait_for(connect_task, 10.0)
                except (Exception, asyncio.CancelledError) as exc:  # the test's own failure matters more
                    _log.debug("client connect task ended with %r", exc)


async def _wait_ready(
    fake: FakeDiscord, client: discord.Client, connect_task: asyncio.Task[None], timeout: float
) -> None:
    async def ready() -> None:
        await client.wait_until_ready()
        for guild_id in expected_guild_ids(fake, client):
            while (cached := client.get_guild(guild_id)) is None or cached.unavailable:
                await client.wait_for("guild_available", check=lambda g, gid=guild_id: g.id == gid)

    ready_task = asyncio.create_task(ready())
    try:
        done, _ = await asyncio.wait({ready_task, connect_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not ready_task.done():
            ready_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ready_task
    if ready_task in done:
        ready_task.result()
        return
    if connect_task in done:
        connect_task.result()  # raises the connection error, if any
        raise RuntimeError("the client's connection ended before it became ready")
    raise FakeTimeout(fake._timeout_report("the client to become ready", timeout))
