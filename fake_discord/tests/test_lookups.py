"""Reads a scaled-out bot relies on: one message by id (reconciling from recorded ids, not a history window),
the guild's roles, and its channel list (threads excluded, as on Discord)."""

from __future__ import annotations

import asyncio

import discord
import pytest
from discord.ext import commands

from fake_discord import FakeDiscord, Overwrite, P, Role, ids
from fake_discord.tests.rawclient import Env


async def test_a_message_is_fetched_by_id_in_its_own_channel_only(env: Env) -> None:
    for i in range(150):  # far beyond one page of history: fetching by id does not care
        env.fake.add_user_message(ids.GENERAL_CHANNEL_ID, f"chatter {i}", author_id=ids.MEMBER_USER_ID)
    status, part, _ = await env.post_message({"content": "Daily papers, part 1"})
    mid = part["id"]
    for i in range(150):
        env.fake.add_user_message(ids.GENERAL_CHANNEL_ID, f"more {i}", author_id=ids.MEMBER_USER_ID)
    status, fetched, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{mid}")
    assert status == 200 and fetched["content"] == "Daily papers, part 1" and fetched["author"]["id"] == str(ids.APP_ID)
    status, data, _ = await env.call("GET", f"/channels/{ids.NO_EMBEDS_CHANNEL_ID}/messages/{mid}")
    assert (status, data["code"]) == (404, 10008)
    assert (await env.call("DELETE", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{mid}"))[0] == 204
    status, data, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{mid}")
    assert (status, data["code"]) == (404, 10008)


async def test_fetching_a_message_needs_view_channel_and_read_message_history(env: Env) -> None:
    status, part, _ = await env.post_message({"content": "part"})
    await env.fake.set_overwrite(
        ids.GENERAL_CHANNEL_ID, Overwrite(id=ids.BOT_ROLE_ID, deny=int(P.READ_MESSAGE_HISTORY))
    )
    status, data, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{part['id']}")
    assert (status, data["code"]) == (403, 50013)
    status, data, _ = await env.call("GET", f"/channels/{ids.HIDDEN_CHANNEL_ID}/messages/1")
    assert (status, data["code"]) == (403, 50001)


async def test_an_ephemeral_response_is_not_a_channel_message(env: Env) -> None:
    handle = await env.fake.slash("ping")
    await env.callback(handle, {"type": 4, "data": {"content": "only you", "flags": 64}})
    hidden = await handle.original()
    status, data, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{hidden.id}")
    assert (status, data["code"]) == (404, 10008)


async def test_roles_and_channels_of_a_guild(env: Env) -> None:
    await env.fake.add_role(Role(1_500_000_000_000_000_020, "vision", mentionable=True))
    status, roles, _ = await env.call("GET", f"/guilds/{ids.GUILD_ID}/roles")
    assert status == 200 and roles[0]["name"] == "@everyone" and roles[0]["id"] == str(ids.GUILD_ID)
    by_name = {r["name"]: r for r in roles}
    assert by_name["vision"]["mentionable"] is True and by_name["Moderator"]["mentionable"] is False
    assert (await env.gateway.recv_until("GUILD_ROLE_CREATE"))["d"]["role"]["name"] == "vision"

    _, post, _ = await env.post_message({"content": "papers"})
    await env.call("POST", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{post['id']}/threads", {"name": "t"})
    status, channels, _ = await env.call("GET", f"/guilds/{ids.GUILD_ID}/channels")
    assert status == 200 and post["id"] not in {c["id"] for c in channels}
    assert (await env.call("GET", f"/channels/{post['id']}"))[1]["type"] == 11


async def test_discord_py_fetches_by_id_and_sees_new_roles(fake: FakeDiscord, bot: commands.Bot) -> None:
    channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("Daily papers, part 1")
    assert (await channel.fetch_message(sent.id)).content == "Daily papers, part 1"
    await sent.delete()
    with pytest.raises(discord.NotFound) as gone:
        await channel.fetch_message(sent.id)
    assert gone.value.code == 10008

    created = asyncio.Event()

    async def on_guild_role_create(role: discord.Role) -> None:
        created.set()

    bot.add_listener(on_guild_role_create)
    role = await fake.add_role(Role(1_500_000_000_000_000_021, "nlp", mentionable=True))
    await asyncio.wait_for(created.wait(), 5)
    cached = channel.guild.get_role(role.id)
    assert cached is not None and cached.mentionable
    assert [r.id for r in await channel.guild.fetch_roles()].count(role.id) == 1
