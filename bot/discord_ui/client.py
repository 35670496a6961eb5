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

**Shards.** The bot is discord.py's `AutoShardedBot`: `[discord] shard_count` is the total over all processes
(0: Discord's recommended count, every shard in this process) and `shard_ids` the shards this process runs
(empty: all). Each shard is its own gateway session carrying the events of the guilds Discord assigns to it
(`(guild_id >> 22) % shard_count`), so a process serves exactly its shards' guilds; REST reaches any channel,
so digest posts — claimed in the shared catalogue — are made whichever process is alive. Shards identify as
fast as the gateway allows (`sharding.IdentifyPacer`) and report ready/resumed/lost (`sharding.ShardReport`).
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
from bot.discord_ui.pacing import MESSAGES_PER_SECOND, MessagePacer
from bot.discord_ui.sharding import IdentifyPacer, ShardReport, check_shard_ids, describe_shards
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


class PaperBot(commands.AutoShardedBot):
    """An `AutoShardedBot` running the configured shards, with default intents, `PaperTree`, the
    catalogue/search/sources/scheduler it serves, and the digest service when it runs a scheduler.

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
            # None for discord.py: ask Discord for the count / run every shard of it.
            shard_count=options.pop("shard_count", settings.discord.shard_count or None),
            shard_ids=options.pop("shard_ids", settings.discord.shard_ids if settings.discord.shard_count else None),
            **options,
        )
        #: shard ids given without a total: run them once Discord's recommended count is known (launch_shards)
        self._ids_for_discords_count: list[int] = list(settings.discord.shard_ids) if self.shard_count is None else []
        self.settings = settings
        self.catalogue = catalogue
        self.search = search
        self.sources = sources
        self.scheduler = scheduler
        #: Paces the bot's own messages — digest parts, threads, edits, follow DMs — at its share of the token's
        #: 40 messages/s (its share of the shards; see `message_rate`).
        self.message_pacer = MessagePacer(self.message_rate)
        #: The daily digest (None without a scheduler, e.g. a bot built only to inspect its command tree).
        self.digest: DigestService | None = (
            DigestService(
                catalogue,
                DiscordDigestSink(self, self.message_pacer),
                scheduler,
                settings,
                refresh=digest_refresh,
                owner=digest_owner,
            )
            if scheduler is not None
            else None
        )
        #: Members' follows and their daily DMs (None without a scheduler), started with the digest.
        self.follows: FollowService | None = (
            FollowService(
                catalogue, DiscordFollowSink(self, self.message_pacer), scheduler, settings, owner=digest_owner
            )
            if scheduler is not None
            else None
        )
        self.extensions_to_load = tuple(extensions)
        self.synced: dict[int | None, list[discord.app_commands.AppCommand]] = {}
        #: paces this process's IDENTIFYs by the gateway's max_concurrency (its `identified` list is public)
        self.identify_pacer = IdentifyPacer(self._max_concurrency)
        self._shard_report = ShardReport(self._guild_count)

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
        log.info(
            "Connected as %s (id %s) in %d guild(s) on %s",
            user,
            user.id if user else "?",
            len(self.guilds),
            describe_shards(self.running_shards(), self.shard_count or 0),
        )
        if self.digest is not None and self.scheduler is not None:
            self.scheduler.spawn("digest-start", self.digest.start)
        if self.follows is not None:
            await self.follows.start()  # schedules its jobs; its start-up run is scheduler-owned work too

    async def on_app_command_completion(self, interaction: discord.Interaction[Any], command: object) -> None:
        """A slash command succeeded: the tree counts it (its failures are counted in `PaperTree.on_error`)."""
        self.tree.command_completed(interaction)

    # ---- shards

    def message_rate(self) -> float:
        """This process's share of the token's message budget: 40/s times the share of the shards it runs.

        Processes that split the shards split the budget too, so together they stay at 40/s. Before the shard
        count is known (a single process, or Discord's count not asked yet) the whole budget.
        """
        total = self.shard_count or 0
        running = len(self.running_shards())
        if total <= 0 or running <= 0:
            return MESSAGES_PER_SECOND
        return MESSAGES_PER_SECOND * min(running, total) / total

    def running_shards(self) -> list[int]:
        """The shard ids this process runs (all of `shard_count` when none were given); empty before launch."""
        if self.shard_ids:
            return sorted(self.shard_ids)
        return list(range(self.shard_count or 0))

    async def launch_shards(self) -> None:
        """Connect this process's shards; shard ids configured without `shard_count` take Discord's count.

        discord.py wants a total with explicit ids. With `shard_count = 0` the total is what `GET /gateway/bot`
        recommends (as for a single process); an id at or past it cannot run: `ShardsOutOfRange`.
        """
        if self._ids_for_discords_count and self.shard_count is None:
            count, _gateway, _limits = await self.http.get_bot_gateway()
            self.shard_ids = check_shard_ids(self._ids_for_discords_count, count)
            self.shard_count = count
        await super().launch_shards()

    async def _max_concurrency(self) -> int:
        return (await self.fetch_session_start_limits()).max_concurrency

    def _guild_count(self, shard_id: int) -> int:
        return sum(1 for guild in self.guilds if guild.shard_id == shard_id)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Wait only as long as the shard's identify bucket needs (discord.py's default: 5 s every time)."""
        if initial:  # the first IDENTIFY of this process: shard_count is known now
            self._shard_report.launching(self.running_shards(), self.shard_count or 0)
        await self.identify_pacer.wait(shard_id)

    async def on_shard_ready(self, shard_id: int) -> None:
        """A shard's session is ready and its guilds are cached."""
        self._shard_report.ready(shard_id)

    async def on_shard_resumed(self, shard_id: int) -> None:
        """A shard resumed its session after a dropped connection (no events were lost)."""
        self._shard_report.resumed(shard_id)

    async def on_shard_disconnect(self, shard_id: int) -> None:
        """A shard's connection dropped (discord.py reconnects by itself), or the bot is shutting down."""
        if self.is_closed():
            return
        self._shard_report.lost(shard_id)

    async def close(self) -> None:
        """Disconnect every shard; the shard gauge shows them down."""
        try:
            await super().close()
        finally:
            self._shard_report.closed(self.running_shards())
