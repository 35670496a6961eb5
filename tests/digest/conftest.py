"""Digest test helpers: a hand-moved clock, a recording sink, paper factories. The `catalogue` fixture is
the shared one (tests/stores.py), so the digest store is tested on every backend."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import open_catalogue  # noqa: F401  (tests import it from here)
from bot.config import DigestChannelSettings, DigestSettings, Settings
from bot.digest.sink import DeliveryError, SentMessage, snowflake_at
from bot.models import DailyEntry, Paper
from bot.render.specs import MessageSpec
from tests.stores import BACKENDS, catalogue_target

UTC = dt.UTC


@pytest.fixture(params=BACKENDS)
async def shared_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where one fresh catalogue lives, on each backend: tests open it several times, as several processes do
    (each opening is its own connection, so claims are decided by the database, not by one object's lock)."""
    return await catalogue_target(request.param, tmp_path, request)


class Clock:
    """A clock tests move by hand; the scheduler and the service read it through `now()`."""

    def __init__(self, start: dt.datetime) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value

    def set(self, when: dt.datetime) -> None:
        assert when.tzinfo is not None
        self.value = when

    def advance(self, **delta: float) -> None:
        self.value += dt.timedelta(**delta)


class Crash(BaseException):
    """Simulates the process dying mid-post (BaseException: nothing in the bot may swallow it)."""


@dataclass
class Posted:
    channel_id: int
    message_id: int
    message: MessageSpec
    at: dt.datetime
    own: bool = True  # False: another member's message (channel chatter)


@dataclass
class RecordingSink:
    """A DigestSink (with `OwnMessages`) that records messages and can fail like Discord does (403/404/5xx) or
    crash. Message ids are snowflakes of the hand-moved clock, so searching "after the post's start" works as on
    Discord; a part sent again with its nonce within `nonce_window` returns the message already made."""

    clock: Clock
    posted: list[Posted] = field(default_factory=list)
    gone: set[int] = field(default_factory=set)  # channels answering 404
    forbidden: set[int] = field(default_factory=set)  # channels answering 403
    transient: set[int] = field(default_factory=set)  # channels answering 503
    deleted: set[int] = field(default_factory=set)  # message ids a moderator deleted
    crash_after: int | None = None  # raise Crash after this many successful sends
    nonce_window: dt.timedelta = dt.timedelta(minutes=5)
    deduplicated: int = 0  # sends answered with an existing message because of their nonce
    lookups: list[int] = field(default_factory=list)  # message ids asked for by id
    _seq: Any = field(default_factory=lambda: itertools.count(1))

    def _check(self, channel_id: int) -> None:
        if channel_id in self.gone:
            raise DeliveryError("the channel no longer exists (404)", permanent=True, status=404)
        if channel_id in self.forbidden:
            raise DeliveryError("missing permissions (403)", permanent=True, status=403)
        if channel_id in self.transient:
            raise DeliveryError("Discord is unavailable (503)", permanent=False, status=503)

    def _next_id(self) -> int:
        return snowflake_at(self.clock()) + next(self._seq)

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        self._check(channel_id)
        nonce = getattr(message, "nonce", None)
        if nonce is not None:
            for earlier in self.in_channel(channel_id):
                same = getattr(earlier.message, "nonce", None) == nonce
                if same and self.clock() - earlier.at < self.nonce_window:
                    self.deduplicated += 1
                    return earlier.message_id
        if self.crash_after is not None and len(self.posted) >= self.crash_after:
            raise Crash
        message_id = self._next_id()
        self.posted.append(Posted(channel_id, message_id, message, self.clock()))
        return message_id

    def chatter(self, channel_id: int, count: int) -> None:
        """Other members post `count` messages in the channel (a busy channel)."""
        for _ in range(count):
            message = MessageSpec(embeds=())
            self.posted.append(Posted(channel_id, self._next_id(), message, self.clock(), own=False))

    def _sent(self, posted: Posted) -> SentMessage:
        return SentMessage(posted.message_id, tuple(e.footer for e in posted.message.embeds if e.footer))

    def _visible(self, channel_id: int) -> list[Posted]:
        return [p for p in self.posted if p.channel_id == channel_id and p.message_id not in self.deleted]

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        self._check(channel_id)
        latest = self._visible(channel_id)[-limit:]
        return [self._sent(p) for p in reversed(latest) if p.own]

    async def own_message(self, channel_id: int, message_id: int) -> SentMessage | None:
        self._check(channel_id)
        self.lookups.append(message_id)
        return next((self._sent(p) for p in self._visible(channel_id) if p.message_id == message_id and p.own), None)

    async def own_messages_after(self, channel_id: int, after: int) -> AsyncIterator[SentMessage]:
        self._check(channel_id)
        for posted in self._visible(channel_id):
            if posted.own and posted.message_id > after:
                yield self._sent(posted)

    def in_channel(self, channel_id: int) -> list[Posted]:
        """The bot's own messages in the channel, in order (deleted ones too)."""
        return [p for p in self.posted if p.channel_id == channel_id and p.own]

    def posts(self, channel_id: int) -> list[list[Posted]]:
        """Group a channel's messages into posts (a post starts with part 1)."""
        out: list[list[Posted]] = []
        for p in self.in_channel(channel_id):
            if p.message.part == 1 or not out:
                out.append([])
            out[-1].append(p)
        return out


class LegacySink:
    """A sink without `OwnMessages` (as the Discord sink was): reconciled from the latest 100 messages."""

    def __init__(self, inner: RecordingSink) -> None:
        self.inner = inner

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        return await self.inner.send(channel_id, message)

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        return await self.inner.recent_own_messages(channel_id, limit=limit)


def make_paper(n: int, **fields: Any) -> Paper:
    """Paper number `n` with plausible data; override any field."""
    base: dict[str, Any] = {
        "id": f"2511.{n:05d}",
        "title": f"Paper number {n}",
        "abstract": f"We study problem {n}. It matters a lot. Further detail follows here.",
        "authors": ("Ada Lovelace", "Alan Turing", "Grace Hopper", "Edsger Dijkstra"),
        "upvotes": 100 - n,
        "organization": "Example Lab",
        "github_repo": f"https://github.com/example/p{n}",
        "github_stars": 1234,
        "thumbnail": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2511.{n:05d}.png",
    }
    base.update(fields)
    return Paper(**base)


def entries(day: dt.date, papers: Iterable[Paper]) -> list[DailyEntry]:
    return [DailyEntry(day=day, paper=p, upvotes=p.upvotes or 0) for p in papers]


def make_settings(channels: list[dict[str, Any]] | None = None, **digest: Any) -> Settings:
    return Settings(digest=DigestSettings(**digest, channels=[DigestChannelSettings(**c) for c in (channels or [])]))
