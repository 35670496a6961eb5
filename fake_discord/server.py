"""FakeDiscord: the loopback Discord (REST under ``/api/v10`` + gateway websocket) that tests log a real
discord.py client into.

This module holds the server's lifecycle, state, recording, request pipeline (auth, scripted 429/5xx, error
mapping) and waiting primitives; the REST handlers live in :mod:`.rest`, the websocket in :mod:`.gateway`,
body limits in :mod:`.limits`, and interaction payload builders in :mod:`.payloads`.

Request pipeline (``_middleware``), in order: record the request → scripted rate limit (429) or failure
(5xx/4xx) for matching routes → bot-token check (401) for routes that need one → handler → JSON answer with
``Content-Type: application/json`` exactly (discord.py decodes JSON only then). A :class:`DiscordError` becomes
Discord's error body. A *bug in the fake* becomes a 400 (not a 5xx, which discord.py would silently retry for
~25 s) and is kept in ``fake.internal_errors``; an unknown route becomes Discord's 404 and is kept in
``fake.unhandled``. ``fake.assert_clean()`` fails a test on either.
"""

# ruff: noqa: ASYNC109  -- waits take a ``timeout`` deadline by design (the test-facing API)
from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import hashlib
import json
import logging
import secrets
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from .clock import Clock, monotonic
from .errors import DiscordError
from .gateway import Gateway, GatewaySession
from .interactions import InteractionHandle
from .messages import StoredMessage
from .permissions import P
from .records import InteractionRecord, RecordedRequest
from .snowflake import SnowflakeFactory
from .world import APP_ID, OWNER_USER_ID, Channel, Guild, User, bot_user, default_guild

__all__ = ["API_PREFIX", "FakeDiscord", "FakeTimeout"]

_log = logging.getLogger(__name__)
API_PREFIX = "/api/v10"
T = TypeVar("T")
# Where the pipeline leaves the parsed request for the handlers (typed keys on aiohttp >= 3.12).
_RequestKey: Any = getattr(web, "RequestKey", None)
BODY_KEY: Any = _RequestKey("fake_json", object) if _RequestKey else "fake_json"
FILES_KEY: Any = _RequestKey("fake_files", list) if _RequestKey else "fake_files"


class FakeTimeout(AssertionError):
    """A wait on the fake timed out; the message says what was awaited and what the fake saw."""


@dataclass
class _Script:
    pattern: str
    remaining: int
    kind: str  # "ratelimit" | "fail"
    status: int = 429
    retry_after: float = 0.0
    is_global: bool = False
    code: int = 0
    message: str = ""


def _json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    return web.Response(body=body, status=status, headers=hdrs)


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
        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self.snowflake = SnowflakeFactory()

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
        self._scripts: list[_Script] = []

        self._event = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

        from .payloads import PayloadBuilder  # local: payloads imports server types for annotations only

        #: interaction payload builders (``fake.build.chat_input(...)``), see :mod:`.payloads`
        self.build = PayloadBuilder(self)

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> FakeDiscord:
        from .rest import register_routes

        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
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
        for guild in self.guilds:
            channel = guild.channel(channel_id)
            if channel is not None:
                return guild, channel
        return None

    def bot_permissions(self, guild: Guild, channel: Channel | None = None) -> int:
        member = guild.member(self.bot_user.id)
        if member is None:
            return 0
        return guild.permissions_for(member, channel)

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
            "guilds": [{"id": str(g.id), "unavailable": True} for g in self.guilds],
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

    async def create_channel(self, channel: Channel, guild_id: int | None = None) -> Channel:
        """Add ``channel`` to a guild (default: the first) and tell the client (CHANNEL_CREATE)."""
        guild = self.guild(guild_id) if guild_id is not None else self.guilds[0]
        if guild is None:
            raise LookupError(f"no configured guild {guild_id}")
        guild.channels.append(channel)
        if self.gateway.session is not None:
            await self.gateway.dispatch("CHANNEL_CREATE", channel.to_dict(guild.id))
        self._changed()
        return channel

    async def delete_channel(self, channel_id: int) -> Channel:
        """Remove a channel (posts there then get 10003) and tell the client (CHANNEL_DELETE)."""
        found = self.find_channel(channel_id)
        if found is None:
            raise LookupError(f"no channel {channel_id}")
        guild, channel = found
        guild.channels.remove(channel)
        if self.gateway.session is not None:
            await self.gateway.dispatch("CHANNEL_DELETE", channel.to_dict(guild.id))
        self._changed()
        return channel

    # -- recording views -----------------------------------------------------------------------------------
    @property
    def unhandled(self) -> list[RecordedRequest]:
        """Requests to routes the fake does not implement (answered 404/405)."""
        return [r for r in self.requests if not r.route]

    @property
    def rejected(self) -> list[RecordedRequest]:
        """Requests the fake refused on its own (status >= 400, not scripted): what Discord would have refused."""
        return [r for r in self.requests if r.status >= 400 and not r.scripted]

    def requests_to(self, pattern: str) -> list[RecordedRequest]:
        """Recorded requests whose ``"METHOD /path"`` or route template matches the glob ``pattern``."""
        return [r for r in self.requests if _matches(pattern, r.method, r.path, r.route)]

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
        """Forget recorded requests, messages, interactions and scripts (keeps guilds, commands, sessions).

        For module/session-scoped bots: call between tests so each test asserts only on its own traffic.
        """
        self.requests.clear()
        self.internal_errors.clear()
        self.channel_history.clear()
        self.messages_by_id.clear()
        self.interactions.clear()
        self._interactions_by_token.clear()
        self._scripts.clear()
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
        self._scripts.append(_Script(route_pattern, times, "ratelimit", 429, retry_after, is_global))

    def fail_next(
        self, route_pattern: str, status: int = 503, *, times: int = 1, code: int = 0, message: str | None = None
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and a Discord error body.

        Note discord.py *retries* 500/502/504/524 (sleeping 1, 3, 5… s) but raises at once on other 5xx
        (``DiscordServerError``) — script 503 to test the bot's failure path quickly.
        """
        text = message or {
            500: "500: Internal Server Error",
            502: "502: Bad Gateway",
            503: "503: Service Unavailable",
        }.get(status, f"{status}: scripted failure")
        self._scripts.append(_Script(route_pattern, times, "fail", status, code=code, message=text))

    def _take_script(self, method: str, path: str, route: str) -> _Script | None:
        for script in self._scripts:
            if script.remaining > 0 and _matches(script.pattern, method, path, route):
                script.remaining -= 1
                if script.remaining == 0:
                    self._scripts.remove(script)
                return script
        return None

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
        """Dispatch an INTERACTION_CREATE over the gateway; returns a handle to await the bot's answers."""
        if self.gateway.session is None or self.gateway.session.connection is None:
            await self.wait_for(
                lambda: self.gateway.session is not None and self.gateway.session.connection is not None,
                timeout=10.0,
                what="a live gateway session to dispatch the interaction on",
            )
        member = payload.get("member") or {}
        user = member.get("user") or payload.get("user") or {}
        record = InteractionRecord(
            id=int(payload["id"]),
            token=str(payload["token"]),
            type=int(payload["type"]),
            payload=payload,
            application_id=int(payload["application_id"]),
            guild_id=int(payload["guild_id"]) if payload.get("guild_id") else None,
            channel_id=int(payload["channel_id"]) if payload.get("channel_id") else None,
            user_id=int(user["id"]) if user.get("id") else None,
        )
        if payload.get("message"):
            record.component_message_id = int(payload["message"]["id"])
        self.interactions[record.id] = record
        self._interactions_by_token[record.token] = record
        record.dispatched_at = self.clock()
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
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
        """Create and store a message (used by the REST handlers; tests may use it to seed history)."""
        if can_mention_everyone is None:
            found = self.find_channel(channel_id)
            can_mention_everyone = bool(found and self.bot_permissions(*found) & P.MENTION_EVERYONE)
        msg = StoredMessage(
            id=self.snowflake(),
            channel_id=channel_id,
            guild_id=guild_id,
            author=author or self.bot_user.to_dict(),
            can_mention_everyone=can_mention_everyone,
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
        msg.flags |= extra_flags
        self.messages_by_id[msg.id] = msg
        if visible and not msg.ephemeral:
            self.channel_history.setdefault(channel_id, []).append(msg)
        self._changed()
        return msg

    def add_user_message(self, channel_id: int, content: str, *, author_id: int) -> StoredMessage:
        """Seed a channel with a message from a (non-bot) member, e.g. for history-reading tests."""
        found = self.find_channel(channel_id)
        if found is None:
            raise LookupError(f"no channel {channel_id}")
        member = found[0].member(author_id)
        author = member.user.to_dict() if member else User(author_id, f"user{author_id}").to_dict()
        return self.new_message(channel_id, {"content": content}, author=author, can_mention_everyone=False)

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

    # -- request pipeline ----------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/") and request.path != API_PREFIX:
            return await handler(request)  # gateway websocket
        path = request.path[len(API_PREFIX) :] or "/"
        resource = getattr(request.match_info.route, "resource", None)
        route = ""
        if resource is not None and request.match_info.http_exception is None:
            route = f"{request.method} {resource.canonical[len(API_PREFIX) :]}"
        rec = RecordedRequest(
            method=request.method, path=path, route=route, query=dict(request.query), json=None, at=self.clock()
        )
        self.requests.append(rec)
        try:
            rec.json, rec.files = await _read_body(request)
            interaction = self._request_interaction(request)
            if interaction is not None:
                rec.interaction_id = interaction.id
                if interaction.dispatched_at is not None:
                    rec.since_dispatch = rec.at - interaction.dispatched_at
                interaction.requests.append(rec)
            if not route:
                exc = request.match_info.http_exception
                err = (
                    DiscordError.method_not_allowed()
                    if exc is not None and exc.status == 405
                    else DiscordError.not_found()
                )
                return self._finish(rec, _json_response(err.body(), err.status), err.code)
            script = self._take_script(request.method, path, route)
            if script is not None:
                rec.scripted = True
                return self._finish(rec, self._scripted_response(script, path), script.code)
            if _needs_bot_token(route) and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError.unauthorized()
            request[BODY_KEY] = rec.json
            request[FILES_KEY] = rec.files
            result = await handler(request)
            return self._finish(rec, result, 0)
        except DiscordError as err:
            return self._finish(rec, _json_response(err.body(), err.status, err.headers), err.code)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug in the fake: answer 400 so discord.py fails fast instead of retrying
            detail = f"{request.method} {path}: {exc!r}\n{traceback.format_exc()}"
            self.internal_errors.append(detail)
            _log.error("fake discord internal error: %s", detail)
            body = {"message": f"fake discord internal error: {exc!r}", "code": 0}
            return self._finish(rec, _json_response(body, 400), 0)
        finally:
            self._changed()

    def _finish(self, rec: RecordedRequest, response: web.StreamResponse, code: int) -> web.StreamResponse:
        rec.status = response.status
        rec.code = code
        if (
            isinstance(response, web.Response)
            and response.body is not None
            and response.content_type == "application/json"
        ):
            with contextlib.suppress(ValueError, TypeError):
                rec.response = json.loads(response.body)  # type: ignore[arg-type]
        return response

    def _scripted_response(self, script: _Script, path: str) -> web.Response:
        if script.kind == "fail":
            return _json_response({"message": script.message, "code": script.code}, script.status)
        bucket = hashlib.sha1(path.encode()).hexdigest()[:16]
        headers = {
            "Retry-After": f"{script.retry_after:g}",
            "Via": "1.1 google",
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": f"{time.time() + script.retry_after:.3f}",
            "X-RateLimit-Reset-After": f"{script.retry_after:.3f}",
            "X-RateLimit-Bucket": bucket,
            "X-RateLimit-Scope": "global" if script.is_global else "user",
        }
        if script.is_global:
            headers["X-RateLimit-Global"] = "true"
        body = {"message": "You are being rate limited.", "retry_after": script.retry_after, "global": script.is_global}
        return _json_response(body, 429, headers)

    def _request_interaction(self, request: web.Request) -> InteractionRecord | None:
        info = request.match_info
        token = info.get("token")
        if token is not None:
            return self._interactions_by_token.get(token)
        return None


def _matches(pattern: str, method: str, path: str, route: str) -> bool:
    if pattern.startswith("/"):
        return fnmatch.fnmatchcase(path, pattern) or (bool(route) and route.split(" ", 1)[1] == pattern)
    return fnmatch.fnmatchcase(f"{method} {path}", pattern) or route == pattern


def _needs_bot_token(route: str) -> bool:
    """Interaction callbacks and webhook-token routes authenticate by the token in the URL; GET /gateway is
    public. Everything else needs ``Authorization: Bot <token>``."""
    template = route.split(" ", 1)[-1]
    return not (template.startswith(("/interactions/", "/webhooks/")) or template == "/gateway")


async def _read_body(request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
    if not request.can_read_body:
        return None, []
    ctype = request.content_type
    if ctype == "multipart/form-data":
        payload: Any = None
        files: list[dict[str, Any]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                try:
                    payload = json.loads(await part.text())
                except ValueError:
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
            else:
                data = await part.read()
                files.append({"name": part.name, "filename": part.filename, "size": len(data)})
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
