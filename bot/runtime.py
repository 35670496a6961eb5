"""The composition root of `paperbot run`: the only module that wires every layer together.

Start order: catalogue → sources → Discord endpoints → bot login (extensions + command sync) → scheduler
(ingest cron; the digest service adds its jobs once the bot is ready) → gateway. Stop order is the reverse and
is the same for SIGINT, SIGTERM and a lost gateway: the scheduler
stops first (no job may start against a closing database), then the bot disconnects, then the HTTP session
and finally the database close.

**Pointing discord.py elsewhere.** `discord.api_base_url` sets `discord.http.Route.BASE`, through which all
REST goes (interaction callbacks and followups included). The gateway is the subtle part: a plain
`Client`/`Bot` never asks `GET /gateway/bot`; it connects to the class attribute
`DiscordWebSocket.DEFAULT_GATEWAY` — at start *and again after an invalidated session*. So when the API base is
not Discord's own, we ask `/gateway/bot` once after login, like `AutoShardedClient` does, and set that class
attribute from the answer. Overriding the attribute rather than passing a URL into `connect()` is what makes
reconnects after INVALID_SESSION go to the same server. Both are process-wide discord.py settings; this
module is the only writer and restores them on exit, so in-process tests stay independent. With the default
API base neither is touched: discord.py's own default is left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from bot import metrics
from bot.catalogue import Catalogue, DailyLists
from bot.config import Settings
from bot.digest.schedule import Scheduler
from bot.digest.service import process_owner
from bot.digest.sole_bot import SoleBotLock, sole_owner
from bot.discord_ui.client import PaperBot
from bot.discord_ui.sharding import ShardsOutOfRange
from bot.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, SourceError
from bot.health import GatewayState, Heartbeat, heartbeat_path
from bot.ingest import default_days, ingest_day, ingest_range
from bot.log import describe_network_error, redact
from bot.sources import Sources, open_sources
from bot.stores import Stores, open_stores

__all__ = ["NO_TOKEN_MESSAGE", "REJECTED_TOKEN_MESSAGE", "run", "run_bot"]

log = logging.getLogger(__name__)

NO_TOKEN_MESSAGE = (
    "paperbot: no Discord bot token: set the DISCORD_TOKEN environment variable "
    "(or PAPERBOT_DISCORD__TOKEN, or token under [discord] in the config file)"
)
REJECTED_TOKEN_MESSAGE = (
    "paperbot: Discord rejected the token (401 Unauthorized): copy a fresh one from the Developer Portal "
    "(Bot → Reset Token) into DISCORD_TOKEN"
)
INGEST_JOB_ID = "ingest"
# A catalogue with no lists at all (a first run) is filled with this many past days in the background, so
# /paper trending month and the first digest have data without waiting for the ingest cron or a manual ingest.
FIRST_RUN_DAYS = 30
GAUGES_EVERY_S = 15.0


def _fail(line: str) -> None:
    """Print one line to stderr: the operator-facing failure text, never a traceback, secrets redacted."""
    print(redact(line), file=sys.stderr, flush=True)


def _host_of(url: str) -> str:
    """How an operator names the peer of `url`: "discord.com", or "127.0.0.1:5000" when a port is written."""
    parsed = yarl.URL(url)
    if not parsed.host:
        return url
    return parsed.host + (f":{parsed.explicit_port}" if parsed.explicit_port is not None else "")


def _without_voice() -> None:
    """paperbot has no voice features: stop discord.py warning at every start that PyNaCl and davey (its
    optional voice libraries) are missing. `Client.__init__` logs those two warnings while these class flags
    are set, and clears them after."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False


@contextlib.contextmanager
def _discord_endpoints(settings: Settings) -> Iterator[None]:
    """Point discord.py's REST base at `api_base_url` (if not the default) and restore both endpoints after."""
    saved_base, saved_gateway = discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    if not settings.discord.default_api:
        discord.http.Route.BASE = settings.discord.api_base_url.rstrip("/")
    try:
        yield
    finally:
        discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = saved_base, saved_gateway


async def _use_advertised_gateway(bot: PaperBot) -> None:
    """Connect to the gateway the REST endpoint advertises (`GET /gateway/bot`), as Discord's clients should."""
    _shards, url, _limits = await bot.http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    log.info("Using the gateway advertised by %s: %s", discord.http.Route.BASE, url)


def _shard_problem(exc: BaseException) -> str | None:
    """The line for a gateway end that the shard settings caused (fixed in the config, not by retrying).

    An invalid shard (4010) cannot happen: the config refuses ids at or past shard_count."""
    if isinstance(exc, ShardsOutOfRange):
        return f"paperbot: {exc}"
    if isinstance(exc, discord.ConnectionClosed) and exc.code == 4011:
        return (
            f"paperbot: Discord requires more shards: shard {exc.shard_id} would hold too many guilds; raise "
            "[discord] shard_count (or --shard-count), or set it to 0 for Discord's recommended count"
        )
    return None


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """Turn SIGINT/SIGTERM into `stop.set()` for the duration, restoring the default handlers after."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def _request_stop(sig: signal.Signals) -> None:
        if stop.is_set():
            log.info("Received %s again; still shutting down", sig.name)
        else:
            log.info("Received %s; shutting down", sig.name)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, _request_stop, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
            continue
        installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _schedule_ingest(
    scheduler: Scheduler, catalogue: Catalogue, sources: Sources, cron: str, owner: str | None = None
) -> None:
    """Refresh yesterday's and today's lists on the configured cron (a no-op when Hugging Face is off).

    Each firing runs in one process only, whichever claims it first in the catalogue (several bot processes
    on one PostgreSQL catalogue schedule the same cron)."""
    if sources.huggingface is None:
        log.info("Hugging Face source disabled: no scheduled ingest")
        return

    async def ingest_recent() -> None:
        for day in default_days():
            try:
                await ingest_day(day, catalogue, sources)
            except SourceError as exc:  # an outage is expected now and then; the next run retries
                log.warning("Scheduled ingest of %s failed: %s", day, exc)

    claimer = owner or process_owner()

    async def claim(job_id: str, slot_time: dt.datetime) -> bool:
        return await catalogue.digests.claim_slot(job_id, slot_time, owner=claimer, now=scheduler.now())

    scheduler.add_claimed_cron_job(INGEST_JOB_ID, cron, ingest_recent, claim)


async def _first_run_fill(catalogue: DailyLists, sources: Sources) -> None:
    """Fill an empty catalogue with the last FIRST_RUN_DAYS lists; best effort, never fatal."""
    if sources.huggingface is None or await catalogue.latest_day() is not None:
        return
    _yesterday, today = default_days()
    since = today - dt.timedelta(days=FIRST_RUN_DAYS - 1)
    log.info("Empty catalogue: fetching the Daily Papers lists from %s to %s in the background", since, today)
    report = await ingest_range(since, today, catalogue, sources)
    log.info(
        "First-run fill: %d of %d days landed, %d papers listed%s",
        len(report.days) - len(report.failed),
        FIRST_RUN_DAYS,
        report.listed,
        f"; {report.aborted}" if report.aborted else "",
    )


def _gateway_state(bot: PaperBot) -> GatewayState:
    """For the heartbeat: each shard this process runs → connected (its socket open, READY seen)."""
    ready = bot.is_ready()
    if isinstance(bot, discord.AutoShardedClient):
        expected = bot.shard_ids if bot.shard_ids is not None else range(bot.shard_count or 0)
        shards = {sid: ready and (info := bot.get_shard(sid)) is not None and not info.is_closed() for sid in expected}
    else:
        shards = {bot.shard_id or 0: ready and bot.ws is not None and bot.ws.open}
    return GatewayState(shards, latency_s=bot.latency)


async def _update_gauges(stores: Stores) -> None:
    """Keep the size and index-lag gauges current (read every `GAUGES_EVERY_S`; cheap queries)."""
    while True:
        try:
            stats = await stores.catalogue.stats()
            metrics.set_catalogue_size(stats.papers, stats.days)
            metrics.set_index_lag("keyword", await stores.search.index_lag())
        except Exception:  # a gauge must never take anything down; the next round tries again
            log.debug("updating the metrics gauges failed", exc_info=True)
        await asyncio.sleep(GAUGES_EVERY_S)


async def _serve(
    bot: PaperBot, scheduler: Scheduler, stop: asyncio.Event, background: tuple[asyncio.Task[None], ...] = ()
) -> int:
    """Run the gateway until `stop` is set or the connection fails for good; then stop in order."""
    gateway = asyncio.create_task(bot.connect(reconnect=True), name="paperbot-gateway")
    stopping = asyncio.create_task(stop.wait(), name="paperbot-stop")
    status = EXIT_OK
    try:
        await asyncio.wait({gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if gateway.done() and not gateway.cancelled() and (exc := gateway.exception()) is not None:
            status = EXIT_FAILURE
            if isinstance(exc, discord.ConnectionClosed) and exc.code == 4004:
                _fail(REJECTED_TOKEN_MESSAGE)
            elif (shard_problem := _shard_problem(exc)) is not None:
                _fail(shard_problem)
                status = EXIT_USAGE
            else:
                peer = _host_of(str(DiscordWebSocket.DEFAULT_GATEWAY))
                _fail(f"paperbot: lost the connection to Discord: {describe_network_error(exc, peer)}")
    finally:
        stopping.cancel()
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task
        scheduler.shutdown()
        await bot.close()
        # close() ends connect()'s loop; wait for it so no task outlives the run.
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await gateway
    log.info("Stopped")
    return status


async def run_bot(settings: Settings, *, stop: asyncio.Event | None = None) -> int:
    """Run the bot until SIGINT/SIGTERM (or `stop` is set) and return the process exit status.

    0 after a clean stop, 1 when Discord rejects the token or cannot be reached, 2 without a token.
    `stop` lets an embedding program (or a test) request the same graceful shutdown as a signal.
    """
    token = settings.discord.token.get_secret_value().strip()
    if not token:
        _fail(NO_TOKEN_MESSAGE)
        return EXIT_USAGE
    stop = stop if stop is not None else asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        stack.enter_context(_stop_on_signals(stop))
        try:
            stack.enter_context(metrics.serve(settings.metrics.address))
        except OSError as exc:
            host, port = settings.metrics.address or ("?", 0)
            _fail(f"paperbot: cannot serve metrics on {host}:{port} ([metrics] listen): {exc.strerror or exc}")
            return EXIT_FAILURE
        stores = await stack.enter_async_context(open_stores(settings, role="bot"))
        catalogue = stores.catalogue
        # --- shards: one bot per SQLite file (it then resumes its own half-made posts at once); any number on
        # PostgreSQL, where the post and slot claims keep them from doubling anything.
        owner = process_owner()
        if catalogue.backend == "sqlite":
            sole = SoleBotLock(Path(catalogue.location))
            if (holder := sole.acquire()) is not None:
                _fail(
                    f"paperbot: another bot ({holder}) is already running on {catalogue.location}; stop it first "
                    "(on one SQLite file a second bot could post digests twice; PostgreSQL runs several)"
                )
                return EXIT_FAILURE
            stack.callback(sole.release)
            owner = sole_owner(Path(catalogue.location))
        # --- end shards
        sources = await stack.enter_async_context(open_sources(settings))
        stack.enter_context(_discord_endpoints(settings))
        scheduler = Scheduler()
        _without_voice()
        hf_on = sources.huggingface is not None
        bot = PaperBot(
            settings,
            catalogue=catalogue,
            search=stores.search,
            sources=sources,
            scheduler=scheduler,
            digest_refresh=(lambda day: ingest_day(day, catalogue, sources)) if hf_on else None,
            digest_owner=owner,
        )
        try:
            await bot.login(token)  # also runs setup_hook: extensions + command sync
            if not settings.discord.default_api:
                await _use_advertised_gateway(bot)
        except discord.LoginFailure:
            await bot.close()
            _fail(REJECTED_TOKEN_MESSAGE)
            return EXIT_FAILURE
        except (TimeoutError, discord.DiscordException, aiohttp.ClientError, OSError) as exc:
            await bot.close()
            where = discord.http.Route.BASE
            _fail(f"paperbot: could not start on Discord at {where}: {describe_network_error(exc, _host_of(where))}")
            return EXIT_FAILURE
        _schedule_ingest(scheduler, catalogue, sources, settings.ingest.cron, owner)
        scheduler.start()
        first_fill = asyncio.create_task(_first_run_fill(catalogue, sources), name="paperbot-first-fill")
        gauges = asyncio.create_task(_update_gauges(stores), name="paperbot-metrics-gauges")
        # The liveness file `paperbot health` reads (bot/health.py): written from this loop, deleted at stop.
        beats = Heartbeat(heartbeat_path(settings), lambda: _gateway_state(bot))
        heartbeat = asyncio.create_task(beats.run(), name="paperbot-heartbeat")
        return await _serve(bot, scheduler, stop, (first_fill, gauges, heartbeat))
    raise AssertionError("unreachable")  # pragma: no cover  (mypy: async with may swallow exceptions)


def run(settings: Settings) -> int:
    """Synchronous entry point for `paperbot run`: run the bot in a fresh event loop, return the exit status."""
    try:
        return asyncio.run(run_bot(settings))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return EXIT_OK
