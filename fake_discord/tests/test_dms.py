"""Direct messages: opening a DM channel, sending to it, and 50007 for users who don't take DMs from the bot."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord.ext import commands

from fake_discord import FakeDiscord, ids
from fake_discord.tests.rawclient import Env


async def open_dm(env: Env, user_id: int | str) -> tuple[int, Any]:
    status, data, _ = await env.call("POST", "/users/@me/channels", {"recipient_id": str(user_id)})
    return status, data


async def test_opening_a_dm_returns_the_same_type_1_channel_every_time(env: Env) -> None:
    status, channel = await open_dm(env, ids.MEMBER_USER_ID)
    assert status == 200 and channel["type"] == 1 and "guild_id" not in channel
    assert [r["id"] for r in channel["recipients"]] == [str(ids.MEMBER_USER_ID)]
    assert (await open_dm(env, ids.MEMBER_USER_ID))[1]["id"] == channel["id"]
    assert (await open_dm(env, ids.OTHER_USER_ID))[1]["id"] != channel["id"]
    status, fetched, _ = await env.call("GET", f"/channels/{channel['id']}")
    assert status == 200 and fetched["type"] == 1
    assert env.fake.dms.channel_with(ids.MEMBER_USER_ID) is not None


@pytest.mark.parametrize("recipient", ["1300000000000000999", "not-a-user", None])
async def test_opening_a_dm_with_an_unknown_user_is_50033(env: Env, recipient: str | None) -> None:
    status, data, _ = await env.call("POST", "/users/@me/channels", {"recipient_id": recipient})
    assert (status, data["code"]) == (400, 50033)


async def test_a_dm_is_recorded_for_the_recipient(env: Env) -> None:
    _, channel = await open_dm(env, ids.MEMBER_USER_ID)
    text = f"@everyone <@&{ids.MODERATOR_ROLE_ID}> <@{ids.MEMBER_USER_ID}> new papers for you"
    status, message, _ = await env.post_message({"content": text}, channel_id=int(channel["id"]))
    assert status == 200 and message["channel_id"] == channel["id"] and "guild_id" not in message
    (stored,) = env.fake.dm_messages(ids.MEMBER_USER_ID)
    assert stored.content == text and stored.guild_id is None
    assert stored.pings is not None  # a DM has no roles and no @everyone: only the user mention pings
    assert (stored.pings.everyone, stored.pings.roles, stored.pings.users) == (False, (), (ids.MEMBER_USER_ID,))
    assert env.fake.dm_messages(ids.OTHER_USER_ID) == []


async def test_a_user_with_dms_closed_gets_50007_until_they_open_them(env: Env) -> None:
    _, channel = await open_dm(env, ids.MEMBER_USER_ID)
    env.fake.dms.close(ids.MEMBER_USER_ID)
    _, again = await open_dm(env, ids.MEMBER_USER_ID)  # opening still works; sending is what fails
    assert again["id"] == channel["id"]
    status, data, _ = await env.post_message({"content": "hi"}, channel_id=int(channel["id"]))
    assert (status, data["code"], data["message"]) == (403, 50007, "Cannot send messages to this user")
    assert env.fake.dm_messages(ids.MEMBER_USER_ID) == []
    env.fake.dms.open(ids.MEMBER_USER_ID)
    status, _, _ = await env.post_message({"content": "hi"}, channel_id=int(channel["id"]))
    assert status == 200 and len(env.fake.dm_messages(ids.MEMBER_USER_ID)) == 1


async def test_a_user_who_left_every_shared_server_gets_50007(env: Env) -> None:
    _, channel = await open_dm(env, ids.OTHER_USER_ID)
    guild = env.fake.guilds[0]
    guild.members = [m for m in guild.members if m.id != ids.OTHER_USER_ID]
    status, data, _ = await env.post_message({"content": "hi"}, channel_id=int(channel["id"]))
    assert (status, data["code"]) == (403, 50007)


async def test_dm_bodies_obey_the_message_limits(env: Env) -> None:
    _, channel = await open_dm(env, ids.MEMBER_USER_ID)
    status, data, _ = await env.post_message({"content": "x" * 2001}, channel_id=int(channel["id"]))
    assert (status, data["code"]) == (400, 50035)


async def test_discord_py_user_send_reaches_the_dm_and_closed_dms_raise_forbidden(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    member = await bot.fetch_user(ids.MEMBER_USER_ID)
    sent = await member.send(embed=discord.Embed(title="Your papers", description="1. Attention"))
    assert isinstance(sent.channel, discord.DMChannel) and sent.channel.recipient == member
    (stored,) = fake.dm_messages(ids.MEMBER_USER_ID)
    assert stored.id == sent.id and stored.embeds[0]["title"] == "Your papers"

    fake.dms.close(ids.OTHER_USER_ID)
    other = await bot.fetch_user(ids.OTHER_USER_ID)
    with pytest.raises(discord.Forbidden) as refused:
        await other.send("new papers")
    assert refused.value.code == 50007
    assert fake.dm_messages(ids.OTHER_USER_ID) == []
    assert [r.code for r in fake.rejected] == [50007]
