"""`/paper digest subscribe|unsubscribe|list|preview|status|ping|unping`: admins choose which channels get the
digest and how — posting time, filters, a discussion thread per post, settled upvotes, weekly recaps, the roles
to mention for topics — and see why a channel got nothing.

Handlers translate only: validate the options (by the config file's rules, `digest_options`), call the bot's
`DigestService` (`PaperBot.digest`), build the reply with `bot.render`, send it through the adapter.

Manage Server is required three times on purpose. `default_permissions` states the intent, but Discord applies
`default_member_permissions` to top-level commands only — `/paper digest` is nested under `/paper`, whose
search commands everyone may use — so the group's `interaction_check` is what refuses a member without Manage
Server, whatever the client shows; and since discord.py runs no check before autocomplete, `PaperTree` answers
an empty list to a member's autocomplete of this group (the suggestions list the server's subscriptions).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands

from bot.config import RolePingSettings
from bot.digest.service import ChannelStatus, DigestService, SubscriptionError
from bot.digest.status import subscription_status
from bot.discord_ui._replies import send_followups
from bot.discord_ui.adapter import NO_MENTIONS, send_kwargs
from bot.discord_ui.digest_options import missing_permissions, split_keywords, timezone_choices, validated_settings
from bot.errors import UserInputError
from bot.models import RolePing, Subscription
from bot.render import limits
from bot.render.status import describe_subscription, digest_status
from bot.render.text import discord_time, escape, truncate

if TYPE_CHECKING:
    from bot.discord_ui.client import PaperBot

__all__ = ["MAX_PINGS", "DigestGroup"]

# Roles one subscription may mention: the ping line names each, and it must stay readable in one message.
MAX_PINGS = 20
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _stored(sub: Subscription, **changes: Any) -> Subscription:
    """`sub` with `changes`, as a slash command stores it (its own row; creation and failing state the store's)."""
    return replace(sub, **changes, source="db", created_at=None, failing_reason=None, failing_since=None)


class DigestGroup(app_commands.Group):
    """`/paper digest`: admins (Manage Server) choose which channels get the daily digest, and how."""

    def __init__(self, bot: PaperBot) -> None:
        super().__init__(
            name="digest",
            description="The daily Hugging Face papers digest in your channels (Manage Server)",
            guild_only=True,
            default_permissions=discord.Permissions(manage_guild=True),
        )
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Refuse anyone without Manage Server, even if the client let them invoke the command."""
        if interaction.guild is None:
            raise app_commands.NoPrivateMessage()
        if not interaction.permissions.manage_guild:
            raise app_commands.MissingPermissions(["manage_guild"])
        return True

    def _service(self) -> DigestService:
        if self.bot.digest is None:
            raise UserInputError("The digest is not running on this bot instance.")
        return self.bot.digest

    async def _bot_permissions(self, interaction: discord.Interaction[Any], channel: Any) -> discord.Permissions:
        guild = interaction.guild
        assert guild is not None
        me = guild.me
        if me is None and self.bot.user is not None:
            me = await guild.fetch_member(self.bot.user.id)
        if me is None:  # pragma: no cover - a logged-in bot in a guild always has a member there
            return discord.Permissions.none()
        return channel.permissions_for(me)  # type: ignore[no-any-return]

    @app_commands.command(name="subscribe", description="Post the daily digest in a channel, or change its settings")
    @app_commands.describe(
        channel="The channel to post in",
        time="Local posting time, HH:MM (24 h); default 09:00 or the channel's current time",
        timezone="IANA time zone, e.g. Europe/Berlin (suggestions as you type)",
        top_n="How many papers per post (1–25)",
        min_upvotes="Only papers with at least this many upvotes",
        keywords="Comma-separated; post only papers mentioning any of them (empty: all papers)",
        empty_days="What a day without papers gets",
        thread="Start a discussion thread on each post",
        update_after_hours="Edit each post once, this many hours later, with settled upvotes (0: never)",
        cadence="Daily posts, or one weekly recap of the week's most upvoted papers",
        weekday="The day of a weekly recap",
    )
    async def subscribe(
        self,
        interaction: discord.Interaction[Any],
        channel: discord.TextChannel,
        time: str | None = None,
        timezone: str | None = None,
        top_n: app_commands.Range[int, 1, 25] | None = None,
        min_upvotes: app_commands.Range[int, 0, 1_000_000] | None = None,
        keywords: str | None = None,
        empty_days: Literal["skip", "note", "week"] | None = None,
        thread: bool | None = None,
        update_after_hours: app_commands.Range[float, 0, 168] | None = None,
        cadence: Literal["daily", "weekly"] | None = None,
        weekday: Weekday | None = None,
    ) -> None:
        """Validate every option, check the bot's permissions in the channel, then save and reschedule."""
        service = self._service()
        given = validated_settings(
            channel.id,
            time=time,
            timezone=timezone,
            top_n=top_n,
            min_upvotes=min_upvotes,
            keywords=split_keywords(keywords) if keywords is not None else None,
            empty_days=empty_days,
            thread=thread,
            update_after_hours=update_after_hours,
            cadence=cadence,
            weekday=weekday,
        )
        permissions = await self._bot_permissions(interaction, channel)
        missing = missing_permissions(permissions)
        if missing:
            raise UserInputError(
                f"I can't post the digest in {channel.mention}: I'm missing {', '.join(missing)} there. "
                "Grant them to my role in the channel's settings, then subscribe again."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        base = await service.subscription(channel.id) or service.settings.digest.default_subscription(channel.id)
        # Options left out (and settings the command has no option for, like pings) keep the channel's values.
        sub = _stored(
            base,
            channel_id=channel.id,
            guild_id=channel.guild.id,
            time=given.time or base.time,
            timezone=given.timezone or base.timezone,
            top_n=given.top_n if given.top_n is not None else base.top_n,
            min_upvotes=given.min_upvotes if given.min_upvotes is not None else base.min_upvotes,
            keywords=tuple(given.keywords) if given.keywords is not None else base.keywords,
            empty_days=given.empty_days or base.empty_days,
            thread=given.thread if given.thread is not None else base.thread,
            update_after_hours=(
                given.update_after_hours if given.update_after_hours is not None else base.update_after_hours
            ),
            cadence=given.cadence or base.cadence,
            weekday=WEEKDAYS.index(given.weekday) if given.weekday is not None else base.weekday,
        )
        saved = await service.subscribe(sub)
        status = next(s for s in await service.statuses() if s.subscription.channel_id == channel.id)
        every = "weekly recap" if saved.cadence == "weekly" else "daily digest"
        lines = [
            f"{channel.mention} gets the {every}: {describe_subscription(saved)}.",
            f"Next post: {discord_time(status.next_post)}. Use `/paper digest preview` to see it now.",
        ]
        if saved.thread and not (permissions.create_public_threads and permissions.send_messages_in_threads):
            lines.append(
                "⚠ I can't start threads there yet: give my role Create Public Threads and Send Messages in "
                "Threads in that channel. Until then the posts land without a thread, and the digest status says so."
            )
        await interaction.followup.send("\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @subscribe.autocomplete("timezone")
    async def _timezone_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        return timezone_choices(current)

    @app_commands.command(name="unsubscribe", description="Stop the daily digest in a channel")
    @app_commands.describe(
        channel="The channel that should stop getting the digest",
        channel_id="Or the id of a subscribed channel that no longer exists (suggested as you type)",
    )
    async def unsubscribe(
        self,
        interaction: discord.Interaction[Any],
        channel: app_commands.AppCommandChannel | None = None,
        channel_id: str | None = None,
    ) -> None:
        """Remove a slash-command subscription of this server; config-file channels are refused.

        `channel_id` exists because Discord's channel picker cannot select a deleted channel, yet its
        subscription (failing with 404) must still be removable.
        """
        service = self._service()
        guild = interaction.guild
        assert guild is not None
        if (channel is None) == (channel_id is None):
            raise UserInputError("Give either `channel` or `channel_id` (for a channel that no longer exists).")
        if channel is not None:
            target = channel.id
        else:
            assert channel_id is not None
            digits = channel_id.strip().removeprefix("<#").removesuffix(">")
            if not digits.isdigit():
                raise UserInputError("`channel_id` must be a channel id (digits), e.g. from `/paper digest list`.")
            target = int(digits)
        await interaction.response.defer(ephemeral=True, thinking=True)
        stored = await service.subscription(target)
        # Only this server's subscriptions: a typed id must not reach into another server's digest.
        if stored is not None and stored.source == "db" and stored.guild_id not in (None, guild.id):
            stored = None
        if stored is None:
            await interaction.followup.send(
                f"<#{target}> has no digest subscription in this server.", ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        try:
            removed = await service.unsubscribe(target)
        except SubscriptionError as exc:
            raise UserInputError(str(exc)) from exc
        text = (
            f"<#{target}> will no longer get the daily digest."
            if removed
            else f"<#{target}> has no digest subscription."
        )
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @unsubscribe.autocomplete("channel_id")
    async def _channel_id_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """This server's slash-command subscriptions whose id starts with what was typed (admins only)."""
        guild = interaction.guild
        if self.bot.digest is None or guild is None:
            return []
        choices: list[app_commands.Choice[str]] = []
        for sub in await self.bot.digest.subscriptions():
            if sub.source != "db" or sub.guild_id != guild.id or not str(sub.channel_id).startswith(current.strip()):
                continue
            cached = guild.get_channel(sub.channel_id)
            label = f"#{cached.name}" if cached is not None else "deleted channel"
            if sub.failing_reason:
                label += f" — failing: {sub.failing_reason}"
            suffix = f" ({sub.channel_id})"
            name = truncate(label, limits.CHOICE_TEXT_MAX - len(suffix)) + suffix
            choices.append(app_commands.Choice(name=name, value=str(sub.channel_id)))
        return choices[: limits.AUTOCOMPLETE_CHOICES_MAX]

    @app_commands.command(name="list", description="This server's digest channels: settings, next post, last post")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Each subscription with its next post time, last post (linked) and any failure with what to do."""
        service = self._service()
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        statuses = [subscription_status(s, guild.id) for s in await service.statuses() if _in_guild(s, guild)]
        await interaction.followup.send(**send_kwargs(digest_status(statuses)), ephemeral=True)

    @app_commands.command(name="status", description="Why a channel got its digest or not: last post, next, failures")
    @app_commands.describe(channel="One subscribed channel (default: every digest channel of this server)")
    async def status(self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None) -> None:
        """Per subscription: the last post (time and a link to it), the next post, and any failure — a missing
        permission, a deleted channel, the source down, a thread that could not be started — with what to do."""
        service = self._service()
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        statuses = [
            subscription_status(s, guild.id)
            for s in await service.statuses()
            if _in_guild(s, guild) and (channel is None or s.subscription.channel_id == channel.id)
        ]
        if channel is not None and not statuses:
            await interaction.followup.send(
                f"{channel.mention} gets no digest. Subscribe it with `/paper digest subscribe`.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        message = digest_status(statuses, title="Digest status")
        await interaction.followup.send(**send_kwargs(message), ephemeral=True)

    @app_commands.command(name="ping", description="Mention a role in a channel's digest when a paper is on its topic")
    @app_commands.describe(
        role="The role to mention",
        keywords="Comma-separated; the role is mentioned when a paper in the post matches any of them",
        channel="The digest channel",
    )
    async def ping(
        self,
        interaction: discord.Interaction[Any],
        role: discord.Role,
        keywords: str,
        channel: discord.TextChannel,
    ) -> None:
        """Add or replace the role's topic ping on the channel's subscription (by the config file's rules)."""
        service = self._service()
        if role.is_default():
            raise UserInputError("@everyone can't be a topic role: pick a role members can join for the topic.")
        try:
            words = tuple(RolePingSettings(role_id=role.id, keywords=split_keywords(keywords)).keywords)
        except ValueError as exc:
            raise UserInputError("Give at least one keyword, e.g. `keywords: robot, manipulation`.") from exc
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await service.subscription(channel.id)
        if sub is None:
            raise UserInputError(
                f"{channel.mention} gets no digest yet: subscribe it first with `/paper digest subscribe`."
            )
        others = tuple(p for p in sub.pings if p.role_id != role.id)
        if len(others) >= MAX_PINGS:
            raise UserInputError(
                f"{channel.mention} already mentions {MAX_PINGS} roles; remove one with `/paper digest unping`."
            )
        await service.subscribe(_stored(sub, pings=(*others, RolePing(role.id, words))))
        lines = [
            f"{channel.mention}'s digest will mention {role.mention} when a paper in it matches "
            + ", ".join(f"“{escape(word)}”" for word in words)
            + "."
        ]
        me_permissions = await self._bot_permissions(interaction, channel)
        if not role.mentionable and not me_permissions.mention_everyone:
            lines.append(
                f"⚠ {role.mention} is not mentionable and I lack Mention @everyone there, so the mention would not "
                "notify anyone: make the role mentionable in Server Settings → Roles."
            )
        await interaction.followup.send("\n".join(lines), ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="unping", description="Stop mentioning a role in a channel's digest")
    @app_commands.describe(role="The role to stop mentioning", channel="The digest channel")
    async def unping(
        self, interaction: discord.Interaction[Any], role: discord.Role, channel: discord.TextChannel
    ) -> None:
        """Remove the role's topic ping from the channel's subscription."""
        service = self._service()
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await service.subscription(channel.id)
        if sub is None or all(p.role_id != role.id for p in sub.pings):
            text = f"{channel.mention}'s digest does not mention {role.mention}."
        else:
            await service.subscribe(_stored(sub, pings=tuple(p for p in sub.pings if p.role_id != role.id)))
            text = f"{channel.mention}'s digest will no longer mention {role.mention}."
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="preview", description="See today's digest for a channel (only you can see it)")
    @app_commands.describe(channel="The channel whose post to preview (default: this one)")
    async def preview(self, interaction: discord.Interaction[Any], channel: discord.TextChannel | None = None) -> None:
        """Render today's post for the channel (its subscription, else the defaults) as ephemeral messages."""
        service = self._service()
        channel_id = channel.id if channel is not None else interaction.channel_id
        assert channel_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        sub = await service.subscription(channel_id)
        intro = f"Preview of today's digest for <#{channel_id}>"
        if sub is None:
            sub = service.settings.digest.default_subscription(channel_id)
            intro += " (not subscribed: default settings)"
        rendered = await service.preview(sub)
        if not rendered.messages:
            await interaction.followup.send(
                f"{intro}: nothing would be posted — the list is empty and empty days are skipped.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        first, *rest = rendered.messages
        intro_line = truncate(f"{intro} — {describe_subscription(sub)}", limits.CONTENT_MAX)
        await send_followups(interaction, [replace(first, content=intro_line), *rest], ephemeral=True)


def _in_guild(status: ChannelStatus, guild: discord.Guild) -> bool:
    """Whether a subscription belongs to this server (its stored guild, else a channel the server has)."""
    sub = status.subscription
    return sub.guild_id == guild.id or (sub.guild_id is None and guild.get_channel(sub.channel_id) is not None)
