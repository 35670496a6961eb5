"""Discord's rate limits, enforced: a global limit per bot and per-route buckets, with Discord's headers.

How Discord limits a bot, and what the fake does the same way:

- **Global**: at most 50 requests per second per bot token, across all routes except the interaction
  endpoints (``/interactions/…/callback`` and the ``/webhooks/{application_id}/{token}`` followups, which
  Discord exempts). Over it: ``429`` with ``X-RateLimit-Global: true``, ``X-RateLimit-Scope: global``,
  ``Retry-After`` and a JSON body ``{"message", "retry_after", "global": true}``.
- **Per route**: each route has a bucket per *major parameter* (the channel, guild, or webhook in its path):
  e.g. ``POST /channels/{channel_id}/messages`` allows 5 per 5 s *per channel*. Every answer on a limited
  route carries ``X-RateLimit-Limit``, ``-Remaining``, ``-Reset`` (epoch seconds), ``-Reset-After`` (seconds)
  and ``-Bucket`` (a hash naming the bucket, shared by every channel); over it: ``429`` with
  ``X-RateLimit-Scope: user`` and ``"global": false``.
- Every answer carries ``Via`` (Discord is behind a proxy; the pipeline adds it): discord.py treats a 429
  *without* ``Via`` as a Cloudflare ban and raises instead of retrying.

Windows are fixed: a bucket opens at its first request and resets ``per`` seconds later, on the fake's
injectable clock — with a :class:`~fake_discord.ManualClock` a raw-HTTP test steps through a window without
waiting. (A real discord.py client sleeps ``retry_after`` in real time, so drive it with the real clock.)
Every request counts towards the global limit once it passes it (even one its route bucket then refuses);
a route bucket counts the requests it lets through.

Off by default (no test pays for limits it does not test): ``fake.rate_limits.set_global(50)`` turns the
global limit on, ``set_route(route, limit, per)`` a route bucket, ``use_discord_defaults()`` both with the
values below. Discord does not publish per-route numbers (clients must read the headers); the defaults are
the long-observed ones and clients must not hard-code them either.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .clock import Clock
from .errors import DiscordError

__all__ = ["DISCORD_GLOBAL_PER_SECOND", "DISCORD_ROUTE_LIMITS", "RateLimitHit", "RateLimiter", "RouteLimit"]

DISCORD_GLOBAL_PER_SECOND = 50
#: route template → (requests, per seconds), per major parameter
DISCORD_ROUTE_LIMITS: dict[str, tuple[int, float]] = {
    "POST /channels/{channel_id}/messages": (5, 5.0),
    "PATCH /channels/{channel_id}/messages/{message_id}": (5, 5.0),
    "DELETE /channels/{channel_id}/messages/{message_id}": (5, 1.0),
    "POST /channels/{channel_id}/messages/{message_id}/threads": (10, 10.0),
    "POST /users/@me/channels": (10, 10.0),
}
#: path parameters that make a separate bucket of the same route (Discord's "major parameters")
_MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "application_id")
#: routes Discord keeps out of the global limit
_GLOBAL_EXEMPT_PREFIXES = ("/interactions/", "/webhooks/")
VIA = "1.1 google"


@dataclass(frozen=True)
class RouteLimit:
    route: str
    limit: int
    per: float

    @property
    def bucket_hash(self) -> str:
        return hashlib.sha1(self.route.encode()).hexdigest()[:16]


@dataclass
class _Window:
    limit: int
    per: float
    used: int = 0
    resets_at: float = -math.inf

    def roll(self, now: float) -> None:
        if now >= self.resets_at:
            self.used = 0
            self.resets_at = now + self.per

    def reset_after(self, now: float) -> float:
        return max(0.0, self.resets_at - now)


@dataclass(frozen=True)
class RateLimitHit:
    """One 429 the limiter answered (``fake.rate_limits.hits``)."""

    route: str
    path: str
    scope: str  # "global" | "user"
    retry_after: float
    at: float


@dataclass
class Decision:
    """What the limiter says about one request: headers for its answer, or the 429 to send instead."""

    headers: dict[str, str] = field(default_factory=dict)
    error: DiscordError | None = None


class RateLimiter:
    """``fake.rate_limits``: the global limit and route buckets (all off until configured)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.global_limit: int | None = None
        self.global_per = 1.0
        self.routes: dict[str, RouteLimit] = {}
        self.hits: list[RateLimitHit] = []
        self._global = _Window(0, 1.0)
        self._buckets: dict[tuple[str, str], _Window] = {}

    # -- configuration -------------------------------------------------------------------------------------
    def set_global(self, limit: int | None, per: float = 1.0) -> None:
        """At most ``limit`` requests per ``per`` seconds across routes (``None``: no global limit)."""
        if limit is not None and (limit < 1 or per <= 0):
            raise ValueError("a global limit needs limit >= 1 and per > 0")
        self.global_limit, self.global_per = limit, per
        self._global = _Window(limit or 0, per)

    def set_route(self, route: str, limit: int | None, per: float = 5.0) -> None:
        """Limit ``route`` (a template such as ``"POST /channels/{channel_id}/messages"``) to ``limit`` per ``per``
        seconds per major parameter; ``limit=None`` removes the bucket."""
        if limit is None:
            self.routes.pop(route, None)
        else:
            if limit < 1 or per <= 0:
                raise ValueError("a route limit needs limit >= 1 and per > 0")
            self.routes[route] = RouteLimit(route, limit, per)
        self._buckets = {k: v for k, v in self._buckets.items() if k[0] != route}

    def use_discord_defaults(self) -> None:
        """Discord's global 50/s and the observed route buckets in :data:`DISCORD_ROUTE_LIMITS`."""
        self.set_global(DISCORD_GLOBAL_PER_SECOND, 1.0)
        for route, (limit, per) in DISCORD_ROUTE_LIMITS.items():
            self.set_route(route, limit, per)

    def reset(self) -> None:
        """Empty every window and forget the hits (limits stay configured)."""
        self.hits.clear()
        self._global = _Window(self.global_limit or 0, self.global_per)
        self._buckets.clear()

    # -- the check -----------------------------------------------------------------------------------------
    def admit(self, route: str, path: str, params: Mapping[str, str]) -> Decision:
        """Count one request to ``route`` (template) at ``path``; a 429 in ``Decision.error`` when over a limit."""
        now = self._clock()
        decision = Decision()
        rule = self.routes.get(route)
        bucket: _Window | None = None
        if rule is not None:
            major = ":".join(params.get(p, "") for p in _MAJOR_PARAMETERS)
            bucket = self._buckets.setdefault((route, major), _Window(rule.limit, rule.per))
            bucket.roll(now)
        if self.global_limit is not None and not path.startswith(_GLOBAL_EXEMPT_PREFIXES):
            self._global.roll(now)
            if self._global.used >= self._global.limit:
                retry = self._global.reset_after(now)
                self.hits.append(RateLimitHit(route, path, "global", retry, now))
                decision.error = _too_many(retry, is_global=True, headers={"X-RateLimit-Global": "true"})
                return decision
            self._global.used += 1  # counted even if its route bucket refuses it below
        if rule is not None and bucket is not None:
            if bucket.used >= bucket.limit:
                retry = bucket.reset_after(now)
                self.hits.append(RateLimitHit(route, path, "user", retry, now))
                decision.error = _too_many(retry, is_global=False, headers=_bucket_headers(rule, bucket, now))
                return decision
            bucket.used += 1
            decision.headers.update(_bucket_headers(rule, bucket, now))
        return decision


def _bucket_headers(rule: RouteLimit, bucket: _Window, now: float) -> dict[str, str]:
    reset_after = bucket.reset_after(now)
    return {
        "X-RateLimit-Limit": str(rule.limit),
        "X-RateLimit-Remaining": str(max(0, bucket.limit - bucket.used)),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": rule.bucket_hash,
    }


def _too_many(retry_after: float, *, is_global: bool, headers: Mapping[str, str]) -> DiscordError:
    retry_after = round(retry_after, 3)
    return DiscordError(
        429,
        0,
        "You are being rate limited.",
        headers={
            **headers,
            # Discord's header is whole seconds, rounded up; the JSON body has the precise value clients use.
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        },
        extra={"retry_after": retry_after, "global": is_global},
    )
