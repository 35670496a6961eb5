"""Threads started from a message: the type-11 channel, its permission checks, one thread per message, posting
in it — raw and through discord.py's ``Message.create_thread``."""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from discord.ext import commands

from fake_discord import FakeDiscord, Overwrite, P, ids
from fake_discord.tests.rawclient import Env, error_paths


async def bot_post(env: Env, channel_id: int = ids.GENERAL_CHANNEL_ID) -> int:
    status, data, _ = await env.post_message({"content": "Daily papers"}, channel_id=channel_id)
    assert status == 200
    return int(data["id"])


async def start_thread(env: Env, channel_id: int, message_id: int, body: Any) -> tuple[int, Any]:
    status, data, _ = await env.call("POST", f"/channels/{channel_id}/messages/{message_id}/threads", body)
    return status, data


async def test_a_thread_from_a_message_is_a_type_11_channel_with_the_messages_id(env: Env) -> None:
    mid = await bot_post(env)
    body = {"name": "Papers of 2025-01-02", "auto_archive_duration": 1440, "rate_limit_per_user": None}
    status, thread = await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, body)
    assert status == 200
    assert (thread["id"], thread["type"], thread["parent_id"]) == (str(mid), 11, str(ids.GENERAL_CHANNEL_ID))
    assert thread["name"] == "Papers of 2025-01-02" and thread["owner_id"] == str(ids.APP_ID)
    assert thread["guild_id"] == str(ids.GUILD_ID) and thread["thread_metadata"]["auto_archive_duration"] == 1440
    created = await env.gateway.recv_until("THREAD_CREATE")
    assert created["d"]["id"] == str(mid) and created["d"]["newly_created"] is True
    _, message, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{mid}")
    assert message["thread"]["id"] == str(mid) and message["flags"] & (1 << 5)
    recorded = env.fake.thread_for(mid)
    assert recorded is not None and recorded.parent_id == ids.GENERAL_CHANNEL_ID
    assert env.fake.threads(ids.GENERAL_CHANNEL_ID) == [recorded] and env.fake.threads(ids.HIDDEN_CHANNEL_ID) == []


async def test_a_message_starts_only_one_thread(env: Env) -> None:
    mid = await bot_post(env)
    assert (await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "one"}))[0] == 200
    status, data = await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "two"})
    assert (status, data["code"]) == (400, 160004)
    assert len(env.fake.threads()) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({}, "name"),
        ({"name": "ok", "auto_archive_duration": 30}, "auto_archive_duration"),
        ({"name": "ok", "rate_limit_per_user": 21601}, "rate_limit_per_user"),
    ],
)
async def test_thread_body_limits(env: Env, body: dict[str, Any], path: str) -> None:
    mid = await bot_post(env)
    status, data = await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, body)
    assert (status, data["code"], error_paths(data)) == (400, 50035, [path])
    at_limit = {"name": "x" * 100, "auto_archive_duration": 10080, "rate_limit_per_user": 21600}
    assert (await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, at_limit))[0] == 200


async def test_starting_a_thread_needs_create_public_threads_and_view_channel(env: Env) -> None:
    mid = await bot_post(env)
    await env.fake.set_overwrite(
        ids.GENERAL_CHANNEL_ID, Overwrite(id=ids.BOT_ROLE_ID, deny=int(P.CREATE_PUBLIC_THREADS))
    )
    status, data = await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "t"})
    assert (status, data["code"]) == (403, 50013)
    await env.fake.set_overwrite(ids.GENERAL_CHANNEL_ID, Overwrite(id=ids.BOT_ROLE_ID))  # neutral again
    hidden = env.fake.add_user_message(ids.HIDDEN_CHANNEL_ID, "secret", author_id=ids.ADMIN_USER_ID)
    status, data = await start_thread(env, ids.HIDDEN_CHANNEL_ID, hidden.id, {"name": "t"})
    assert (status, data["code"]) == (403, 50001)
    status, data = await start_thread(env, ids.GENERAL_CHANNEL_ID, 1_999_000_000_000_000_000, {"name": "t"})
    assert (status, data["code"]) == (404, 10008)
    status, data = await start_thread(env, ids.VOICE_CHANNEL_ID, mid, {"name": "t"})
    assert (status, data["code"]) == (400, 50024)
    assert (await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "t"}))[0] == 200


async def test_a_thread_in_an_announcement_channel_is_type_10(env: Env) -> None:
    seed = env.fake.add_user_message(ids.ANNOUNCEMENTS_CHANNEL_ID, "news", author_id=ids.ADMIN_USER_ID)
    env.fake.guilds[0].channel(ids.ANNOUNCEMENTS_CHANNEL_ID).type = 5  # type: ignore[union-attr]
    status, thread = await start_thread(env, ids.ANNOUNCEMENTS_CHANNEL_ID, seed.id, {"name": "discuss"})
    assert status == 200 and thread["type"] == 10


async def test_posting_in_a_thread_needs_send_messages_in_threads_from_the_parent(env: Env) -> None:
    mid = await bot_post(env)
    await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "discussion"})
    status, posted, _ = await env.post_message({"content": "What do you think?"}, channel_id=mid)
    assert status == 200 and posted["channel_id"] == str(mid)
    assert [m.content for m in env.fake.channel_messages(mid)] == ["What do you think?"]
    _, thread, _ = await env.call("GET", f"/channels/{mid}")
    assert thread["message_count"] == 1 and thread["last_message_id"] == posted["id"]

    deny = Overwrite(id=ids.BOT_ROLE_ID, deny=int(P.SEND_MESSAGES_IN_THREADS))
    await env.fake.set_overwrite(ids.GENERAL_CHANNEL_ID, deny)
    status, data, _ = await env.post_message({"content": "again"}, channel_id=mid)
    assert (status, data["code"]) == (403, 50013)
    assert (await env.post_message({"content": "parent still fine"}))[0] == 200

    await env.fake.set_overwrite(ids.GENERAL_CHANNEL_ID, Overwrite(id=ids.BOT_ROLE_ID, deny=int(P.VIEW_CHANNEL)))
    status, data, _ = await env.post_message({"content": "again"}, channel_id=mid)
    assert (status, data["code"]) == (403, 50001)


async def test_an_archived_thread_refuses_posts(env: Env) -> None:
    mid = await bot_post(env)
    await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "old"})
    thread = env.fake.thread_for(mid)
    assert thread is not None
    thread.archived = True
    await env.fake.update_channel(mid)
    assert (await env.gateway.recv_until("THREAD_UPDATE"))["d"]["thread_metadata"]["archived"] is True
    status, data, _ = await env.post_message({"content": "late"}, channel_id=mid)
    assert (status, data["code"]) == (400, 50083)


async def test_discord_py_creates_a_thread_from_its_post_and_posts_in_it(fake: FakeDiscord, bot: commands.Bot) -> None:
    created: asyncio.Queue[discord.Thread] = asyncio.Queue()

    async def on_thread_create(thread: discord.Thread) -> None:
        created.put_nowait(thread)

    bot.add_listener(on_thread_create)
    channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    post = await channel.send(embed=discord.Embed(title="Daily papers"))
    thread = await post.create_thread(name="2025-01-02", auto_archive_duration=1440)
    assert isinstance(thread, discord.Thread) and thread.id == post.id and thread.parent_id == channel.id
    cached = await asyncio.wait_for(created.get(), 5)
    assert cached.id == thread.id and bot.get_channel(thread.id) is cached
    reply = await thread.send("Discuss here")
    assert fake.channel_messages(thread.id)[0].id == reply.id
    with pytest.raises(discord.HTTPException) as twice:
        await post.create_thread(name="again")
    assert twice.value.code == 160004


async def test_discord_py_sees_a_removed_thread_permission(fake: FakeDiscord, bot: commands.Bot) -> None:
    updated = asyncio.Event()

    async def on_guild_channel_update(before: discord.abc.GuildChannel, after: discord.abc.GuildChannel) -> None:
        updated.set()

    bot.add_listener(on_guild_channel_update)
    channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel) and channel.permissions_for(channel.guild.me).create_public_threads
    deny = Overwrite(id=ids.BOT_ROLE_ID, deny=int(P.CREATE_PUBLIC_THREADS))
    await fake.set_overwrite(ids.GENERAL_CHANNEL_ID, deny)
    await asyncio.wait_for(updated.wait(), 5)
    assert not channel.permissions_for(channel.guild.me).create_public_threads  # the client's cache agrees
    post = await channel.send("Daily papers")  # the post itself still lands
    with pytest.raises(discord.Forbidden) as refused:
        await post.create_thread(name="2025-01-02")
    assert refused.value.code == 50013
    assert fake.channel_messages(ids.GENERAL_CHANNEL_ID)[-1].id == post.id and fake.threads() == []


async def test_a_thread_takes_its_parents_effective_permissions_even_when_the_parent_follows_its_category(
    env: Env,
) -> None:
    mid = await bot_post(env)  # #general has no overwrites of its own: it is synced with its category
    await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "discussion"})
    deny = Overwrite(id=ids.BOT_ROLE_ID, deny=int(P.SEND_MESSAGES_IN_THREADS))
    await env.fake.set_overwrite(ids.CATEGORY_CHANNEL_ID, deny)
    status, data, _ = await env.post_message({"content": "in the thread"}, channel_id=mid)
    assert (status, data["code"]) == (403, 50013)


async def test_deleting_a_thread_tells_the_client_thread_delete(env: Env) -> None:
    mid = await bot_post(env)
    await start_thread(env, ids.GENERAL_CHANNEL_ID, mid, {"name": "short-lived"})
    await env.fake.delete_channel(mid)
    assert (await env.gateway.recv_until("THREAD_DELETE"))["d"]["id"] == str(mid)
    status, data, _ = await env.post_message({"content": "gone"}, channel_id=mid)
    assert (status, data["code"]) == (404, 10003)
