"""Talking to the fake without discord.py: a raw gateway client and an authenticated HTTP helper.

The fake's own tests use these to exercise the API as Discord specifies it, so a fake that answered the wrong
code or spoke the gateway protocol wrongly fails independently of what discord.py happens to tolerate.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from fake_discord import FakeDiscord, InteractionHandle, ids

__all__ = ["PING_COMMANDS", "ZLIB_SUFFIX", "Env", "RawGateway", "env_for", "error_paths"]

ZLIB_SUFFIX = b"\x00\x00\xff\xff"


class RawGateway:
    """A minimal gateway client: zlib-stream inflating, like discord.py's, but with no library in between."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, *, compress: bool = True, close_code: int = 1000
    ) -> None:
        self._session = session
        self._close_code = close_code
        self._url = url + ("?v=10&encoding=json&compress=zlib-stream" if compress else "?v=10&encoding=json")
        self._inflate = zlib.decompressobj()
        self._buffer = bytearray()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.frames: list[aiohttp.WSMsgType] = []

    async def __aenter__(self) -> RawGateway:
        self.ws = await self._session.ws_connect(self._url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.ws is not None
        await self.ws.close(code=self._close_code)

    async def recv(self) -> dict[str, Any]:
        assert self.ws is not None
        while True:
            msg = await self.ws.receive(timeout=5)
            self.frames.append(msg.type)
            if msg.type == aiohttp.WSMsgType.TEXT:
                text: dict[str, Any] = json.loads(msg.data)
                return text
            if msg.type == aiohttp.WSMsgType.BINARY:
                self._buffer.extend(msg.data)
                if msg.data[-4:] == ZLIB_SUFFIX:
                    inflated: dict[str, Any] = json.loads(self._inflate.decompress(bytes(self._buffer)))
                    self._buffer.clear()
                    return inflated
                continue
            raise ConnectionError(f"gateway closed: {msg.type} {self.ws.close_code}")

    async def recv_until(self, event: str) -> dict[str, Any]:
        while True:
            payload = await self.recv()
            if payload.get("t") == event:
                return payload

    async def send(self, payload: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(payload))

    async def identify(self, token: str, *, shard: Any = None) -> dict[str, Any]:
        """HELLO, then IDENTIFY (with ``shard`` when given); returns the READY dispatch."""
        await self.send_identify(token, shard=shard)
        return await self.recv_until("READY")

    async def send_identify(self, token: str, *, shard: Any = None) -> None:
        hello = await self.recv()
        assert hello["op"] == 10
        data: dict[str, Any] = {"token": token, "intents": 513, "properties": {}}
        if shard is not None:
            data["shard"] = shard
        await self.send({"op": 2, "d": data})

    async def closed_with(self) -> int | None:
        """Read until the fake closes the socket; its close code."""
        assert self.ws is not None
        while not self.ws.closed:
            msg = await self.ws.receive(timeout=5)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                break
        return self.ws.close_code


class Env:
    """The fake plus an authenticated HTTP session and an identified raw gateway."""

    def __init__(self, fake: FakeDiscord, http: aiohttp.ClientSession, gateway: RawGateway) -> None:
        self.fake = fake
        self.http = http
        self.gateway = gateway

    async def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any, Any]:
        async with self.http.request(method, self.fake.api_base_url + path, json=body, **kwargs) as resp:
            text = await resp.text()
            data = json.loads(text) if resp.headers.get("Content-Type") == "application/json" else text
            return resp.status, data, resp.headers

    async def post_message(self, body: Any, channel_id: int = ids.GENERAL_CHANNEL_ID) -> tuple[int, Any, Any]:
        return await self.call("POST", f"/channels/{channel_id}/messages", body)

    async def sync(self, commands: list[dict[str, Any]], guild_id: int | None = ids.GUILD_ID) -> tuple[int, Any, Any]:
        scope = "" if guild_id is None else f"/guilds/{guild_id}"
        return await self.call("PUT", f"/applications/{ids.APP_ID}{scope}/commands", commands)

    async def callback(self, handle: InteractionHandle, body: Any) -> tuple[int, Any, Any]:
        return await self.call(
            "POST", f"/interactions/{handle.id}/{handle.token}/callback", body, params={"with_response": "1"}
        )

    async def webhook(
        self, method: str, handle: InteractionHandle, suffix: str = "", body: Any = None, **kw: Any
    ) -> tuple[int, Any, Any]:
        return await self.call(method, f"/webhooks/{ids.APP_ID}/{handle.token}{suffix}", body, **kw)


def error_paths(body: dict[str, Any]) -> list[str]:
    """Flatten Discord's nested ``errors`` tree into dotted paths that carry ``_errors``."""
    out: list[str] = []

    def walk(node: dict[str, Any], prefix: str) -> None:
        for key, value in node.items():
            if key == "_errors":
                out.append(prefix)
            elif isinstance(value, dict):
                walk(value, f"{prefix}.{key}" if prefix else key)

    walk(body.get("errors") or {}, "")
    return out


PING_COMMANDS = [
    {"name": "ping", "description": "ping", "type": 1},
    {
        "name": "find",
        "description": "find",
        "type": 1,
        "options": [{"name": "text", "description": "text", "type": 3, "required": True, "autocomplete": True}],
    },
]


@contextlib.asynccontextmanager
async def env_for(fake: FakeDiscord) -> AsyncIterator[Env]:
    """An authenticated HTTP session and an identified raw gateway on ``fake``, with PING_COMMANDS synced."""
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession(headers=headers) as http, RawGateway(http, fake.gateway.url) as gw:
        await gw.identify(fake.token)
        env = Env(fake, http, gw)
        status, _, _ = await env.sync(PING_COMMANDS)
        assert status == 200
        yield env
