"""`/paper digest …` (subscribe, unsubscribe, list, preview) and the Discord side of digest delivery.

The digest itself is built below `discord_ui` as plain message specs (`bot.digest.render`); this module only
translates: specs → `discord.Embed` (`embed_from_spec`), `DigestSink` → Discord REST (`DiscordDigestSink`),
and slash-command options → `DigestService` calls.

Manage Server is required twice on purpose. `default_permissions` states the intent, but Discord applies
`default_member_permissions` to top-level commands only — `/paper digest` is nested under `/paper`, whose
search commands everyone may use — so the group's `interaction_check` is what actually refuses a member
without Manage Server, whatever the client shows.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import zoneinfo
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord
from discord import app_commands

from bot.digest.render import EmbedSpec, MessageSpec, Rendered
from bot.digest.schedule import Scheduler
from bot.digest.service import ChannelStatus, DigestService, SubscriptionError
from bot.digest.sink import DeliveryError, SentMessage
from bot.digest.timing import zone
from bot.errors import UserInputError
from bot.models import Subscription

if TYPE_CHECKING:
    from bot.discord_ui.client import PaperBot

__all__ = [
    "REQUIRED_PERMISSIONS",
    "DigestGroup",
    "DiscordDigestSink",
    "embed_from_spec",
    "install_digest",
    "missing_permissions",
]

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
# What the bot needs in a digest channel: see it, post, show embeds, and read back its own posts
# (the restart reconciliation looks for its half-made digest in the channel's history).
REQUIRED_PERMISSIONS: tuple[tuple[str, str], ...] = (
    ("view_channel", "View Channel"),
    ("send_messages", "Send Messages"),
    ("embed_links", "Embed Links"),
    ("read_message_history", "Read Message History"),
)
_TIME = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")
MAX_KEYWORDS = 20
KEYWORD_MAX_CHARS = 100
_LIST_LIMIT = 4000


# ---- specs → discord ----------------------------------------------------------------------------------------


def embed_from_spec(spec: EmbedSpec) -> discord.Embed:
    """The `discord.Embed` for a digest embed spec (field for field; the spec is already within limits)."""
    embed = discord.Embed(title=spec.title, url=spec.url, description=spec.description, colour=spec.color)
    if spec.author:
        embed.set_author(name=spec.author)
    if spec.thumbnail:
        embed.set_thumbnail(url=spec.thumbnail)
    if spec.footer:
        embed.set_footer(text=spec.footer)
    return embed


def embeds_for(message: MessageSpec) -> list[discord.Embed]:
    """All embeds of one message spec."""
    return [embed_from_spec(spec) for spec in message.embeds]


def _forbidden_reason(exc: discord.Forbidden) -> str:
    if exc.code == 50001:
        return "the bot cannot see the channel (Discord 50001 Missing Access): give it View Channel there"
    if exc.code == 50013:
        needed = ", ".join(label for _, label in REQUIRED_PERMISSIONS)
        return f"the bot lacks a permission in the channel (Discord 50013): it needs {needed}"
    return f"Discord refused access to the channel (403 {exc.code}: {exc.text})"


class DiscordDigestSink:
    """Delivers digest messages through Discord REST, addressing channels by id (no cache needed)."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def _call(self, action: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await action()
        except discord.NotFound as exc:
            raise DeliveryError(
                f"the channel no longer exists (Discord 404, code {exc.code})", permanent=True, status=404
            ) from exc
        except discord.Forbidden as exc:
            raise DeliveryError(_forbidden_reason(exc), permanent=True, status=403) from exc
        except discord.HTTPException as exc:
            # Other 4xx (e.g. 50035 invalid body) will fail the same way again; 5xx and 429 may pass later.
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise DeliveryError(
                f"Discord answered {exc.status} (code {exc.code}): {exc.text}", permanent=permanent, status=exc.status
            ) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"could not reach Discord: {exc!r}", permanent=False) from exc

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        """Post one digest message; return its id (pings nobody)."""
        channel = self._client.get_partial_messageable(channel_id)
        sent: discord.Message = await self._call(
            lambda: channel.send(content=message.content, embeds=embeds_for(message), allowed_mentions=NO_MENTIONS)
        )
        return sent.id

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        """The bot's own messages among the channel's latest `limit`, newest first, with embed footers."""
        me = self._client.user
        if me is None:
            raise DeliveryError("the bot is not logged in", permanent=False)
        channel = self._client.get_partial_messageable(channel_id)

        async def read() -> list[SentMessage]:
            out: list[SentMessage] = []
            async for message in channel.history(limit=limit):
                if message.author.id == me.id:
                    footers = tuple(e.footer.text for e in message.embeds if e.footer and e.footer.text)
                    out.append(SentMessage(message.id, footers))
            return out

        result: list[SentMessage] = await self._call(read)
        return result


# ---- wiring -------------------------------------------------------------------------------------------------


def install_digest(
    bot: PaperBot,
    scheduler: Scheduler,
    *,
    refresh: Callable[[dt.date], Awaitable[object]] | None = None,
) -> DigestService:
    """Create the digest service for `bot`, expose it to `/paper digest`, and start it once connected.

    Called by the runtime (the composition root). Starting waits for `on_ready` because reconciliation and
    owed posts need a logged-in client; `DigestService.start` is idempotent, so reconnects change nothing.
    A failing start is logged by the scheduler with its name ("digest-start").
    """
    service = DigestService(bot.catalogue, DiscordDigestSink(bot), scheduler, bot.settings, refresh=refresh)
    bot.digest_service = service  # type: ignore[attr-defined]

    async def start_digest() -> None:
        # As scheduler-owned work: shutdown cancels it (a half-made post is reconciled at the next start).
        scheduler.spawn("digest-start", service.start)

    bot.add_listener(start_digest, "on_ready")
    return service


# ---- option parsing (pure, tested directly) ----------------------------------------------------------------


def parse_time(text: str) -> dt.time:
    """`HH:MM` (24 h) → time; raise UserInputError with the expected format."""
    match = _TIME.match(text)
    if not match:
        raise UserInputError(f"“{text[:20]}” is not a time: use HH:MM on a 24-hour clock, e.g. 09:00 or 17:30.")
    return dt.time(int(match.group(1)), int(match.group(2)))


def parse_timezone(text: str) -> str:
    """An IANA zone name (case-insensitive) → its canonical spelling; raise UserInputError if unknown."""
    name = text.strip()
    canonical = {n.casefold(): n for n in _timezones()}.get(name.casefold())
    if canonical is None:
        raise UserInputError(
            f"“{name[:60]}” is not a time zone I know: use an IANA name such as Europe/Berlin, "
            "America/New_York or UTC (the option suggests names as you type)."
        )
    zone(canonical)
    return canonical


def parse_keywords(text: str) -> tuple[str, ...]:
    """A comma-separated list → trimmed, de-duplicated keywords (empty text: no keyword filter)."""
    seen: dict[str, str] = {}
    for raw in text.split(","):
        keyword = " ".join(raw.split())
        if not keyword:
            continue
        if len(keyword) > KEYWORD_MAX_CHARS:
            raise UserInputError(f"A keyword can be at most {KEYWORD_MAX_CHARS} characters long.")
        seen.setdefault(keyword.casefold(), keyword)
    if len(seen) > MAX_KEYWORDS:
        raise UserInputError(f"At most {MAX_KEYWORDS} keywords, separated by commas.")
    return tuple(seen.values())


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    names = {n for n in zoneinfo.available_timezones() if not n.startswith(("posix/", "right/"))}
    return tuple(sorted(names | {"UTC"}))


def timezone_choices(current: str, limit: int = 25) -> list[app_commands.Choice[str]]:
    """Up to 25 zone names matching what was typed: prefix matches of any path part first."""
    typed = current.strip().casefold().replace(" ", "_")
    if not typed:
        popular = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
                   "Asia/Tokyo", "Asia/Shanghai", "Asia/Kolkata", "Australia/Sydney"]  # fmt: skip
        return [app_commands.Choice(name=n, value=n) for n in popular][:limit]
    ranked: list[tuple[int, str]] = []
    for name in _timezones():
        folded = name.casefold()
        if folded.startswith(typed):
            ranked.append((0, name))
        elif any(part.startswith(typed) for part in folded.split("/")):
            ranked.append((1, name))
        elif typed in folded:
            ranked.append((2, name))
    ranked.sort()
    return [app_commands.Choice(name=name, value=name) for _, name in ranked[:limit]]


def missing_permissions(permissions: discord.Permissions) -> list[str]:
    """Labels of the digest's required permissions that `permissions` lacks."""
    return [label for attr, label in REQUIRED_PERMISSIONS if not getattr(permissions, attr)]


def _when(instant: dt.datetime | None) -> str:
    if instant is None:
        return "unknown"
    unix = int(instant.timestamp())
    return f"<t:{unix}:f> (<t:{unix}:R>)"


def describe(sub: Subscription) -> str:
    """One line of settings: time, zone, size and filters."""
    parts = [f"{sub.time:%H:%M} {sub.timezone}", f"top {sub.top_n}"]
    if sub.min_upvotes:
        parts.append(f"≥ {sub.min_upvotes} upvotes")
    if sub.keywords:
        parts.append("keywords: " + ", ".join(discord.utils.escape_markdown(k) for k in sub.keywords))
    parts.append(
        {"skip": "empty days: nothing", "note": "empty days: a note", "week": "empty days: week's best"}[sub.empty_days]
    )
    return " · ".join(parts)


def status_lines(status: ChannelStatus) -> str:
    """The `/paper digest list` entry of one channel."""
    sub = status.subscription
    origin = "config file" if status.in_config else "slash command"
    if status.overridden:
        origin = "config file, settings from /paper digest"
    lines = [f"<#{sub.channel_id}> — {describe(sub)} ({origin})", f"  next post: {_when(status.next_post)}"]
    last = status.last_post
    if last is None:
        lines.append("  last post: none yet")
    else:
        when = last.finished_at or last.started_at
        label = {"posted": "posted", "posting": "in progress", "skipped": "skipped (empty day)", "failed": "failed"}
        text = f"  last post: {label[last.state]} {_when(when)}, list of {last.list_day.isoformat()}"
        if last.error:
            text += f" — {last.error}"
        lines.append(text)
    if sub.failing_reason:
        lines.append(f"  ⚠ failing since {_when(sub.failing_since)}: {sub.failing_reason}")
    return "\n".join(lines)


# ---- the command group ------------------------------------------------------------------------------------


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
        service: DigestService | None = getattr(self.bot, "digest_service", None)
        if service is None:
            raise UserInputError("The digest is not running on this bot instance.")
        return service

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
    ) -> None:
        """Validate every option, check the bot's permissions in the channel, then save and reschedule."""
        service = self._service()
        at = parse_time(time) if time is not None else None
        tz = parse_timezone(timezone) if timezone is not None else None
        words = parse_keywords(keywords) if keywords is not None else None
        missing = missing_permissions(await self._bot_permissions(interaction, channel))
        if missing:
            raise UserInputError(
                f"I can't post the digest in {channel.mention}: I'm missing {', '.join(missing)} there. "
                "Grant them to my role in the channel's settings, then subscribe again."
            )
        await interaction.response.defer(ephemeral=True, thinking=True)
        base = await service.subscription(channel.id) or service.settings.digest.default_subscription(channel.id)
        sub = Subscription(
            channel_id=channel.id,
            guild_id=channel.guild.id,
            time=at or base.time,
            timezone=tz or base.timezone,
            top_n=top_n if top_n is not None else base.top_n,
            min_upvotes=min_upvotes if min_upvotes is not None else base.min_upvotes,
            keywords=words if words is not None else base.keywords,
            empty_days=empty_days or base.empty_days,
        )
        saved = await service.subscribe(sub)
        status = next(s for s in await service.statuses() if s.subscription.channel_id == channel.id)
        await interaction.followup.send(
            f"{channel.mention} gets the daily digest: {describe(saved)}.\n"
            f"Next post: {_when(status.next_post)}. Use `/paper digest preview` to see it now.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

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
        service: DigestService | None = getattr(self.bot, "digest_service", None)
        guild = interaction.guild
        if service is None or guild is None:
            return []
        choices: list[app_commands.Choice[str]] = []
        for sub in await service.subscriptions():
            if sub.source != "db" or sub.guild_id != guild.id or not str(sub.channel_id).startswith(current.strip()):
                continue
            cached = guild.get_channel(sub.channel_id)
            label = f"#{cached.name}" if cached is not None else "deleted channel"
            if sub.failing_reason:
                label += f" — failing: {sub.failing_reason}"
            name = f"{label} ({sub.channel_id})"
            choices.append(app_commands.Choice(name=name[:100], value=str(sub.channel_id)))
        return choices[:25]

    @app_commands.command(name="list", description="This server's digest channels: settings, next post, last post")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        """Each subscription with its next post time, last post and last error (ephemeral)."""
        service = self._service()
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        statuses = [
            s
            for s in await service.statuses()
            if s.subscription.guild_id == guild.id
            or (s.subscription.guild_id is None and guild.get_channel(s.subscription.channel_id) is not None)
        ]
        embed = discord.Embed(title="Daily digest subscriptions", colour=0xFFD21E)
        if not statuses:
            embed.description = "No channel here gets the digest yet. Add one with `/paper digest subscribe`."
        else:
            entries = [status_lines(s) for s in statuses]
            text = ""
            for index, entry in enumerate(entries):
                candidate = f"{text}\n\n{entry}" if text else entry
                if len(candidate) > _LIST_LIMIT:
                    text += f"\n\n… and {len(entries) - index} more"
                    break
                text = candidate
            embed.description = text
        embed.set_footer(text="Times are shown in your own time zone.")
        await interaction.followup.send(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

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
        rendered: Rendered = await service.preview(sub)
        if not rendered.messages:
            await interaction.followup.send(
                f"{intro}: nothing would be posted — the list is empty and empty days are skipped.",
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
            return
        for index, message in enumerate(rendered.messages):
            await interaction.followup.send(
                content=f"{intro} — {describe(sub)}" if index == 0 else discord.utils.MISSING,
                embeds=embeds_for(message),
                ephemeral=True,
                allowed_mentions=NO_MENTIONS,
            )
