"""Fixtures for the sources tests: the loopback fixture server, a virtual clock, HTTP clients on it."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable

import pytest

from bot.sources._http import HttpClient, RetryPolicy
from tests.fixture_server import FixtureServer


class VirtualTime:
    """A clock and a sleep for HttpClient: sleeps return at once but advance the clock by what was asked.

    Real time still flows underneath (attempt timeouts are real), so `clock()` is monotonic + the virtual
    offset. `sleeps` records every requested sleep: tests assert on what was asked, never on wall time.
    """

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + self.offset

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds
        await asyncio.sleep(0)


@pytest.fixture
def vtime() -> VirtualTime:
    return VirtualTime()


MakeHttp = Callable[..., HttpClient]


@pytest.fixture
async def make_http(vtime: VirtualTime) -> AsyncIterator[MakeHttp]:
    """Factory for HttpClients on virtual time (real sockets); all closed after the test."""
    clients: list[HttpClient] = []

    def make(policy: RetryPolicy | None = None, rng: random.Random | None = None) -> HttpClient:
        client = HttpClient.create(
            policy=policy or RetryPolicy(timeout_s=5.0),
            sleep=vtime.sleep,
            clock=vtime.clock,
            rng=rng or random.Random(7),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def http(make_http: MakeHttp) -> HttpClient:
    return make_http()


@pytest.fixture
def server(fixture_server: FixtureServer) -> FixtureServer:
    """Short alias for the started fixture server (registered for all tests by tests/conftest.py)."""
    return fixture_server
