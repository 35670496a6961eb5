"""Message edits: author only, the same limits as a create, and an edit history tests can read."""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord.ext import commands

from fake_discord import FakeDiscord, ManualClock, ids
from fake_discord.tests.rawclient import Env, error_paths


async def post(env: Env, body: dict[str, Any], channel_id: int = ids.GENERAL_CHANNEL_ID) -> int:
    status, data, _ = await env.post_message(body, channel_id=channel_id)
    assert status == 200, data
    return int(data["id"])


async def patch(env: Env, mid: int, body: Any, channel_id: int = ids.GENERAL_CHANNEL_ID) -> tuple[int, Any]:
    status, data, _ = await env.call("PATCH", f"/channels/{channel_id}/messages/{mid}", body)
    return status, data


async def test_an_edit_updates_the_message_and_is_recorded(clocked_env: Env, clock: ManualClock) -> None:
    env = clocked_env
    mid = await post(env, {"content": "Top papers (upvotes so far)", "embeds": [{"title": "1. Attention — 12 ▲"}]})
    clock.advance(6 * 3600)
    status, data = await patch(
        env, mid, {"content": "Top papers (settled)", "embeds": [{"title": "1. Attention — 80 ▲"}]}
    )
    assert status == 200 and data["content"] == "Top papers (settled)" and data["edited_timestamp"]
    (edit,) = env.fake.message(mid).edits
    assert (edit.before_content, edit.after_content) == ("Top papers (upvotes so far)", "Top papers (settled)")
    assert (
        edit.before_embeds[0]["title"] == "1. Attention — 12 ▲"
        and edit.after_embeds[0]["title"] == "1. Attention — 80 ▲"
    )
    assert edit.via == "channel" and not edit.from_loading and edit.at == clock()
    _, fetched, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{mid}")
    assert fetched["content"] == "Top papers (settled)" and fetched["id"] == str(mid)
    status, data = await patch(env, mid, {"content": "Top papers (final)"})  # embeds absent: kept
    assert status == 200 and data["embeds"][0]["title"] == "1. Attention — 80 ▲"
    assert [e.after_content for e in env.fake.message(mid).edits] == ["Top papers (settled)", "Top papers (final)"]
    assert len(env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)) == 1  # an edit never makes a message


@pytest.mark.parametrize(
    ("body", "status", "code", "paths"),
    [
        ({"content": "x" * 2001}, 400, 50035, ["content"]),
        ({"embeds": [{"title": "t"}] * 11}, 400, 50035, ["embeds"]),
        ({"embeds": [{"description": "d" * 4097}]}, 400, 50035, ["embeds.0.description"]),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, 400, 50035, ["embeds"]),
        ({"content": "", "embeds": []}, 400, 50006, []),
    ],
    ids=["content 2001", "11 embeds", "description 4097", "6001 in total", "empty"],
)
async def test_edits_obey_the_limits_of_a_create(
    env: Env, body: dict[str, Any], status: int, code: int, paths: list[str]
) -> None:
    mid = await post(env, {"content": "before"})
    got_status, data = await patch(env, mid, body)
    assert (got_status, data["code"], error_paths(data)) == (status, code, paths)
    assert env.fake.message(mid).content == "before" and env.fake.message(mid).edits == []


async def test_only_the_author_edits_and_embeds_need_embed_links(env: Env) -> None:
    theirs = env.fake.add_user_message(ids.GENERAL_CHANNEL_ID, "mine", author_id=ids.MEMBER_USER_ID)
    status, data = await patch(env, theirs.id, {"content": "bot was here"})
    assert (status, data["code"]) == (403, 50005)
    plain = await post(env, {"content": "text only"}, channel_id=ids.NO_EMBEDS_CHANNEL_ID)
    status, data = await patch(env, plain, {"embeds": [{"title": "t"}]}, channel_id=ids.NO_EMBEDS_CHANNEL_ID)
    assert (status, data["code"]) == (403, 50013)
    gone = await post(env, {"content": "soon deleted"})
    status, _, _ = await env.call("DELETE", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{gone}")
    assert status == 204
    status, data = await patch(env, gone, {"content": "y"})
    assert (status, data["code"]) == (404, 10008)


async def test_interaction_edits_are_recorded_too(env: Env) -> None:
    handle = await env.fake.slash("ping")
    await env.callback(handle, {"type": 5})
    await env.webhook("PATCH", handle, "/messages/@original", {"content": "first"})
    await env.webhook("PATCH", handle, "/messages/@original", {"content": "second"})
    edits = (await handle.original()).edits
    assert [(e.after_content, e.via, e.from_loading) for e in edits] == [
        ("first", "interaction", True),
        ("second", "interaction", False),
    ]


async def test_discord_py_message_edit_is_recorded_and_limited(fake: FakeDiscord, bot: commands.Bot) -> None:
    channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send(embed=discord.Embed(title="Daily papers", description="1. A — 3 ▲"))
    edited = await sent.edit(embed=discord.Embed(title="Daily papers", description="1. A — 40 ▲"))
    assert edited.edited_at is not None and edited.embeds[0].description == "1. A — 40 ▲"
    (edit,) = fake.message(sent.id).edits
    assert edit.before_embeds[0]["description"] == "1. A — 3 ▲" and edit.after_embeds[0]["description"] == "1. A — 40 ▲"
    with pytest.raises(discord.HTTPException) as too_long:
        await sent.edit(content="x" * 2001)
    assert too_long.value.code == 50035
    assert len(fake.message(sent.id).edits) == 1
