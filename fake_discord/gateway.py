"""The fake's gateway: websockets speaking Discord's gateway protocol (v10, JSON encoding), sharded as Discord
shards.

Per connection: HELLO (``heartbeat_interval``), HEARTBEAT → HEARTBEAT_ACK, IDENTIFY → READY + one
GUILD_CREATE per guild of the session's shard, RESUME → missed events + RESUMED (or INVALID_SESSION for an
unknown session), REQUEST_GUILD_MEMBERS → one GUILD_MEMBERS_CHUNK. Tests push events with
:meth:`Gateway.dispatch` and break connections with :meth:`Gateway.disconnect` (a close code),
:meth:`Gateway.request_reconnect` (op 7) or :meth:`Gateway.invalidate_session` (op 9).

Sharding, as Discord does it: IDENTIFY may carry ``shard: [shard_id, shard_count]`` (absent = ``[0, 1]``).
A guild belongs to shard ``(guild_id >> 22) % shard_count``; READY lists only that shard's guilds, and every
guild event (GUILD_CREATE, INTERACTION_CREATE, CHANNEL_*, THREAD_CREATE, …) goes only to the sessions of the
shard holding the guild. Events without a guild (DMs) go to shard 0, as on Discord. Any number of connections
may be open at once — one per shard, from one process or many. IDENTIFY is refused by closing the socket with:

- 4004 authentication failed (wrong token, or the session start limit is used up — Discord resets the token);
- 4010 invalid shard (not two integers with ``0 <= shard_id < shard_count``);
- 4011 sharding required (``FakeDiscord(max_guilds_per_shard=N)`` and the shard would hold more than N guilds;
  Discord's N is 2500);
- 4005 already authenticated (a second IDENTIFY on the same socket).

With ``FakeDiscord(identify_interval=5.0)`` the IDENTIFY rate limit is enforced too: one IDENTIFY per
``identify_interval`` seconds (fake clock) per bucket ``shard_id % max_concurrency``; a faster one is answered
with op 9 INVALID_SESSION, as Discord does. Off by default so test clients need not wait 5 s per shard.

A client closing its socket with 1000 or 1001 ends its session (Discord: the session is invalidated and can't
be resumed); any other close — including a killed process, whose socket just drops — leaves it resumable, and
events for its shard are buffered for the RESUME.

Compression, verified against discord.py 2.7 (``gateway.py``/``utils.py``): the client asks
``compress=zlib-stream`` (``zstd-stream`` when ``zstandard`` is installed) in the URL and inflates *binary*
frames only, waiting for the ``00 00 ff ff`` Z_SYNC_FLUSH suffix; *text* frames are parsed as plain JSON. So
for ``zlib-stream`` the fake keeps one ``zlib.compressobj()`` per connection and flushes every message with
``Z_SYNC_FLUSH``; for anything else (including ``zstd-stream``) it sends plain text frames, which discord.py
accepts. Events are sequenced per session and kept, so a RESUME replays what the client missed — the same
guarantee Discord gives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .world import shard_of

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["Gateway", "GatewayConnection", "GatewaySession", "Op", "parse_shard"]

_log = logging.getLogger(__name__)

#: close codes of the client's own that end its session (Discord documents exactly these two)
_SESSION_ENDING_CLOSES = (1000, 1001)


class Op:
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Close:
    UNKNOWN_OPCODE = 4001
    DECODE_ERROR = 4002
    AUTHENTICATION_FAILED = 4004
    ALREADY_AUTHENTICATED = 4005
    INVALID_SHARD = 4010
    SHARDING_REQUIRED = 4011


def parse_shard(value: Any) -> tuple[int, int] | None:
    """IDENTIFY's ``shard`` as ``(shard_id, shard_count)``; ``None`` when Discord would refuse it (4010)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    shard_id, count = value
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (shard_id, count)):
        return None
    if count < 1 or not 0 <= shard_id < count:
        return None
    return shard_id, count


@dataclass
class GatewaySession:
    id: str
    identify: dict[str, Any]
    #: ``(shard_id, shard_count)``; ``(0, 1)`` for an unsharded IDENTIFY
    shard: tuple[int, int] = (0, 1)
    seq: int = 0
    #: every dispatch of the session: (seq, event name, data)
    events: list[tuple[int, str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    resumed: int = 0
    #: set when the session can no longer be resumed (op 9 not resumable, or the client closed with 1000/1001)
    invalidated: bool = False

    @property
    def intents(self) -> int | None:
        return self.identify.get("intents")

    @property
    def shard_id(self) -> int:
        return self.shard[0]

    @property
    def live(self) -> bool:
        """Connected right now (an open socket carries this session)."""
        return self.connection is not None and self.connection.open

    def holds(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.shard[1]) == self.shard[0]

    def event_names(self) -> list[str]:
        return [name for _, name, _ in self.events]


class GatewayConnection:
    """One websocket. Sends are serialised so the zlib stream stays consistent."""

    def __init__(self, ws: web.WebSocketResponse, *, path: str, query: dict[str, str], compress: bool) -> None:
        self.ws = ws
        self.path = path
        self.query = query
        self.compress = compress
        self._zlib = zlib.compressobj() if compress else None
        self._lock = asyncio.Lock()
        self.session: GatewaySession | None = None
        self.heartbeats = 0
        #: every payload the client sent on this connection (decoded JSON)
        self.received: list[dict[str, Any]] = []
        #: the close code; ``closed_by_fake`` says which side chose it
        self.close_code: int | None = None
        self.closed_by_fake = False

    @property
    def open(self) -> bool:
        return not self.ws.closed

    @property
    def shard(self) -> tuple[int, int] | None:
        return None if self.session is None else self.session.shard

    async def send(self, payload: dict[str, Any]) -> None:
        text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        async with self._lock:
            if self.ws.closed:
                return
            try:
                if self._zlib is not None:
                    data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except (ConnectionResetError, RuntimeError):  # client went away mid-send
                _log.debug("gateway send failed: connection closing")

    async def close(self, code: int) -> None:
        self.close_code = code
        self.closed_by_fake = True
        await self.ws.close(code=code, message=b"fake discord closed the connection")


class Gateway:
    """The gateway half of :class:`~fake_discord.FakeDiscord` (``fake.gateway``)."""

    PATH = "/gateway"
    RESUME_PATH = "/gateway/resume"

    def __init__(self, fake: FakeDiscord, *, heartbeat_interval_ms: int = 41_250) -> None:
        self._fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        #: resumable sessions by id
        self.sessions: dict[str, GatewaySession] = {}
        #: every session ever identified, oldest first (invalidated ones included)
        self.all_sessions: list[GatewaySession] = []
        #: the newest identified or resumed session
        self.session: GatewaySession | None = None
        self.connections: list[GatewayConnection] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        #: IDENTIFYs refused by the identify rate limit (op 9), for assertions
        self.identify_rate_limited: list[dict[str, Any]] = []
        self._last_identify: dict[int, float] = {}

    # -- URLs ----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """What ``GET /gateway`` and ``/gateway/bot`` return (no query; the client appends ``v``, ``encoding``…)."""
        return f"ws://{self._fake.host}:{self._fake.port}{self.PATH}"

    @property
    def resume_url(self) -> str:
        """``READY.resume_gateway_url``: a distinct path so tests can tell a resume connection from a fresh one."""
        return f"ws://{self._fake.host}:{self._fake.port}{self.RESUME_PATH}"

    # -- views ---------------------------------------------------------------------------------------------
    @property
    def connection(self) -> GatewayConnection | None:
        """The newest open connection, if any."""
        for conn in reversed(self.connections):
            if conn.open:
                return conn
        return None

    def connection_for_shard(self, shard_id: int) -> GatewayConnection | None:
        """The newest open connection whose session runs ``shard_id``."""
        for conn in reversed(self.connections):
            if conn.open and conn.session is not None and conn.session.shard_id == shard_id:
                return conn
        return None

    def sessions_for(self, guild_id: int | None) -> list[GatewaySession]:
        """Resumable sessions that receive ``guild_id``'s events (``None``: DM events, i.e. shard 0)."""
        return [s for s in self.sessions.values() if (s.holds(guild_id) if guild_id is not None else s.shard_id == 0)]

    def live_sessions_for(self, guild_id: int | None) -> list[GatewaySession]:
        return [s for s in self.sessions_for(guild_id) if s.live]

    def live_shards(self) -> set[tuple[int, int]]:
        """``(shard_id, shard_count)`` of every connected session."""
        return {s.shard for s in self.sessions.values() if s.live}

    # -- test controls -------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: Any, *, guild_id: int | None = None, shard_id: int | None = None) -> int:
        """Send a DISPATCH to the sessions that receive it, as Discord routes it; returns the seq it got in the
        newest of them (buffered for RESUME where the socket is down).

        Routing: ``shard_id`` given → that shard's sessions; else the guild (``guild_id``, or the payload's
        ``guild_id``, or a GUILD_* event's ``id``) picks the shard; no guild → shard 0 (DMs). Raises
        ``RuntimeError`` when no session would receive it.
        """
        targets = self._targets(event, data, guild_id, shard_id)
        if not targets:
            where = f"shard {shard_id}" if shard_id is not None else f"guild {self._guild_of(event, data, guild_id)}"
            raise RuntimeError(f"no gateway session receives {event} for {where}: the client has not identified")
        seq = 0
        for session in targets:
            seq = await self.send_event(session, event, data)
        return seq

    async def dispatch_if_connected(self, event: str, data: Any, *, guild_id: int | None = None) -> None:
        """Like :meth:`dispatch`, but a no-op when no session receives the event (world changes before login)."""
        for session in self._targets(event, data, guild_id, None):
            await self.send_event(session, event, data)

    async def send_event(self, session: GatewaySession, event: str, data: Any) -> int:
        """Sequence ``event`` in ``session`` and send it if the session is connected."""
        session.seq += 1
        seq = session.seq
        session.events.append((seq, event, data))
        conn = session.connection
        if conn is not None and conn.open:
            await conn.send({"op": Op.DISPATCH, "t": event, "s": seq, "d": data})
        return seq

    def _targets(self, event: str, data: Any, guild_id: int | None, shard_id: int | None) -> list[GatewaySession]:
        sessions = list(self.sessions.values())
        if shard_id is not None:
            chosen = [s for s in sessions if s.shard_id == shard_id]
        else:
            chosen = self.sessions_for(self._guild_of(event, data, guild_id))
        newest_last = sorted(chosen, key=lambda s: s is self.session)
        return newest_last

    @staticmethod
    def _guild_of(event: str, data: Any, guild_id: int | None) -> int | None:
        if guild_id is not None:
            return guild_id
        if isinstance(data, dict):
            if data.get("guild_id"):
                return int(data["guild_id"])
            if event.startswith("GUILD_") and data.get("id") and event not in ("GUILD_MEMBERS_CHUNK",):
                return int(data["id"])
        return None

    async def disconnect(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Close the newest connection (of ``shard_id``) with ``code``; 4000-4003/4005/4008 etc. let discord.py
        RESUME, 4007/4009 end the session first."""
        conn = self._require_connection(shard_id)
        if code in (4007, 4009) and conn.session is not None:  # invalid seq / session timed out: not resumable
            self._end_session(conn.session)
        await conn.close(code)

    async def request_reconnect(self, *, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs on ``resume_gateway_url``."""
        conn = self._require_connection(shard_id)
        await conn.send({"op": Op.RECONNECT, "d": None})

    async def invalidate_session(self, *, resumable: bool = False, shard_id: int | None = None) -> None:
        """Send op 9 INVALID_SESSION. Not resumable: discord.py re-IDENTIFYs after its built-in 5 s wait."""
        conn = self._require_connection(shard_id)
        if not resumable and conn.session is not None:
            self._end_session(conn.session)
        await conn.send({"op": Op.INVALID_SESSION, "d": resumable})

    def _end_session(self, session: GatewaySession) -> None:
        session.invalidated = True
        self.sessions.pop(session.id, None)
        if self.session is session:
            self.session = None

    def _require_connection(self, shard_id: int | None) -> GatewayConnection:
        conn = self.connection if shard_id is None else self.connection_for_shard(shard_id)
        if conn is None:
            raise RuntimeError(
                "no open gateway connection" + (f" for shard {shard_id}" if shard_id is not None else "")
            )
        return conn

    # -- websocket handler ---------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        conn = GatewayConnection(ws, path=request.path, query=query, compress=query.get("compress") == "zlib-stream")
        self.connections.append(conn)
        self._fake._changed()
        try:
            if query.get("encoding", "json") != "json":
                await conn.close(Close.DECODE_ERROR)  # only JSON is spoken here
                return ws
            await conn.send({"op": Op.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    raw: str = msg.data
                elif msg.type == WSMsgType.BINARY:
                    raw = msg.data.decode()
                else:
                    break
                try:
                    payload = json.loads(raw)
                except ValueError:
                    await conn.close(Close.DECODE_ERROR)
                    break
                conn.received.append(payload)
                await self._on_message(conn, payload)
        finally:
            if conn.close_code is None:
                conn.close_code = ws.close_code
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if not conn.closed_by_fake and conn.close_code in _SESSION_ENDING_CLOSES:
                    self._end_session(session)
            self._fake._changed()
        return ws

    async def _on_message(self, conn: GatewayConnection, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == Op.HEARTBEAT:
            conn.heartbeats += 1
            await conn.send({"op": Op.HEARTBEAT_ACK, "d": None})
        elif op == Op.IDENTIFY:
            await self._identify(conn, data or {})
        elif op == Op.RESUME:
            await self._resume(conn, data or {})
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._members_chunk(conn, data or {})
        elif op in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE):
            pass  # recorded in conn.received
        else:
            await conn.close(Close.UNKNOWN_OPCODE)
        self._fake._changed()

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        fake = self._fake
        self.identifies.append(data)
        if conn.session is not None:
            await conn.close(Close.ALREADY_AUTHENTICATED)
            return
        if data.get("token") != fake.token:
            await conn.close(Close.AUTHENTICATION_FAILED)
            return
        shard = parse_shard(data["shard"]) if "shard" in data else (0, 1)
        if shard is None:
            await conn.close(Close.INVALID_SHARD)
            return
        limit = fake.max_guilds_per_shard
        if limit is not None and sum(1 for g in fake.guilds if shard_of(g.id, shard[1]) == shard[0]) > limit:
            await conn.close(Close.SHARDING_REQUIRED)
            return
        if not self._identify_allowed(shard[0]):
            self.identify_rate_limited.append(data)
            await conn.send({"op": Op.INVALID_SESSION, "d": False})
            return
        if not fake.session_start_limit.take():
            await conn.close(Close.AUTHENTICATION_FAILED)  # Discord resets the token of a bot over its limit
            return
        session = GatewaySession(id=secrets.token_hex(16), identify=data, shard=shard)
        self.sessions[session.id] = session
        self.all_sessions.append(session)
        self.session = session
        conn.session = session
        session.connection = conn
        ready = fake._ready_payload(session, shard=list(shard) if "shard" in data else None)
        await self.send_event(session, "READY", ready)
        for guild in fake.guilds:
            if session.holds(guild.id):
                await self.send_event(session, "GUILD_CREATE", fake.guild_create_payload(guild))

    def _identify_allowed(self, shard_id: int) -> bool:
        interval = self._fake.identify_interval
        if interval is None:
            return True
        bucket = shard_id % self._fake.session_start_limit.max_concurrency
        now = self._fake.clock()
        last = self._last_identify.get(bucket)
        if last is not None and now - last < interval:
            return False
        self._last_identify[bucket] = now
        return True

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        self.resumes.append(data)
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self._fake.token:
            await conn.close(Close.AUTHENTICATION_FAILED)
            return
        if session is None:
            await conn.send({"op": Op.INVALID_SESSION, "d": False})
            return
        if session.connection is not None and session.connection is not conn and session.connection.open:
            await session.connection.close(4000)  # the new socket takes over the session
        conn.session = session
        session.connection = conn
        session.resumed += 1
        self.session = session
        last = data.get("seq") or 0
        for seq, event, payload in list(session.events):
            if seq > last:
                await conn.send({"op": Op.DISPATCH, "t": event, "s": seq, "d": payload})
        await self.send_event(session, "RESUMED", {"_trace": ["fake-discord"]})

    async def _members_chunk(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        guild = self._fake.guild(int(data.get("guild_id", 0)))
        session = conn.session
        if guild is None or session is None or not session.holds(guild.id):
            return
        members = [m.to_dict() for m in guild.members]
        wanted = data.get("user_ids")
        if wanted:
            wanted_ids = {str(u) for u in (wanted if isinstance(wanted, list) else [wanted])}
            members = [m for m in members if m["user"]["id"] in wanted_ids]
        chunk = {
            "guild_id": str(guild.id),
            "members": members,
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self.send_event(session, "GUILD_MEMBERS_CHUNK", chunk)
