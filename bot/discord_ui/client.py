"""`PaperBot`: the discord.py client that carries paperbot's services and syncs its slash commands.

The bot does not open its dependencies: the composition root (`bot.runtime`) opens the catalogue, the
sources and the scheduler and hands them in, so tests can run the very same class against a loopback
Discord with a temporary catalogue. The one service built here is the daily digest (`PaperBot.digest`),
because it posts through this client (`DiscordDigestSink`): given a scheduler, the bot owns a
`DigestService`, starts it once connected, and `/paper digest` drives it — one declared dependency, no
attribute added from outside. Only non-privileged intents are requested: slash commands need none,
and a bot that asks for message content or members needs extra approval from Discord for no benefit here.

Command sync is deliberate: to the configured guilds (instant, meant for development and small
deployments) or globally (can take up to an hour to appear), once per start in `setup_hook`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.digest.service import DigestService
from bot.discord_ui.adapter import NO_MENTIONS
from bot.discord_ui.cogs import EXTENSIONS
from bot.discord_ui.digest_sink import DiscordDigestSink
from bot.discord_ui.follow_sink import DiscordFollowSink
from bot.discord_ui.tree import PaperTree
from bot.follows import FollowService

if TYPE_CHECKING:
    from bot.catalogue import Catalogue
    from bot.config import Settings
    from bot.digest.schedule import Scheduler
    from bot.search import SearchService
    from bot.sources import Sources

__all__ = ["PaperBot"]

log = logging.getLogger(__name__)


class PaperBot(commands.Bot):
    """A `commands.Bot` with default intents, `PaperTree`, the catalogue/search/sources/scheduler it serves, and
    the digest service when it runs a scheduler.

    `digest_refresh` re-fetches a day's list just before a digest posts it (the runtime passes the ingest of
    that day; None posts the stored list as it is). `digest_owner` names this process in the digest's post
    claims and the follows' DM claims (default: host and pid; the runtime passes the SQLite sole-bot owner so a
    restart resumes its own half-made posts and DMs at once).
    """

    tree: PaperTree  # narrowed from CommandTree: tree_cls=PaperTree below

    def __init__(
        self,
        settings: Settings,
        *,
        catalogue: Catalogue,
        search: SearchService,
        sources: Sources | None,
        scheduler: Scheduler | None = None,
        digest_refresh: Callable[[dt.date], Awaitable[object]] | None = None,
        digest_owner: str | None = None,
        extensions: Sequence[str] = EXTENSIONS,
        **options: Any,
    ) -> None:
        super().__init__(
            # Prefix commands are unused (no message-content intent); a mention prefix keeps Bot happy.
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=discord.Intents.default(),
            tree_cls=PaperTree,
            # Default for every message; paper-data replies also pass it explicitly.
            allowed_mentions=NO_MENTIONS,
            **options,
        )
        self.settings = settings
        self.catalogue = catalogue
        self.search = search
        self.sources = sources
        self.scheduler = scheduler
        #: The daily digest (None without a scheduler, e.g. a bot built only to inspect its command tree).
        self.digest: DigestService | None = (
            DigestService(
                catalogue, DiscordDigestSink(self), scheduler, settings, refresh=digest_refresh, owner=digest_owner
            )
            if scheduler is not None
            else None
        )
        #: Members' follows and their daily DMs (None without a scheduler), started with the digest.
        self.follows: FollowService | None = (
            FollowService(catalogue, DiscordFollowSink(self), scheduler, settings, owner=digest_owner)
            if scheduler is not None
            else None
        )
        self.extensions_to_load = tuple(extensions)
        self.synced: dict[int | None, list[discord.app_commands.AppCommand]] = {}

    async def setup_hook(self) -> None:
        """Load the extensions, then sync the command tree (guilds from the config, else globally)."""
        for extension in self.extensions_to_load:
            await self.load_extension(extension)
        await self.sync_commands(self.settings.discord.guild_ids)

    async def sync_commands(self, guild_ids: Sequence[int]) -> None:
        """Sync slash commands to each guild in `guild_ids`, or globally when it is empty.

        A guild the bot cannot reach (not invited, or invited without the `applications.commands` scope)
        is logged with the fix and skipped: one bad id in the config must not keep the bot from serving
        the other guilds.
        """
        if not guild_ids:
            self.synced[None] = await self.tree.sync()
            log.info("Synced %d global command(s); they can take up to an hour to appear", len(self.synced[None]))
            return
        for guild_id in guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                self.synced[guild_id] = await self.tree.sync(guild=guild)
            except discord.Forbidden as exc:
                log.error(
                    "Cannot sync commands to guild %s (%s): invite the bot to it with the "
                    "'bot applications.commands' scopes, or remove the id from [discord] guild_ids",
                    guild_id,
                    exc.text or exc.status,
                )
                continue
            log.info("Synced %d command(s) to guild %s", len(self.synced[guild_id]), guild_id)

    async def on_ready(self) -> None:
        """Log who we are once connected, then start the digest (it needs a logged-in client to post).

        `on_ready` fires again after a reconnect; `DigestService.start` is idempotent. The start runs as
        scheduler-owned work, so shutdown cancels it (a half-made post is reconciled at the next start) and a
        failing start is logged with its name ("digest-start").
        """
        user = self.user
        log.info("Connected as %s (id %s) in %d guild(s)", user, user.id if user else "?", len(self.guilds))
        if self.digest is not None and self.scheduler is not None:
            self.scheduler.spawn("digest-start", self.digest.start)
        if self.follows is not None:
            await self.follows.start()  # schedules its jobs; its start-up run is scheduler-owned work too
