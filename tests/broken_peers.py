"""Real network failures on loopback, for tests of how they are reported: no mocks, no outside network.

`BrokenPeers` starts, on 127.0.0.1:

* ``refused_port`` — a port nobody listens on (connecting is refused);
* ``plain_port`` — a plain TCP server answering a few bytes of HTTP: a TLS client's handshake fails there;
* ``silent_port`` — accepts connections and never answers (a client's read times out);
* ``http_url`` — an aiohttp server: ``/unauthorized/...`` answers 401 like Discord with a bad token,
  ``/loop/...`` redirects every request to itself (a redirect loop).

``UNRESOLVABLE_HOST`` ends in ``.invalid``, a name reserved never to resolve (RFC 2606).
"""

from __future__ import annotations

import asyncio
import socket
from types import TracebackType

from aiohttp import web

__all__ = ["UNRESOLVABLE_HOST", "BrokenPeers"]

UNRESOLVABLE_HOST = "discord.invalid"


class BrokenPeers:
    """Loopback peers that fail in one way each; use as ``async with BrokenPeers() as peers``."""

    def __init__(self) -> None:
        self.refused_port = 0
        self.plain_port = 0
        self.silent_port = 0
        self.http_url = ""
        self._servers: list[asyncio.Server] = []
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    async def __aenter__(self) -> BrokenPeers:
        with socket.socket() as probe:  # bound, then closed: nothing listens there afterwards
            probe.bind(("127.0.0.1", 0))
            self.refused_port = probe.getsockname()[1]
        self.plain_port = await self._serve(self._answer_plain_http)
        self.silent_port = await self._serve(self._say_nothing)
        app = web.Application()
        app.router.add_route("*", "/unauthorized/{rest:.*}", self._unauthorized)
        app.router.add_route("*", "/loop/{rest:.*}", self._redirect_to_itself)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.http_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release.set()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, handler: object) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    @staticmethod
    async def _answer_plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(64)
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _say_nothing(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._release.wait()
        finally:
            writer.close()

    @staticmethod
    async def _unauthorized(request: web.Request) -> web.Response:
        return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)

    @staticmethod
    async def _redirect_to_itself(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.path_qs)
