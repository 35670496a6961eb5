"""Rate limits as Discord applies them: per-route buckets per major parameter and a global limit, with Discord's
headers — stepped through on a manual clock over raw HTTP, and survived by discord.py on the real clock."""

from __future__ import annotations

import asyncio

import discord
import pytest

from fake_discord import FakeDiscord, ManualClock, ids, running_client, small_guild
from fake_discord.ratelimits import DISCORD_GLOBAL_PER_SECOND, DISCORD_ROUTE_LIMITS
from fake_discord.tests.conftest import PlainBot
from fake_discord.tests.rawclient import Env

MESSAGES = "POST /channels/{channel_id}/messages"
RATE_LIMITED = "You are being rate limited."


async def test_a_route_bucket_counts_per_channel_and_resets_on_the_fakes_clock(
    clocked_env: Env, clock: ManualClock
) -> None:
    env = clocked_env
    env.fake.rate_limits.set_route(MESSAGES, 5, per=5.0)
    seen = []
    for i in range(5):
        status, _, headers = await env.post_message({"content": f"{i}"})
        assert status == 200
        seen.append(headers)
    assert [h["X-RateLimit-Remaining"] for h in seen] == ["4", "3", "2", "1", "0"]
    assert {h["X-RateLimit-Limit"] for h in seen} == {"5"} and len({h["X-RateLimit-Bucket"] for h in seen}) == 1
    assert float(seen[0]["X-RateLimit-Reset-After"]) == 5.0 and float(seen[0]["X-RateLimit-Reset"]) > 1e9
    assert all(h["Via"] for h in seen)

    status, data, headers = await env.post_message({"content": "sixth"})
    assert status == 429 and data == {
        "message": "You are being rate limited.",
        "code": 0,
        "retry_after": 5.0,
        "global": False,
    }
    assert headers["Retry-After"] == "5" and headers["X-RateLimit-Scope"] == "user" and headers["Via"]
    assert headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Global" not in headers
    assert len(env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)) == 5

    status, _, other = await env.post_message({"content": "other channel"}, channel_id=ids.NO_EMBEDS_CHANNEL_ID)
    assert status == 200 and other["X-RateLimit-Remaining"] == "4"  # its own bucket…
    assert other["X-RateLimit-Bucket"] == seen[0]["X-RateLimit-Bucket"]  # …under the same bucket hash

    clock.advance(4.9)
    status, data, _ = await env.post_message({"content": "still early"})
    assert status == 429 and data["retry_after"] == pytest.approx(0.1)
    clock.advance(0.1)
    status, _, headers = await env.post_message({"content": "next window"})
    assert status == 200 and headers["X-RateLimit-Remaining"] == "4"
    assert [h.scope for h in env.fake.rate_limits.hits] == ["user", "user"]
    assert len(env.fake.rate_limited) == 2 and env.fake.rejected == []  # a 429 is not a refusal of the request


async def test_the_global_limit_spans_routes_and_spares_interaction_endpoints(
    clocked_env: Env, clock: ManualClock
) -> None:
    env = clocked_env
    env.fake.rate_limits.set_global(3, per=1.0)
    for method, path in (("GET", "/users/@me"), ("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}"), ("GET", "/gateway")):
        assert (await env.call(method, path))[0] == 200
    status, data, headers = await env.post_message({"content": "over"})
    assert (status, data["global"], data["retry_after"]) == (429, True, 1.0)
    assert headers["X-RateLimit-Global"] == "true" and headers["X-RateLimit-Scope"] == "global"
    assert headers["Retry-After"] == "1" and headers["Via"]

    handle = await env.fake.slash("ping")  # Discord keeps interaction endpoints out of the global limit
    assert (await env.callback(handle, {"type": 5}))[0] == 200
    assert (await env.webhook("PATCH", handle, "/messages/@original", {"content": "done"}))[0] == 200

    clock.advance(1.0)
    assert (await env.post_message({"content": "next second"}))[0] == 200
    assert [h.scope for h in env.fake.rate_limits.hits] == ["global"]


async def test_every_answer_carries_via_and_limits_are_off_by_default(env: Env) -> None:
    for _ in range(60):
        status, _, headers = await env.post_message({"content": "x"})
        assert status == 200 and headers["Via"] and "X-RateLimit-Limit" not in headers
    assert env.fake.rate_limits.hits == []


async def test_discord_defaults(clocked_env: Env) -> None:
    env = clocked_env
    env.fake.rate_limits.use_discord_defaults()
    assert env.fake.rate_limits.global_limit == DISCORD_GLOBAL_PER_SECOND == 50
    assert DISCORD_ROUTE_LIMITS[MESSAGES] == (5, 5.0)
    statuses = [(await env.post_message({"content": f"{i}"}))[0] for i in range(6)]
    assert statuses == [200] * 5 + [429]
    statuses = [(await env.call("GET", "/users/@me"))[0] for _ in range(44)]  # 6 posts (one refused) + 44 = 50
    assert statuses == [200] * 44 and (await env.call("GET", "/users/@me"))[0] == 429


def _accepted_span(fake: FakeDiscord) -> float:
    accepted = [r.at for r in fake.requests_to(MESSAGES) if r.ok]
    return max(accepted) - min(accepted)


async def test_discord_py_paces_itself_by_the_route_headers() -> None:
    async with FakeDiscord() as fake, running_client(fake, PlainBot()) as bot:
        fake.rate_limits.set_route(MESSAGES, 2, per=0.3)
        channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        sent = [await channel.send(f"part {i}") for i in range(6)]
        posted = fake.channel_messages(ids.GENERAL_CHANNEL_ID)
        assert [m.id for m in posted] == [m.id for m in sent] and len(posted) == 6  # each once, in order
        assert _accepted_span(fake) >= (6 / 2 - 1) * 0.3  # three windows at two per window
        assert all(r.ok or r.rate_limited for r in fake.requests_to(MESSAGES))


async def test_discord_py_fans_out_through_the_global_limit_and_every_post_lands_once() -> None:
    guild = small_guild(ids.GUILD_ID, channels=25)
    async with FakeDiscord(guilds=[guild]) as fake, running_client(fake, PlainBot()) as bot:
        fake.rate_limits.set_global(10, per=0.25)
        channels = [bot.get_channel(c.id) for c in guild.channels]
        assert all(isinstance(c, discord.TextChannel) for c in channels)
        await asyncio.gather(*(c.send("Daily papers") for c in channels))  # type: ignore[union-attr]
        assert all(len(fake.channel_messages(c.id)) == 1 for c in guild.channels)
        assert {h.scope for h in fake.rate_limits.hits} == {"global"}  # discord.py retried every 429 (Via sent)
        assert _accepted_span(fake) >= (25 / 10 - 1) * 0.25
