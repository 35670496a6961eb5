"""The fake's gateway: a websocket speaking Discord's gateway protocol (v10, JSON encoding).

Per connection: HELLO (``heartbeat_interval``), HEARTBEAT → HEARTBEAT_ACK, IDENTIFY → READY + one
GUILD_CREATE per configured guild, RESUME → missed events + RESUMED (or INVALID_SESSION for an unknown
session), REQUEST_GUILD_MEMBERS → one GUILD_MEMBERS_CHUNK. Tests push events with
:meth:`Gateway.dispatch` and break the connection with :meth:`Gateway.disconnect` (a close code),
:meth:`Gateway.request_reconnect` (op 7) or :meth:`Gateway.invalidate_session` (op 9).

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

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["Gateway", "GatewayConnection", "GatewaySession", "Op"]

_log = logging.getLogger(__name__)


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


@dataclass
class GatewaySession:
    id: str
    identify: dict[str, Any]
    seq: int = 0
    #: every dispatch of the session: (seq, event name, data)
    events: list[tuple[int, str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    resumed: int = 0

    @property
    def intents(self) -> int | None:
        return self.identify.get("intents")


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
        self.close_code: int | None = None

    @property
    def open(self) -> bool:
        return not self.ws.closed

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
        await self.ws.close(code=code, message=b"fake discord closed the connection")


class Gateway:
    """The gateway half of :class:`~fake_discord.FakeDiscord` (``fake.gateway``)."""

    PATH = "/gateway"
    RESUME_PATH = "/gateway/resume"

    def __init__(self, fake: FakeDiscord, *, heartbeat_interval_ms: int = 41_250) -> None:
        self._fake = fake
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        self.session: GatewaySession | None = None
        self.connections: list[GatewayConnection] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []

    # -- URLs ----------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """What ``GET /gateway`` and ``/gateway/bot`` return (no query; the client appends ``v``, ``encoding``…)."""
        return f"ws://{self._fake.host}:{self._fake.port}{self.PATH}"

    @property
    def resume_url(self) -> str:
        """``READY.resume_gateway_url``: a distinct path so tests can tell a resume connection from a fresh one."""
        return f"ws://{self._fake.host}:{self._fake.port}{self.RESUME_PATH}"

    @property
    def connection(self) -> GatewayConnection | None:
        """The newest open connection, if any."""
        for conn in reversed(self.connections):
            if conn.open:
                return conn
        return None

    # -- test controls -------------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: Any) -> int:
        """Send a DISPATCH to the current session (buffered for RESUME if the socket is down); returns its seq."""
        session = self.session
        if session is None:
            raise RuntimeError("no gateway session: the client has not identified yet")
        session.seq += 1
        seq = session.seq
        session.events.append((seq, event, data))
        conn = session.connection
        if conn is not None and conn.open:
            await conn.send({"op": Op.DISPATCH, "t": event, "s": seq, "d": data})
        return seq

    async def disconnect(self, code: int = 4000) -> None:
        """Close the current connection with ``code``; 4000-4003/4005/4008 etc. let discord.py RESUME."""
        conn = self.connection
        if conn is None:
            raise RuntimeError("no open gateway connection")
        if code in (4007, 4009) and conn.session is not None:  # invalid seq / session timed out: not resumable
            self.sessions.pop(conn.session.id, None)
        await conn.close(code)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and RESUMEs on ``resume_gateway_url``."""
        conn = self._require_connection()
        await conn.send({"op": Op.RECONNECT, "d": None})

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION. Not resumable: discord.py re-IDENTIFYs after its built-in 5 s wait."""
        conn = self._require_connection()
        if not resumable and conn.session is not None:
            self.sessions.pop(conn.session.id, None)
            if self.session is conn.session:
                self.session = None
        await conn.send({"op": Op.INVALID_SESSION, "d": resumable})

    def _require_connection(self) -> GatewayConnection:
        conn = self.connection
        if conn is None:
            raise RuntimeError("no open gateway connection")
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
                await conn.close(4002)  # decode error: only JSON is spoken here
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
                    await conn.close(4002)
                    break
                conn.received.append(payload)
                await self._on_message(conn, payload)
        finally:
            if conn.close_code is None:
                conn.close_code = ws.close_code
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
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
            await conn.close(4001)  # unknown opcode
        self._fake._changed()

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        self.identifies.append(data)
        if conn.session is not None:
            await conn.close(4005)  # already authenticated
            return
        if data.get("token") != self._fake.token:
            await conn.close(4004)  # authentication failed
            return
        session = GatewaySession(id=secrets.token_hex(16), identify=data)
        self.sessions[session.id] = session
        self.session = session
        conn.session = session
        session.connection = conn
        ready = self._fake._ready_payload(session, shard=data.get("shard"))
        await self.dispatch("READY", ready)
        for guild in self._fake.guilds:
            await self.dispatch("GUILD_CREATE", guild.to_dict(full=True))

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        self.resumes.append(data)
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self._fake.token:
            await conn.close(4004)
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
        await self.dispatch("RESUMED", {"_trace": ["fake-discord"]})

    async def _members_chunk(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        guild = self._fake.guild(int(data.get("guild_id", 0)))
        if guild is None or conn.session is None:
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
        await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)
