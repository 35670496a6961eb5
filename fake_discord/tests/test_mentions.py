"""Who a message pings: content mentions filtered by ``allowed_mentions`` (Discord's defaults when absent), role
mentionability, MENTION_EVERYONE, replies, embeds, edits and ephemeral messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord.ext import commands

from fake_discord import FakeDiscord, Mentions, P, Role, default_guild, ids, running_client
from fake_discord.tests.conftest import PlainBot
from fake_discord.tests.rawclient import Env, env_for, error_paths

PAPERS_ROLE_ID = 1_500_000_000_000_000_010  # mentionable
VISION_ROLE_ID = 1_500_000_000_000_000_011  # mentionable
UNKNOWN_ROLE_ID = 1_500_000_000_000_000_099  # no such role


def ping_world(*, bot_may_mention_everyone: bool) -> FakeDiscord:
    """The default guild plus two mentionable topic roles; the bot has MENTION_EVERYONE or not."""
    guild = default_guild()
    guild.roles += [
        Role(PAPERS_ROLE_ID, "papers", mentionable=True),
        Role(VISION_ROLE_ID, "vision", mentionable=True),
    ]
    bot_role = guild.role(ids.BOT_ROLE_ID)
    assert bot_role is not None
    if not bot_may_mention_everyone:
        bot_role.permissions &= ~int(P.MENTION_EVERYONE)
    return FakeDiscord(guilds=[guild])


@pytest.fixture
async def strict_env() -> AsyncIterator[Env]:
    """The bot may *not* mention everyone: non-mentionable roles and @everyone never ping."""
    async with ping_world(bot_may_mention_everyone=False) as fake, env_for(fake) as env:
        yield env


@pytest.fixture
async def admin_env() -> AsyncIterator[Env]:
    """The bot has MENTION_EVERYONE (as the default world gives it): every role and @everyone may ping."""
    async with ping_world(bot_may_mention_everyone=True) as fake, env_for(fake) as env:
        yield env


BOTH_USERS = (ids.MEMBER_USER_ID, ids.OTHER_USER_ID)
#: every role in TEXT that exists, in content order (the unknown id never pings)
PINGABLE_ROLES = (PAPERS_ROLE_ID, VISION_ROLE_ID, ids.MODERATOR_ROLE_ID)
TEXT = (
    f"<@&{PAPERS_ROLE_ID}> new papers: <@&{VISION_ROLE_ID}> <@&{ids.MODERATOR_ROLE_ID}> <@&{UNKNOWN_ROLE_ID}> "
    f"<@{ids.MEMBER_USER_ID}> <@!{ids.OTHER_USER_ID}> @everyone @here"
)


async def pings_of(env: Env, body: dict[str, Any]) -> Mentions:
    status, data, _ = await env.post_message(body)
    assert status == 200, data
    pings = env.fake.message(int(data["id"])).pings
    assert pings is not None
    return pings


@pytest.mark.parametrize(
    ("allowed", "expected"),
    [
        (None, Mentions(everyone=True, here=True, users=BOTH_USERS, roles=PINGABLE_ROLES)),
        ({"parse": []}, Mentions()),
        ({"parse": [], "roles": [str(PAPERS_ROLE_ID)]}, Mentions(roles=(PAPERS_ROLE_ID,))),
        ({"parse": ["users"]}, Mentions(users=BOTH_USERS)),
        ({"parse": ["everyone"]}, Mentions(everyone=True, here=True)),
        (
            {"roles": [str(ids.MODERATOR_ROLE_ID)], "users": [str(ids.OTHER_USER_ID)]},
            Mentions(users=(ids.OTHER_USER_ID,), roles=(ids.MODERATOR_ROLE_ID,)),
        ),
    ],
    ids=["absent: Discord parses all", "none", "one role", "users only", "everyone only", "listed ids"],
)
async def test_allowed_mentions_decide_exactly_who_is_pinged(
    admin_env: Env, allowed: dict[str, Any] | None, expected: Mentions
) -> None:
    body: dict[str, Any] = {"content": TEXT} | ({} if allowed is None else {"allowed_mentions": allowed})
    assert await pings_of(admin_env, body) == expected


async def test_without_mention_everyone_only_mentionable_roles_ping(strict_env: Env) -> None:
    everything = await pings_of(strict_env, {"content": TEXT})
    assert everything.roles == (PAPERS_ROLE_ID, VISION_ROLE_ID)  # not the Moderator role, not an unknown id
    assert not everything.everyone and not everything.here
    allowed = {"parse": [], "roles": [str(ids.MODERATOR_ROLE_ID), str(PAPERS_ROLE_ID)]}
    assert (await pings_of(strict_env, {"content": TEXT, "allowed_mentions": allowed})).roles == (PAPERS_ROLE_ID,)
    assert (await pings_of(strict_env, {"content": "@everyone", "allowed_mentions": {"parse": ["everyone"]}})).nobody


async def test_mentions_in_embeds_never_ping(admin_env: Env) -> None:
    body = {"content": "Today's papers", "embeds": [{"title": f"<@&{PAPERS_ROLE_ID}>", "description": "@everyone"}]}
    assert (await pings_of(admin_env, body)).nobody


async def test_a_reply_pings_its_author_unless_allowed_mentions_says_otherwise(admin_env: Env) -> None:
    question = admin_env.fake.add_user_message(ids.GENERAL_CHANNEL_ID, "any news?", author_id=ids.MEMBER_USER_ID)
    ref = {"message_id": str(question.id)}
    assert (await pings_of(admin_env, {"content": "yes", "message_reference": ref})).users == (ids.MEMBER_USER_ID,)
    quiet = {"content": "yes", "message_reference": ref, "allowed_mentions": {"parse": []}}
    assert (await pings_of(admin_env, quiet)).nobody
    loud = {"content": "yes", "message_reference": ref, "allowed_mentions": {"parse": [], "replied_user": True}}
    assert (await pings_of(admin_env, loud)).users == (ids.MEMBER_USER_ID,)


async def test_an_edit_changes_the_mentions_but_pings_nobody_new(admin_env: Env) -> None:
    status, data, _ = await admin_env.post_message({"content": "papers", "allowed_mentions": {"parse": []}})
    mid = data["id"]
    edit = {"content": f"papers <@&{PAPERS_ROLE_ID}>", "allowed_mentions": {"parse": ["roles"]}}
    status, edited, _ = await admin_env.call("PATCH", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{mid}", edit)
    assert status == 200 and edited["mention_roles"] == [str(PAPERS_ROLE_ID)]
    stored = admin_env.fake.message(int(mid))
    assert stored.mention_roles == [PAPERS_ROLE_ID] and stored.pings == Mentions()


async def test_a_deferred_response_pings_when_its_content_arrives_and_ephemeral_pings_nobody(admin_env: Env) -> None:
    handle = await admin_env.fake.slash("ping")
    await admin_env.callback(handle, {"type": 5})
    followup = {
        "content": f"<@&{PAPERS_ROLE_ID}> <@&{VISION_ROLE_ID}>",
        "allowed_mentions": {"roles": [str(VISION_ROLE_ID)]},
    }
    status, _, _ = await admin_env.webhook("POST", handle, body=followup)
    assert status == 204
    original = await handle.original()
    assert original.pings == Mentions(roles=(VISION_ROLE_ID,))

    secret = await admin_env.fake.slash("ping")
    await admin_env.callback(secret, {"type": 4, "data": {"content": "@everyone", "flags": 64}})
    assert (await secret.original()).pings == Mentions()


@pytest.mark.parametrize(
    ("allowed", "path"),
    [
        ({"parse": ["roles"], "roles": [str(PAPERS_ROLE_ID)]}, "allowed_mentions"),
        ({"roles": [str(PAPERS_ROLE_ID + i) for i in range(101)]}, "allowed_mentions.roles"),
        ({"parse": ["channels"]}, "allowed_mentions.parse.0"),
    ],
)
async def test_allowed_mentions_are_validated(admin_env: Env, allowed: dict[str, Any], path: str) -> None:
    status, data, _ = await admin_env.post_message({"content": "x", "allowed_mentions": allowed})
    assert (status, data["code"], error_paths(data)) == (400, 50035, [path])


async def test_discord_py_post_pings_exactly_the_configured_role_and_nothing_from_paper_text() -> None:
    hostile_title = f"Attention <@&{VISION_ROLE_ID}> @everyone <@{ids.MEMBER_USER_ID}>"
    async with ping_world(bot_may_mention_everyone=True) as fake, running_client(fake, PlainBot()) as bot:
        channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        only_papers = discord.AllowedMentions(everyone=False, users=False, roles=[discord.Object(PAPERS_ROLE_ID)])
        pinged = await channel.send(f"<@&{PAPERS_ROLE_ID}> 1. {hostile_title}", allowed_mentions=only_papers)
        silent = await channel.send(hostile_title, allowed_mentions=discord.AllowedMentions.none())
        careless = await channel.send(hostile_title)  # no allowed_mentions: Discord parses everything
        assert fake.message(pinged.id).pings == Mentions(roles=(PAPERS_ROLE_ID,))
        assert fake.message(silent.id).pings == Mentions()
        assert fake.message(careless.id).pings == Mentions(
            everyone=True, users=(ids.MEMBER_USER_ID,), roles=(VISION_ROLE_ID,)
        )
        assert [r.id for r in pinged.role_mentions] == [PAPERS_ROLE_ID]  # discord.py reads the same answer


async def test_a_client_wide_allowed_mentions_default_is_honoured() -> None:
    async with ping_world(bot_may_mention_everyone=True) as fake:
        bot: commands.Bot = PlainBot()
        bot.allowed_mentions = discord.AllowedMentions.none()
        async with running_client(fake, bot):
            channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
            assert isinstance(channel, discord.TextChannel)
            sent = await channel.send(f"<@&{PAPERS_ROLE_ID}> @everyone")
            assert fake.message(sent.id).allowed_mentions == {"parse": []}
            assert fake.message(sent.id).pings == Mentions()
