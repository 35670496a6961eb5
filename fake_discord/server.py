"""FakeDiscord: the loopback Discord (REST under ``/api/v10`` + gateway websocket) that tests log a real
discord.py client into.

This module holds the server's lifecycle, configuration, state, recording, world changes and waiting
primitives. The other jobs live beside it: the request pipeline in :mod:`.pipeline`, the REST handlers in
:mod:`.rest`, the websocket (sharding included) in :mod:`.gateway`, body limits in :mod:`.limits`, rate limits
in :mod:`.ratelimits`, scripted failures in :mod:`.faults`, mentions in :mod:`.mentions`, nonces in
:mod:`.nonces`, DMs in :mod:`.dms`, and interaction payload builders in :mod:`.payloads`.
"""

# ruff: noqa: ASYNC109  -- waits take a ``timeout`` deadline by design (the test-facing API)
from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from .clock import Clock, monotonic
from .dms import DM_PERMISSIONS, DirectMessages
from .faults import Faults, matches
from .gateway import Gateway, GatewaySession
from .interactions import InteractionHandle
from .limits import MessageFlags
from .mentions import MentionRules
from .messages import MessageEdit, StoredMessage
from .nonces import NonceRegistry
from .permissions import P
from .pipeline import API_PREFIX, BODY_KEY, FILES_KEY, Pipeline
from .ratelimits import RateLimiter
from .records import InteractionRecord, RecordedRequest
from .snowflake import SnowflakeFactory
from .world import APP_ID, OWNER_USER_ID, Channel, Guild, Overwrite, Role, User, bot_user, default_guild, shard_of

__all__ = ["API_PREFIX", "BODY_KEY", "FILES_KEY", "FakeDiscord", "FakeTimeout", "SessionStartLimit"]

T = TypeVar("T")


class FakeTimeout(AssertionError):
    """A wait on the fake timed out; the message says what was awaited and what the fake saw."""


@dataclass
class SessionStartLimit:
    """``GET /gateway/bot``'s ``session_start_limit``: IDENTIFYs left today and how many may run at once.

    Every accepted IDENTIFY takes one from ``remaining``; at 0 the next is closed with 4004 (Discord resets the
    token of a bot that exhausts its daily limit). ``max_concurrency`` is the number of identify buckets
    (``shard_id % max_concurrency``), used when ``FakeDiscord(identify_interval=…)`` enforces their pace.
    """

    total: int = 1000
    remaining: int = 1000
    reset_after_ms: int = 86_400_000
    max_concurrency: int = 1

    def take(self) -> bool:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True

    def to_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "remaining": self.remaining,
            "reset_after": self.reset_after_ms,
            "max_concurrency": self.max_concurrency,
        }


class FakeDiscord:
    """A loopback Discord. See the package docstring (``fake_discord/__init__.py``) for the API tour."""

    def __init__(
        self,
        *,
        guilds: Sequence[Guild] | None = None,
        token: str = "fake-bot-token",
        app_id: int = APP_ID,
        bot_name: str = "paperbot",
        owner_id: int = OWNER_USER_ID,
        clock: Clock = monotonic,
        interaction_timeout: float = 3.0,
        token_lifetime: float = 15 * 60.0,
        heartbeat_interval_ms: int = 41_250,
        host: str = "127.0.0.1",
        shard_count: int = 1,
        session_start_limit: SessionStartLimit | None = None,
        max_guilds_per_shard: int | None = None,
        identify_interval: float | None = None,
        nonce_window: float = 300.0,
        nonce_scope: str = "channel",
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.bot_user: User = bot_user(app_id, bot_name)
        self.owner_id = owner_id
        self.guilds: list[Guild] = list(guilds) if guilds is not None else [default_guild(bot_user_id=app_id)]
        self.clock = clock
        self.interaction_timeout = interaction_timeout
        self.token_lifetime = token_lifetime
        self.host = host
        self.port = 0
        if shard_count < 1:
            raise ValueError("shard_count must be at least 1")
        #: what ``GET /gateway/bot`` recommends (``shards``); clients may identify with any count they like
        self.shard_count = shard_count
        self.session_start_limit = session_start_limit or SessionStartLimit()
        #: close an IDENTIFY whose shard would hold more guilds than this with 4011 (Discord: 2500)
        self.max_guilds_per_shard = max_guilds_per_shard
        #: enforce one IDENTIFY per this many seconds per concurrency bucket (Discord: 5 s); None = don't
        self.identify_interval = identify_interval
        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self.snowflake = SnowflakeFactory()
        #: DM channels and users with DMs closed (``fake.dms.close(user_id)``), see :mod:`.dms`
        self.dms = DirectMessages(self.snowflake, lambda: self.guilds, self.bot_user.id)
        #: the global and per-route rate limits (off until configured), see :mod:`.ratelimits`
        self.rate_limits = RateLimiter(clock)
        #: message nonces with ``enforce_nonce``, see :mod:`.nonces`
        self.nonces = NonceRegistry(clock, window=nonce_window, scope=nonce_scope)
        #: scripted answers (``rate_limit_next``, ``fail_next``, ``fail_after_create``), see :mod:`.faults`
        self.faults = Faults()
        self._channel_index: dict[int, tuple[Guild, Channel]] = {}
        self._channel_index_key: tuple[int, int] = (0, -1)

        # recorded state
        self.requests: list[RecordedRequest] = []
        self.internal_errors: list[str] = []
        #: synced application commands: None = global, else guild id -> list of command objects
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.command_syncs: list[tuple[int | None, list[dict[str, Any]]]] = []
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        #: channel id -> visible (non-ephemeral, not deleted) messages, oldest first
        self.channel_history: dict[int, list[StoredMessage]] = {}
        self.messages_by_id: dict[int, StoredMessage] = {}
        self.interactions: dict[int, InteractionRecord] = {}
        self._interactions_by_token: dict[str, InteractionRecord] = {}

        self._event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

        from .payloads import PayloadBuilder  # local: payloads imports server types for annotations only

        #: interaction payload builders (``fake.build.chat_input(...)``), see :mod:`.payloads`
        self.build = PayloadBuilder(self)

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        from .rest import register_routes

        app = web.Application(middlewares=[Pipeline(self).middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get(Gateway.PATH, self.gateway.handle)
        app.router.add_get(Gateway.RESUME_PATH, self.gateway.handle)
        register_routes(self, app, API_PREFIX)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.host, 0)
        await self._site.start()
        server = self._site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        for conn in list(self.gateway.connections):
            if conn.open:
                with contextlib.suppress(Exception):
                    await conn.close(1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base_url(self) -> str:
        """What ``discord.http.Route.BASE`` / the bot's ``discord.api_base_url`` must be set to."""
        return f"{self.base_url}{API_PREFIX}"

    # -- world lookups -------------------------------------------------------------------------------------
    def guild(self, guild_id: int) -> Guild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel] | None:
        """The guild channel (or thread) with this id and its guild; DM channels are not in a guild (see
        :meth:`lookup_channel`)."""
        key = (id(self.guilds), len(self.guilds))
        hit = self._channel_index.get(channel_id) if key == self._channel_index_key else None
        if hit is not None and hit[0].channel(channel_id) is hit[1]:
            return hit
        # Guilds are plain mutable objects tests change directly: rebuild the index on any miss.
        self._channel_index = {c.id: (g, c) for g in self.guilds for c in g.channels}
        self._channel_index_key = key
        return self._channel_index.get(channel_id)

    def lookup_channel(self, channel_id: int) -> tuple[Guild | None, Channel] | None:
        """Any channel the bot can address: a guild channel or thread (with its guild) or a DM channel (None)."""
        dm = self.dms.channel(channel_id)
        if dm is not None:
            return None, dm
        return self.find_channel(channel_id)

    def bot_permissions(self, guild: Guild | None, channel: Channel | None = None) -> int:
        """The bot's permissions in ``channel`` of ``guild`` (a DM channel when ``guild`` is None)."""
        if guild is None:
            return DM_PERMISSIONS
        member = guild.member(self.bot_user.id)
        if member is None:
            return 0
        return guild.permissions_for(member, channel)

    def mention_rules(
        self, guild: Guild | None, channel: Channel | None, *, author_id: int | None = None
    ) -> MentionRules:
        """What ``author_id`` (default: the bot) may ping in ``channel``: see :mod:`.mentions`."""
        if guild is None:
            return MentionRules()
        uid = self.bot_user.id if author_id is None else author_id
        member = guild.member(uid)
        perms = guild.permissions_for(member, channel) if member is not None else 0
        return MentionRules(
            can_mention_everyone=bool(perms & P.MENTION_EVERYONE),
            roles=frozenset(r.id for r in guild.roles if r.id != guild.id),
            mentionable_roles=frozenset(r.id for r in guild.roles if r.mentionable),
        )

    def shard_of(self, guild_id: int, shard_count: int | None = None) -> int:
        """The shard a guild's events go to (``shard_count`` default: the recommended ``fake.shard_count``)."""
        return shard_of(guild_id, shard_count or self.shard_count)

    def application_object(self) -> dict[str, Any]:
        owner = User(self.owner_id, "owner", "Application Owner")
        return {
            "id": str(self.app_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "rpc_origins": [],
            "bot_public": True,
            "bot_require_code_grant": False,
            "bot": self.bot_user.to_dict(),
            "terms_of_service_url": None,
            "privacy_policy_url": None,
            "owner": owner.to_dict(),
            "verify_key": "0" * 64,
            "team": None,
            "guild_id": None,
            "primary_sku_id": None,
            "slug": None,
            "cover_image": None,
            "flags": 0,
            "tags": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "redirect_uris": [],
            "approximate_guild_count": len(self.guilds),
            "custom_install_url": None,
            "install_params": None,
            "integration_types_config": {"0": {}},
        }

    def _ready_payload(self, session: GatewaySession, *, shard: Any = None) -> dict[str, Any]:
        user = self.bot_user.to_dict()
        user.update(verified=True, mfa_enabled=False, email=None, bot=True)
        ready: dict[str, Any] = {
            "v": 10,
            "user": user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self.guilds if session.holds(g.id)],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway.resume_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "_trace": ["fake-discord"],
        }
        if shard is not None:
            ready["shard"] = shard
        return ready

    def guild_create_payload(self, guild: Guild) -> dict[str, Any]:
        """GUILD_CREATE's data for ``guild``: everything a client caches, active threads included."""
        return guild.to_dict(full=True)

    # -- changing the world (each change is also sent to the sessions of the guild's shard) -----------------
    async def create_channel(self, channel: Channel, guild_id: int | None = None) -> Channel:
        """Add ``channel`` to a guild (default: the first) and tell the client (CHANNEL_CREATE)."""
        guild = self._require_guild(guild_id)
        guild.channels.append(channel)
        await self.gateway.dispatch_if_connected("CHANNEL_CREATE", channel.to_dict(guild.id))
        self._changed()
        return channel

    async def delete_channel(self, channel_id: int) -> Channel:
        """Remove a channel or thread (posts there then get 10003); tell the client (CHANNEL_/THREAD_DELETE)."""
        found = self.find_channel(channel_id)
        if found is None:
            raise LookupError(f"no channel {channel_id}")
        guild, channel = found
        guild.channels.remove(channel)
        event = "THREAD_DELETE" if channel.is_thread else "CHANNEL_DELETE"
        await self.gateway.dispatch_if_connected(event, channel.to_dict(guild.id))
        self._changed()
        return channel

    async def update_channel(self, channel_id: int) -> Channel:
        """Tell the client a channel changed (CHANNEL_UPDATE / THREAD_UPDATE) after a test edited it in place."""
        found = self.find_channel(channel_id)
        if found is None:
            raise LookupError(f"no channel {channel_id}")
        guild, channel = found
        event = "THREAD_UPDATE" if channel.is_thread else "CHANNEL_UPDATE"
        await self.gateway.dispatch_if_connected(event, self.channel_payload(guild, channel))
        self._changed()
        return channel

    async def set_overwrite(self, channel_id: int, overwrite: Overwrite) -> Channel:
        """Replace (or add) the channel's permission overwrite for ``overwrite.id``, and send CHANNEL_UPDATE.

        E.g. ``Overwrite(id=ids.BOT_ROLE_ID, deny=int(P.CREATE_PUBLIC_THREADS))`` takes the bot's thread
        permission away in that channel (and in threads under it).
        """
        found = self.find_channel(channel_id)
        if found is None:
            raise LookupError(f"no channel {channel_id}")
        channel = found[1]
        channel.overwrites = [o for o in channel.overwrites if (o.type, o.id) != (overwrite.type, overwrite.id)]
        channel.overwrites.append(overwrite)
        return await self.update_channel(channel_id)

    async def add_role(self, role: Role, guild_id: int | None = None) -> Role:
        """Add a role to a guild (default: the first) and send GUILD_ROLE_CREATE."""
        guild = self._require_guild(guild_id)
        guild.roles.append(role)
        await self.gateway.dispatch_if_connected(
            "GUILD_ROLE_CREATE", {"guild_id": str(guild.id), "role": role.to_dict()}
        )
        self._changed()
        return role

    async def update_role(self, role: Role, guild_id: int | None = None) -> Role:
        """Send GUILD_ROLE_UPDATE for a role a test changed in place (permissions, ``mentionable``…)."""
        guild = self._require_guild(guild_id)
        if guild.role(role.id) is not role:
            raise LookupError(f"role {role.id} is not in guild {guild.id}")
        await self.gateway.dispatch_if_connected(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild.id), "role": role.to_dict()}
        )
        self._changed()
        return role

    def _require_guild(self, guild_id: int | None) -> Guild:
        guild = self.guild(guild_id) if guild_id is not None else (self.guilds[0] if self.guilds else None)
        if guild is None:
            raise LookupError(f"no configured guild {guild_id}")
        return guild

    def channel_payload(self, guild: Guild | None, channel: Channel) -> dict[str, Any]:
        """A channel's JSON as REST and the gateway show it (threads with their message counts)."""
        history = self.channel_history.get(channel.id, [])
        return channel.to_dict(
            None if guild is None else guild.id,
            message_count=len(history),
            last_message_id=history[-1].id if history else None,
        )

    # -- threads and DMs (views) ---------------------------------------------------------------------------
    def threads(self, parent_id: int | None = None) -> list[Channel]:
        """Threads the fake knows, oldest first (of one parent channel when ``parent_id`` is given)."""
        return [
            c
            for g in self.guilds
            for c in g.channels
            if c.is_thread and (parent_id is None or c.parent_id == parent_id)
        ]

    def thread_for(self, message_id: int) -> Channel | None:
        """The thread started from a message (its id is the message's id, as on Discord)."""
        found = self.find_channel(int(message_id))
        return found[1] if found is not None and found[1].is_thread else None

    def dm_messages(self, user_id: int) -> list[StoredMessage]:
        """Messages delivered to the DM channel with ``user_id``, oldest first."""
        channel = self.dms.channel_with(user_id)
        return self.channel_messages(channel.id) if channel is not None else []

    # -- recording views -----------------------------------------------------------------------------------
    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement (answered 404/405)."""
        return [r for r in self.requests if not r.route]

    @property
    def rejected(self) -> list[RecordedRequest]:
        """Requests the fake refused on its own (status >= 400, not scripted, not a rate-limit 429): what
        Discord would have refused as wrong."""
        return [r for r in self.requests if r.status >= 400 and not r.scripted and not r.rate_limited]

    @property
    def rate_limited(self) -> list[RecordedRequest]:
        """Requests answered 429 by ``fake.rate_limits`` (scripted 429s are in ``requests`` as ``scripted``)."""
        return [r for r in self.requests if r.rate_limited]

    def requests_to(self, pattern: str) -> list[RecordedRequest]:
        """Recorded requests whose ``"METHOD /path"`` or route template matches the glob ``pattern``."""
        return [r for r in self.requests if matches(pattern, r.method, r.path, r.route)]

    def channel_messages(self, channel_id: int) -> list[StoredMessage]:
        """Visible messages of a channel, oldest first (ephemeral and deleted ones excluded)."""
        return list(self.channel_history.get(channel_id, []))

    def message(self, message_id: int) -> StoredMessage:
        try:
            return self.messages_by_id[int(message_id)]
        except KeyError:
            raise LookupError(f"the fake has no message {message_id}") from None

    def assert_clean(self) -> None:
        """Fail if the bot hit a route the fake doesn't know or the fake itself crashed."""
        problems = [f"unhandled route: {r}" for r in self.unhandled]
        problems += [f"fake internal error: {e}" for e in self.internal_errors]
        if problems:
            raise AssertionError("fake Discord saw problems:\n  " + "\n  ".join(problems))

    def reset(self) -> None:
        """Forget recorded requests, messages, interactions, scripts, nonces and rate-limit windows (keeps guilds,
        commands, sessions, DM channels and the configured limits).

        For module/session-scoped bots: call between tests so each test asserts only on its own traffic.
        """
        self.requests.clear()
        self.internal_errors.clear()
        self.channel_history.clear()
        self.messages_by_id.clear()
        self.interactions.clear()
        self._interactions_by_token.clear()
        self.faults.clear()
        self.nonces.clear()
        self.rate_limits.reset()
        self._changed()

    # -- scripting -----------------------------------------------------------------------------------------
    def rate_limit_next(
        self, route_pattern: str, retry_after: float = 0.05, *, times: int = 1, is_global: bool = False
    ) -> None:
        """Answer the next ``times`` requests matching ``route_pattern`` with 429 (+ Retry-After, Via, X-RateLimit-*).

        ``route_pattern`` is a glob over ``"METHOD /path"`` (path below /api/v10), e.g.
        ``"POST /channels/*/messages"``, or a route template such as ``"POST /channels/{channel_id}/messages"``;
        a pattern starting with ``/`` matches any method. discord.py sleeps ``retry_after`` and retries.
        """
        self.faults.rate_limit_next(route_pattern, retry_after, times, is_global)

    def fail_next(
        self, route_pattern: str, status: int = 503, *, times: int = 1, code: int = 0, message: str | None = None
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a Discord error body (the route does
        nothing).

        Note discord.py *retries* 500/502/504/524 (sleeping 1, 3, 5… s) but raises at once on other 5xx
        (``DiscordServerError``) — script 503 to test the bot's failure path quickly.
        """
        self.faults.fail_next(route_pattern, status, times, code, message)

    def fail_after_create(self, channel_id: int | None = None, *, status: int = 500, times: int = 1) -> None:
        """Carry out the next ``times`` message creates in ``channel_id`` (any channel when None), then answer
        ``status`` (500/502/504: discord.py retries the POST itself — a double post unless the bot sent a
        nonce with ``enforce_nonce``)."""
        self.faults.fail_after_create(channel_id, status, times)

    # -- waiting -------------------------------------------------------------------------------------------
    def _changed(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for(self, predicate: Callable[[], T | None], *, timeout: float = 5.0, what: str = "condition") -> T:
        """Wait (on state-change events, never sleeping) until ``predicate()`` is truthy; return its value.

        The predicate is re-evaluated whenever the *fake's* state changes (a request, a gateway message, a
        dispatch). State that only the client changes after the fake's last answer needs the client's own
        events (e.g. an ``asyncio.Event`` set in a listener).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise FakeTimeout(self._timeout_report(what, timeout))
            event = self._event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _timeout_report(self, what: str, timeout: float) -> str:
        recent = "\n    ".join(str(r) for r in self.requests[-15:]) or "(none)"
        extra = "".join(f"\n  fake internal error: {e}" for e in self.internal_errors)
        return f"timed out after {timeout:.1f}s waiting for {what}; last requests:\n    {recent}{extra}"

    async def wait_for_commands(self, guild_id: int | None = None, *, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the bot has synced commands to ``guild_id`` (None = global); returns them."""
        scope = "global" if guild_id is None else f"guild {guild_id}"
        return await self.wait_for(
            lambda: self.commands.get(guild_id), timeout=timeout, what=f"a command sync ({scope})"
        )

    async def wait_for_message(
        self,
        channel_id: int,
        predicate: Callable[[StoredMessage], bool] | None = None,
        *,
        timeout: float = 5.0,
    ) -> StoredMessage:
        """Wait for a visible message in ``channel_id`` (the newest one matching ``predicate``)."""

        def find() -> StoredMessage | None:
            for msg in reversed(self.channel_history.get(channel_id, [])):
                if predicate is None or predicate(msg):
                    return msg
            return None

        return await self.wait_for(find, timeout=timeout, what=f"a message in channel {channel_id}")

    # -- interactions --------------------------------------------------------------------------------------
    async def interact(self, payload: dict[str, Any]) -> InteractionHandle:
        """Dispatch an INTERACTION_CREATE over the gateway — to the session(s) of the shard holding the
        interaction's guild (shard 0 for DMs), as Discord routes it; returns a handle to await the answers."""
        guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        if not self.gateway.live_sessions_for(guild_id):
            where = f"guild {guild_id} (shard {self.shard_of(guild_id)})" if guild_id else "DMs (shard 0)"
            await self.wait_for(
                lambda: self.gateway.live_sessions_for(guild_id),
                timeout=10.0,
                what=f"a live gateway session for {where} to dispatch the interaction on",
            )
        member = payload.get("member") or {}
        user = member.get("user") or payload.get("user") or {}
        record = InteractionRecord(
            id=int(payload["id"]),
            token=str(payload["token"]),
            type=int(payload["type"]),
            payload=payload,
            application_id=int(payload["application_id"]),
            guild_id=guild_id,
            channel_id=int(payload["channel_id"]) if payload.get("channel_id") else None,
            user_id=int(user["id"]) if user.get("id") else None,
        )
        if payload.get("message"):
            record.component_message_id = int(payload["message"]["id"])
        self.interactions[record.id] = record
        self._interactions_by_token[record.token] = record
        record.dispatched_at = self.clock()
        receivers = self.gateway.sessions_for(guild_id)
        record.delivered_to = [s.id for s in receivers]
        record.shard = receivers[0].shard if receivers else None
        await self.gateway.dispatch("INTERACTION_CREATE", payload, guild_id=guild_id)
        self._changed()
        return InteractionHandle(self, record)

    async def slash(self, command: str, **kwargs: Any) -> InteractionHandle:
        """Build and dispatch a slash command: ``await fake.slash("paper search", query="attention")``.

        Keyword arguments are options by name plus the context keywords of :meth:`PayloadBuilder.chat_input`
        (``user_id``, ``guild_id``, ``channel_id``, ``locale``, ``guild_locale``, ``options``).
        """
        return await self.interact(self.build.chat_input(command, **kwargs))

    async def autocomplete(self, command: str, focused: str, **kwargs: Any) -> InteractionHandle:
        """Dispatch an autocomplete request; the focused option's value is the text typed so far."""
        return await self.interact(self.build.autocomplete(command, focused, **kwargs))

    async def click(
        self, message: StoredMessage | int, custom_id: str | None = None, **kwargs: Any
    ) -> InteractionHandle:
        """Press a button on a stored message (by ``custom_id`` or ``label=``)."""
        return await self.interact(self.build.button(message, custom_id, **kwargs))

    async def choose(
        self, message: StoredMessage | int, values: list[str], custom_id: str | None = None, **kwargs: Any
    ) -> InteractionHandle:
        """Pick ``values`` in a string select on a stored message."""
        return await self.interact(self.build.select(message, custom_id, values, **kwargs))

    async def submit_modal(self, custom_id: str, fields: dict[str, str], **kwargs: Any) -> InteractionHandle:
        return await self.interact(self.build.modal_submit(custom_id, fields, **kwargs))

    def new_interaction_token(self) -> str:
        return "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)

    # -- messages ------------------------------------------------------------------------------------------
    def new_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        *,
        author: dict[str, Any] | None = None,
        guild_id: int | None = None,
        interaction: InteractionRecord | None = None,
        extra_flags: int = 0,
        visible: bool = True,
        can_mention_everyone: bool | None = None,
    ) -> StoredMessage:
        """Create and store a message (used by the REST handlers; tests may use it to seed history).

        Who it pings follows from the world (:meth:`mention_rules` for its author in its channel); pass
        ``can_mention_everyone`` to override that one permission.
        """
        author = author or self.bot_user.to_dict()
        found = self.lookup_channel(channel_id)
        rules = self.mention_rules(found[0], found[1], author_id=int(author["id"])) if found else MentionRules()
        if can_mention_everyone is not None:
            rules = dataclasses.replace(rules, can_mention_everyone=can_mention_everyone)
        ref = body.get("message_reference") or {}
        replied = self.messages_by_id.get(int(ref["message_id"])) if ref.get("message_id") is not None else None
        if replied is not None:
            rules = dataclasses.replace(rules, replied_author_id=int(replied.author["id"]))
        msg = StoredMessage(
            id=self.snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=author,
            mention_rules=rules,
            flags=extra_flags,
        )
        if interaction is not None:
            msg.interaction_id = interaction.id
            msg.webhook_id = self.app_id
            msg.application_id = self.app_id
            user = self._interaction_user(interaction)
            msg.interaction_metadata = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": user,
                "authorizing_integration_owners": {"0": str(interaction.guild_id)} if interaction.guild_id else {},
            }
        msg.apply(body, create=True)
        self.messages_by_id[msg.id] = msg
        if visible and not msg.ephemeral:
            self.channel_history.setdefault(channel_id, []).append(msg)
        self._changed()
        return msg

    def edit_message(self, msg: StoredMessage, body: dict[str, Any], *, via: str) -> StoredMessage:
        """Apply an already validated edit and record it in ``msg.edits`` (the REST handlers call this)."""
        was_loading = msg.loading
        before_content, before_embeds = msg.content, copy.deepcopy(msg.embeds)
        msg.flags &= ~MessageFlags.LOADING
        msg.apply(body, create=False)
        msg.edited_ms = int(time.time() * 1000)
        msg.edits.append(
            MessageEdit(
                at=self.clock(),
                edited_ms=msg.edited_ms,
                before_content=before_content,
                after_content=msg.content,
                before_embeds=before_embeds,
                after_embeds=copy.deepcopy(msg.embeds),
                body=copy.deepcopy(body),
                via=via,
                from_loading=was_loading,
            )
        )
        self._changed()
        return msg

    def add_user_message(self, channel_id: int, content: str, *, author_id: int) -> StoredMessage:
        """Seed a channel with a message from a (non-bot) member, e.g. for history-reading tests."""
        found = self.find_channel(channel_id)
        if found is None:
            raise LookupError(f"no channel {channel_id}")
        member = found[0].member(author_id)
        author = member.user.to_dict() if member else User(author_id, f"user{author_id}").to_dict()
        return self.new_message(channel_id, {"content": content}, author=author, guild_id=found[0].id)

    def delete_message(self, msg: StoredMessage) -> None:
        msg.deleted = True
        history = self.channel_history.get(msg.channel_id, [])
        if msg in history:
            history.remove(msg)
        self._changed()

    @staticmethod
    def _interaction_user(record: InteractionRecord) -> dict[str, Any]:
        member = record.payload.get("member") or {}
        return dict(member.get("user") or record.payload.get("user") or {})
