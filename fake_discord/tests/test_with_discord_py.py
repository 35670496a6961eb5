"""A real discord.py client against the fake: login, command sync, interactions, views, errors, resume.

The bot here is a small test double of the production bot (a ``/paper`` group with a nested ``digest``
subgroup, autocomplete, a paging view, a deferred reply, channel posts), so the fake's behaviour is
checked against what discord.py actually sends and expects — independent of the real bot's code.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from typing import Any

import discord
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket

from fake_discord import Channel, FakeDiscord, ManualClock, ids, pointed_at, running_client


class Pager(discord.ui.View):
    def __init__(self, owner_id: int) -> None:
        super().__init__(timeout=60)
        self.owner_id = owner_id
        self.page = 1

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id != self.owner_id:
            await interaction.response.send_message("Not your search.", ephemeral=True)
            return False
        return True

    @discord.ui.button(label="Next", custom_id="pager:next")
    async def next_page(self, interaction: discord.Interaction, _: discord.ui.Button[Pager]) -> None:
        self.page += 1
        await interaction.response.edit_message(embed=discord.Embed(title=f"Page {self.page}"), view=self)

    @discord.ui.select(
        custom_id="pager:open", options=[discord.SelectOption(label=f"Paper {i}", value=f"p{i}") for i in range(3)]
    )
    async def open_paper(self, interaction: discord.Interaction, select: discord.ui.Select[Pager]) -> None:
        await interaction.response.send_message(f"Opened {select.values[0]}", ephemeral=True)


class ProbeBot(commands.Bot):
    def __init__(self, **options: Any) -> None:
        super().__init__(command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)
        self.errors: list[BaseException] = []
        self.errored = asyncio.Event()
        self.release_late = asyncio.Event()
        self.callbacks: list[discord.InteractionCallbackResponse[Any]] = []
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Documented hook; discord.py's default sleeps 5 s before every re-IDENTIFY. Tests don't wait."""

    async def _on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        self.errors.append(error.original if isinstance(error, app_commands.CommandInvokeError) else error)
        self.errored.set()

    async def setup_hook(self) -> None:
        paper = app_commands.Group(name="paper", description="Papers")
        digest = app_commands.Group(
            name="digest",
            description="Digests",
            parent=paper,
            default_permissions=discord.Permissions(manage_guild=True),
        )

        @paper.command(name="search", description="Search")
        async def search(interaction: discord.Interaction, query: str) -> None:
            embed = discord.Embed(title=f"Results for {query}", description="1. Attention")
            callback = await interaction.response.send_message(
                embed=embed, view=Pager(interaction.user.id), allowed_mentions=discord.AllowedMentions.none()
            )
            self.callbacks.append(callback)

        @paper.command(name="slow", description="Deferred")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.followup.send(embed=discord.Embed(title="Done", description="after work"))
            await interaction.followup.send("and one more")

        @paper.command(name="abstract", description="Abstract")
        async def abstract(interaction: discord.Interaction, title: str) -> None:
            await interaction.response.send_message(f"Abstract of {title}")

        @abstract.autocomplete("title")
        async def titles(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [app_commands.Choice(name=f"{current} paper {i}", value=f"id{i}") for i in range(30)][:25]

        @paper.command(name="late", description="Answers after the test says so")
        async def late(interaction: discord.Interaction) -> None:
            await self.release_late.wait()
            await interaction.response.send_message("too late?")

        @paper.command(name="mention", description="Mention")
        async def mention(interaction: discord.Interaction, safe: bool) -> None:
            mentions = discord.AllowedMentions.none() if safe else discord.AllowedMentions.all()
            await interaction.response.send_message("@everyone hello", allowed_mentions=mentions)

        @digest.command(name="subscribe", description="Subscribe a channel")
        async def subscribe(interaction: discord.Interaction, channel: discord.TextChannel, top_n: int = 10) -> None:
            await interaction.response.defer(ephemeral=True)
            target = self.get_channel(channel.id)
            assert isinstance(target, discord.TextChannel)
            try:
                await target.send(embed=discord.Embed(title=f"Top {top_n} papers"))
            except discord.Forbidden as exc:
                await interaction.edit_original_response(content=f"Cannot post there ({exc.code}).")
                return
            await interaction.edit_original_response(content=f"Subscribed {channel.mention}.")

        self.tree.add_command(paper)
        guild = discord.Object(ids.GUILD_ID)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        server.assert_clean()


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[ProbeBot]:
    async with running_client(fake, ProbeBot()) as client:
        yield client
        assert client.errors == []


async def test_login_syncs_the_tree_and_becomes_ready(fake: FakeDiscord, bot: ProbeBot) -> None:
    assert bot.is_ready() and bot.user is not None and bot.user.id == ids.APP_ID
    assert bot.application_id == ids.APP_ID
    guild = bot.get_guild(ids.GUILD_ID)
    assert guild is not None and guild.me is not None
    assert guild.me.guild_permissions.embed_links
    hidden = guild.get_channel(ids.HIDDEN_CHANNEL_ID)
    assert hidden is not None and not hidden.permissions_for(guild.me).view_channel  # same overwrites as the fake
    (paper,) = await fake.wait_for_commands(ids.GUILD_ID)
    assert paper["name"] == "paper"
    subs = {o["name"]: o for o in paper["options"]}
    assert set(subs) == {"search", "slow", "abstract", "late", "mention", "digest"}
    assert subs["digest"]["type"] == 2 and subs["digest"]["options"][0]["name"] == "subscribe"
    routes = [r.route for r in fake.requests]
    assert routes[:3] == [
        "GET /users/@me",
        "GET /oauth2/applications/@me",
        "PUT /applications/{application_id}/guilds/{guild_id}/commands",
    ]
    assert fake.gateway.identifies[0]["intents"] == discord.Intents.default().value
    assert fake.gateway.connections[0].compress  # discord.py asked for zlib-stream and inflated our frames


async def test_slash_command_round_trip_and_button_routes_back_to_the_view(fake: FakeDiscord, bot: ProbeBot) -> None:
    handle = await fake.slash("paper search", query="attention", user_id=ids.MEMBER_USER_ID)
    response = await handle.response()
    assert response.type == 4 and 0 <= response.latency < 3.0
    message = await handle.original()
    assert message.embeds[0]["title"] == "Results for attention"
    assert message.allowed_mentions == {"parse": []}
    assert [b["custom_id"] for b in message.buttons] == ["pager:next"]
    assert fake.channel_messages(ids.GENERAL_CHANNEL_ID) == [message]

    press = await fake.click(message, "pager:next")
    assert press.payload["member"]["user"]["id"] == str(ids.MEMBER_USER_ID)  # defaults to the invoker
    assert (await press.response()).type == 7
    updated = await press.updated_message()
    assert updated.id == message.id and updated.embeds[0]["title"] == "Page 2"

    pick = await fake.choose(message, ["p1"])
    reply = await pick.original()
    assert reply.content == "Opened p1" and reply.ephemeral

    stranger = await fake.click(message, label="Next", user_id=ids.OTHER_USER_ID)
    denial = await stranger.original()
    assert denial.ephemeral and denial.content == "Not your search."
    assert fake.message(message.id).embeds[0]["title"] == "Page 2"  # unchanged by the stranger


async def test_each_message_routes_clicks_to_its_own_view(fake: FakeDiscord, bot: ProbeBot) -> None:
    first = await (await fake.slash("paper search", query="one")).original()
    second = await (await fake.slash("paper search", query="two")).original()
    # discord.py keys a view by the message id from the callback response (response_message_id).
    assert [c.message_id for c in bot.callbacks] == [first.id, second.id]
    assert isinstance(bot.callbacks[0].resource, discord.InteractionMessage)
    for _ in range(2):
        await (await fake.click(second, "pager:next")).updated_message()
    clicked = await (await fake.click(first, "pager:next")).updated_message()
    assert clicked.id == first.id and clicked.embeds[0]["title"] == "Page 2"  # not the second view's "Page 4"
    assert fake.message(second.id).embeds[0]["title"] == "Page 3"


async def test_defer_then_followups(fake: FakeDiscord, bot: ProbeBot) -> None:
    handle = await fake.slash("paper slow")
    response = await handle.response()
    assert response.type == 5 and response.ephemeral
    original = await handle.original()  # the first followup replaced the "thinking…" message
    assert original.embeds[0]["title"] == "Done" and original.ephemeral and not original.loading
    second = await handle.followup(0)
    assert second.content == "and one more" and not second.ephemeral
    assert [r.route for r in handle.requests] == [
        "POST /interactions/{interaction_id}/{token}/callback",
        "POST /webhooks/{application_id}/{token}",
        "POST /webhooks/{application_id}/{token}",
    ]
    assert all(r.since_dispatch is not None and r.since_dispatch < 3 for r in handle.requests)


async def test_autocomplete_choices(fake: FakeDiscord, bot: ProbeBot) -> None:
    handle = await fake.autocomplete("paper abstract", "title", title="diff")
    choices = await handle.choices()
    assert len(choices) == 25 and choices[0] == {"name": "diff paper 0", "value": "id0"}


async def test_nested_group_with_channel_option_posts_an_embed(fake: FakeDiscord, bot: ProbeBot) -> None:
    handle = await fake.slash(
        "paper digest subscribe", channel=ids.GENERAL_CHANNEL_ID, top_n=5, user_id=ids.ADMIN_USER_ID
    )
    data = handle.payload["data"]
    assert data["options"][0]["options"][0]["options"] == [
        {"name": "channel", "type": 7, "value": str(ids.GENERAL_CHANNEL_ID)},
        {"name": "top_n", "type": 4, "value": 5},
    ]
    assert str(ids.GENERAL_CHANNEL_ID) in data["resolved"]["channels"]
    reply = await handle.original()
    assert reply.content == f"Subscribed <#{ids.GENERAL_CHANNEL_ID}>." and reply.ephemeral
    post = await fake.wait_for_message(ids.GENERAL_CHANNEL_ID, lambda m: not m.interaction_id)
    assert post.embeds[0]["title"] == "Top 5 papers" and post.author["id"] == str(ids.APP_ID)


async def test_missing_channel_permission_reaches_the_bot_as_forbidden(fake: FakeDiscord, bot: ProbeBot) -> None:
    handle = await fake.slash("paper digest subscribe", channel=ids.NO_EMBEDS_CHANNEL_ID, user_id=ids.ADMIN_USER_ID)
    reply = await handle.original()
    assert reply.content == "Cannot post there (50013)."
    assert fake.channel_messages(ids.NO_EMBEDS_CHANNEL_ID) == []


async def test_rate_limited_post_is_retried_by_discord_py(fake: FakeDiscord, bot: ProbeBot) -> None:
    fake.rate_limit_next("POST /channels/*/messages", retry_after=0.05)
    channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("after a 429")
    assert [r.status for r in fake.requests_to("POST /channels/*/messages")] == [429, 200]
    assert [m.id for m in fake.channel_messages(ids.GENERAL_CHANNEL_ID)] == [sent.id]


async def test_allowed_mentions_reach_the_fake(fake: FakeDiscord, bot: ProbeBot) -> None:
    unsafe = await (await fake.slash("paper mention", safe=False)).original()
    safe = await (await fake.slash("paper mention", safe=True)).original()
    assert unsafe.mention_everyone and not safe.mention_everyone
    assert safe.allowed_mentions == {"parse": []}


async def test_a_late_response_is_unknown_interaction() -> None:
    clock = ManualClock()
    async with FakeDiscord(clock=clock) as fake, running_client(fake, ProbeBot()) as bot:
        handle = await fake.slash("paper late")
        clock.advance(3.5)
        bot.release_late.set()
        await asyncio.wait_for(bot.errored.wait(), 5)  # client-side state: the client's own event
        (error,) = bot.errors
        assert isinstance(error, discord.NotFound) and error.code == 10062
        assert handle.record.expired and not handle.record.acknowledged
        bot.errors.clear()


@pytest.mark.parametrize("how", ["close 4000", "op 7 reconnect"])
async def test_resume_after_disconnect_keeps_serving(fake: FakeDiscord, bot: ProbeBot, how: str) -> None:
    resumed = asyncio.Event()

    async def on_resumed() -> None:
        resumed.set()

    bot.add_listener(on_resumed)
    first = fake.gateway.connection
    if how == "close 4000":
        await fake.gateway.disconnect(4000)
    else:
        await fake.gateway.request_reconnect()
    await asyncio.wait_for(resumed.wait(), 10)
    assert fake.gateway.resumes and fake.gateway.resumes[0]["session_id"] == fake.gateway.session.id  # type: ignore[union-attr]
    assert fake.gateway.connection is not first and fake.gateway.connection.path == "/gateway/resume"  # type: ignore[union-attr]
    handle = await fake.slash("paper search", query="still here")
    assert (await handle.original()).embeds[0]["title"] == "Results for still here"


@pytest.mark.parametrize("resumable", [True, False], ids=["resumable", "not resumable"])
async def test_invalid_session(fake: FakeDiscord, bot: ProbeBot, resumable: bool) -> None:
    old_session = fake.gateway.session
    assert old_session is not None
    await fake.gateway.invalidate_session(resumable=resumable)
    if resumable:
        await fake.wait_for(lambda: fake.gateway.resumes, what="a RESUME")
        assert fake.gateway.session is old_session
    else:
        await fake.wait_for(lambda: len(fake.gateway.identifies) == 2, what="a second IDENTIFY")
        assert fake.gateway.session is not old_session and not fake.gateway.resumes
        assert fake.gateway.connections[-1].path == "/gateway"  # back to the default gateway, as discord.py does
    handle = await fake.slash("paper search", query="again")
    assert (await handle.original()).embeds[0]["title"] == "Results for again"


async def test_wrong_token_is_a_login_failure_and_patches_are_restored(fake: FakeDiscord) -> None:
    base, gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    with pytest.raises(discord.LoginFailure):
        async with running_client(fake, ProbeBot(), token="not-the-token"):
            pass
    assert (base, gateway) == (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    with pointed_at(fake):
        assert fake.api_base_url == discord.http.Route.BASE
    assert fake.requests[-1].status == 401


async def test_startup_is_fast_and_close_is_clean() -> None:
    async with FakeDiscord() as fake:
        started = time.perf_counter()
        async with running_client(fake, ProbeBot()) as bot:
            elapsed = time.perf_counter() - started
        assert elapsed < 2.0  # guild_ready_timeout=0.05 instead of discord.py's 2 s default
        assert bot.is_closed()
        await fake.wait_for(lambda: fake.gateway.connection is None, what="the client's socket to close")
        fake.assert_clean()


async def test_files_history_and_reset(fake: FakeDiscord, bot: ProbeBot) -> None:
    channel = bot.get_channel(ids.GENERAL_CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    seeded = [fake.add_user_message(ids.GENERAL_CHANNEL_ID, f"hi {i}", author_id=ids.MEMBER_USER_ID) for i in range(3)]
    upload = await channel.send("with a file", file=discord.File(io.BytesIO(b"abc"), filename="a.txt"))
    assert upload.attachments[0].filename == "a.txt" and upload.attachments[0].size == 3
    stored = fake.message(upload.id)
    assert stored.content == "with a file" and stored.attachments[0]["filename"] == "a.txt"
    newest_first = [m.content async for m in channel.history(limit=10)]
    assert newest_first == ["with a file", "hi 2", "hi 1", "hi 0"]
    oldest_first = [
        m.content async for m in channel.history(limit=2, after=discord.Object(seeded[0].id), oldest_first=True)
    ]
    assert oldest_first == ["hi 1", "hi 2"]
    fake.reset()
    assert fake.requests == [] and fake.channel_messages(ids.GENERAL_CHANNEL_ID) == []
    handle = await fake.slash("paper search", query="after reset")  # commands and the session survive a reset
    assert (await handle.original()).embeds[0]["title"] == "Results for after reset"


async def test_channel_events_reach_the_client_and_rest_agrees(fake: FakeDiscord, bot: ProbeBot) -> None:
    created: asyncio.Queue[discord.abc.GuildChannel] = asyncio.Queue()
    deleted: asyncio.Queue[discord.abc.GuildChannel] = asyncio.Queue()

    async def on_guild_channel_create(channel: discord.abc.GuildChannel) -> None:
        created.put_nowait(channel)

    async def on_guild_channel_delete(channel: discord.abc.GuildChannel) -> None:
        deleted.put_nowait(channel)

    bot.add_listener(on_guild_channel_create)
    bot.add_listener(on_guild_channel_delete)
    new_id = 1_400_000_000_000_000_777
    await fake.create_channel(Channel(id=new_id, name="papers-daily"))
    channel = await asyncio.wait_for(created.get(), 5)
    assert channel.id == new_id and bot.get_channel(new_id) is channel
    assert isinstance(channel, discord.TextChannel)
    await channel.send("first post")
    await fake.delete_channel(new_id)
    assert (await asyncio.wait_for(deleted.get(), 5)).id == new_id
    with pytest.raises(discord.NotFound) as err:
        await channel.send("gone")
    assert err.value.code == 10003
