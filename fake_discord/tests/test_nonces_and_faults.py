"""Exactly-once message creates: ``nonce`` + ``enforce_nonce`` replays, and the fault that makes them matter — a
create carried out, then answered with a 5xx that discord.py retries by itself."""

from __future__ import annotations

import hashlib

import discord
import pytest
from discord.ext import commands
from discord.http import handle_message_parameters

from fake_discord import FakeDiscord, ManualClock, ids
from fake_discord.tests.rawclient import Env, env_for, error_paths


async def test_an_enforced_nonce_returns_the_first_message_instead_of_a_second(env: Env) -> None:
    body = {"content": "Daily papers, part 1", "nonce": "digest:2025-01-02:1", "enforce_nonce": True}
    status1, first, _ = await env.post_message(body)
    status2, again, _ = await env.post_message(body | {"content": "a different body changes nothing"})
    assert (status1, status2) == (200, 200) and again["id"] == first["id"] and again["nonce"] == "digest:2025-01-02:1"
    assert [m.content for m in env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)] == ["Daily papers, part 1"]
    (replay,) = env.fake.nonces.replays
    assert (replay.channel_id, replay.nonce, replay.message_id) == (
        ids.GENERAL_CHANNEL_ID,
        body["nonce"],
        int(first["id"]),
    )
    creates = env.fake.requests_to("POST /channels/{channel_id}/messages")
    assert [(r.message_id, r.nonce_replay) for r in creates] == [(int(first["id"]), False), (int(first["id"]), True)]
    _, fetched, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{first['id']}")
    _, history, _ = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages")
    assert "nonce" not in fetched and "nonce" not in history[0]  # only the create's answer carries it


async def test_a_nonce_without_enforce_nonce_is_only_echoed(env: Env) -> None:
    for _ in range(2):
        status, data, _ = await env.post_message({"content": "x", "nonce": 42})
        assert status == 200 and data["nonce"] == 42
    assert len(env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)) == 2 and env.fake.nonces.replays == []


async def test_a_nonce_is_remembered_for_the_window_only(clocked_env: Env, clock: ManualClock) -> None:
    body = {"content": "x", "nonce": "n1", "enforce_nonce": True}
    first = (await clocked_env.post_message(body))[1]["id"]
    clock.advance(clocked_env.fake.nonces.window - 1)
    assert (await clocked_env.post_message(body))[1]["id"] == first
    clock.advance(2)
    assert (await clocked_env.post_message(body))[1]["id"] != first


async def test_nonce_scope_per_channel_or_per_author() -> None:
    body = {"content": "x", "nonce": "same", "enforce_nonce": True}
    for scope, shared in (("channel", False), ("author", True)):
        async with FakeDiscord(nonce_scope=scope) as fake, env_for(fake) as env:
            general = (await env.post_message(body))[1]
            other = (await env.post_message(body, channel_id=ids.NO_EMBEDS_CHANNEL_ID))[1]
            assert (general["id"] == other["id"]) is shared, scope


@pytest.mark.parametrize(("nonce", "ok"), [("n" * 25, True), ("n" * 26, False), (2**63, True), (True, False)])
async def test_nonce_limits(env: Env, nonce: object, ok: bool) -> None:
    status, data, _ = await env.post_message({"content": "x", "nonce": nonce, "enforce_nonce": True})
    assert status == (200 if ok else 400)
    if not ok:
        assert data["code"] == 50035 and error_paths(data) == ["nonce"]


async def test_a_fault_after_create_leaves_the_message_and_answers_an_error(env: Env) -> None:
    env.fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=503)
    status, data, _ = await env.post_message({"content": "landed anyway"})
    assert (status, data["message"]) == (503, "503: Service Unavailable")
    (stored,) = env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)
    (rec,) = env.fake.requests_to("POST /channels/*/messages")
    assert stored.content == "landed anyway" and rec.scripted and rec.message_id == stored.id
    assert env.fake.rejected == []  # scripted, not a refusal
    status, _, _ = await env.post_message({"content": "next one is normal"})
    assert status == 200


async def test_a_fault_after_create_is_per_channel_and_counted(env: Env) -> None:
    env.fake.fail_after_create(ids.NO_EMBEDS_CHANNEL_ID, status=500, times=2)
    assert (await env.post_message({"content": "elsewhere"}))[0] == 200
    statuses = [(await env.post_message({"content": f"{i}"}, channel_id=ids.NO_EMBEDS_CHANNEL_ID))[0] for i in range(3)]
    assert statuses == [500, 500, 200]
    assert len(env.fake.channel_messages(ids.NO_EMBEDS_CHANNEL_ID)) == 3


async def test_a_retry_with_the_same_nonce_after_a_fault_returns_the_created_message(env: Env) -> None:
    env.fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=502)
    body = {"content": "part 1", "nonce": "digest:1", "enforce_nonce": True}
    assert (await env.post_message(body))[0] == 502
    status, data, _ = await env.post_message(body)
    assert status == 200 and [m.id for m in env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)] == [int(data["id"])]


# -- discord.py retries 500/502/504 on POST by itself ---------------------------------------------------------
# Fact (discord.py 2.7, ``abc.Messageable.send``): when no nonce is given, send() makes a random 64-bit one and
# sends it with ``enforce_nonce``. So one send() survives its own retry; what doubles is a client that sends
# no nonce, or a *second* send() of the same post (a restart, another process) — each with a fresh random nonce.


def _general(bot: commands.Bot) -> discord.TextChannel:
    channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_without_a_nonce_discord_pys_own_retry_double_posts(fake: FakeDiscord, bot: commands.Bot) -> None:
    fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=500)
    with handle_message_parameters(content="Daily papers, part 1") as params:  # no nonce at all
        assert params.payload is not None and "nonce" not in params.payload
        answer = await bot.http.send_message(ids.GENERAL_CHANNEL_ID, params=params)  # sleeps 1 s, POSTs again
    posted = fake.channel_messages(ids.GENERAL_CHANNEL_ID)
    assert [m.content for m in posted] == ["Daily papers, part 1"] * 2  # the double post
    assert int(answer["id"]) == posted[1].id  # the caller only ever hears of the second
    assert [r.status for r in fake.requests_to("POST /channels/*/messages")] == [500, 200]


async def test_one_send_survives_its_own_retry_through_its_random_nonce(fake: FakeDiscord, bot: commands.Bot) -> None:
    fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=504)
    sent = await _general(bot).send("Daily papers, part 1")
    (posted,) = fake.channel_messages(ids.GENERAL_CHANNEL_ID)
    creates = fake.requests_to("POST /channels/{channel_id}/messages")
    assert sent.id == posted.id and [(r.status, r.nonce_replay) for r in creates] == [(504, False), (200, True)]
    assert creates[0].json["enforce_nonce"] is True and creates[0].json["nonce"] == creates[1].json["nonce"]


async def test_a_second_send_of_a_post_doubles_unless_its_nonce_is_derived_from_the_post(
    fake: FakeDiscord, bot: commands.Bot
) -> None:
    channel = _general(bot)
    fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=503)  # not retried: send() raises, the post exists
    with pytest.raises(discord.DiscordServerError):
        await channel.send("Daily papers, part 1")
    await channel.send("Daily papers, part 1")  # the caller tries again: a new random nonce, a second message
    assert len(fake.channel_messages(ids.GENERAL_CHANNEL_ID)) == 2

    fake.reset()
    fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=503)
    # Derived from (channel, local date, part), the same on every try — and hashed: a nonce is <= 25 characters.
    nonce = hashlib.blake2b(f"{channel.id}:2025-01-02:1".encode(), digest_size=12).hexdigest()
    with pytest.raises(discord.DiscordServerError):
        await channel.send("Daily papers, part 1", nonce=nonce)
    again = await channel.send("Daily papers, part 1", nonce=nonce)
    (posted,) = fake.channel_messages(ids.GENERAL_CHANNEL_ID)
    assert again.id == posted.id and posted.nonce == nonce and len(fake.nonces.replays) == 1


@pytest.mark.parametrize("status", [500, 502])
async def test_a_derived_nonce_posts_once_through_discord_pys_retry(
    fake: FakeDiscord, bot: commands.Bot, status: int
) -> None:
    fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=status)
    sent = await _general(bot).send("Daily papers, part 1", nonce="digest:2025-01-02:1")
    (posted,) = fake.channel_messages(ids.GENERAL_CHANNEL_ID)
    assert sent.id == posted.id and posted.nonce == "digest:2025-01-02:1"
