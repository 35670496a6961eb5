"""Digest test helpers: a hand-moved clock, a recording sink, paper factories. The `catalogue` fixture is
the shared one (tests/stores.py), so the digest store is tested on every backend."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.catalogue import open_catalogue  # noqa: F401  (tests import it from here)
from bot.config import DigestChannelSettings, DigestSettings, Settings
from bot.digest.render import MessageSpec
from bot.digest.sink import DeliveryError, SentMessage
from bot.models import DailyEntry, Paper

UTC = dt.UTC


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


@dataclass
class RecordingSink:
    """A DigestSink that records messages and can fail like Discord does (403/404/5xx) or crash."""

    clock: Clock
    posted: list[Posted] = field(default_factory=list)
    gone: set[int] = field(default_factory=set)  # channels answering 404
    forbidden: set[int] = field(default_factory=set)  # channels answering 403
    transient: set[int] = field(default_factory=set)  # channels answering 503
    crash_after: int | None = None  # raise Crash after this many successful sends
    _ids: Any = field(default_factory=lambda: itertools.count(1000))

    def _check(self, channel_id: int) -> None:
        if channel_id in self.gone:
            raise DeliveryError("the channel no longer exists (404)", permanent=True, status=404)
        if channel_id in self.forbidden:
            raise DeliveryError("missing permissions (403)", permanent=True, status=403)
        if channel_id in self.transient:
            raise DeliveryError("Discord is unavailable (503)", permanent=False, status=503)

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        self._check(channel_id)
        if self.crash_after is not None and len(self.posted) >= self.crash_after:
            raise Crash
        message_id = next(self._ids)
        self.posted.append(Posted(channel_id, message_id, message, self.clock()))
        return message_id

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        self._check(channel_id)
        mine = [p for p in self.posted if p.channel_id == channel_id][-limit:]
        return [
            SentMessage(p.message_id, tuple(e.footer for e in p.message.embeds if e.footer)) for p in reversed(mine)
        ]

    def in_channel(self, channel_id: int) -> list[Posted]:
        return [p for p in self.posted if p.channel_id == channel_id]

    def posts(self, channel_id: int) -> list[list[Posted]]:
        """Group a channel's messages into posts (a post starts with part 1)."""
        out: list[list[Posted]] = []
        for p in self.in_channel(channel_id):
            if p.message.part == 1 or not out:
                out.append([])
            out[-1].append(p)
        return out


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


