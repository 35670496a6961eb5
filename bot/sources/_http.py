"""Polite, bounded HTTP for every upstream: one shared aiohttp session, retries, backoff, rate limits.

CONTRACT.md "Sources" sets the limits every client keeps, and they all live here so the Hugging Face and
arXiv clients only deal with URLs and parsing:

* one `aiohttp.ClientSession` for the whole process (connection reuse; closed by `open_sources`);
* a User-Agent naming the project, so upstream operators can tell who is calling;
* each attempt times out after at most 30 s, and the whole call (attempts plus sleeps) has a deadline
  (110 s by default) so a source that never answers fails within two minutes, not 5 × 30 s + backoff;
* up to 5 attempts on 5xx, 408, 429, timeouts and connection errors, with exponential backoff and jitter;
  `Retry-After` (seconds or an HTTP date) is honoured, capped at 60 s;
* a per-host minimum interval between request starts (arXiv asks for one request every 3 s);
* a short memory of a source that did not answer at all: for `unreachable_cooldown_s` after such a
  failure, requests to it fail at once (a circuit breaker), so ingesting several days of a dead source
  costs one budget, not one per day. A server that answers (even 5xx) never trips it.

Other 4xx answers are not retried: they are returned to the caller, who knows what a 404 means for it.
Failures no retry can fix (a malformed URL, too many redirects) are a SourceError at once.
The clock, the sleep and the random source are injectable so tests can run real HTTP against a loopback
server without waiting for real backoff (`tests/sources/test_http.py`).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDict
from yarl import URL

from bot import __version__
from bot.errors import SourceError

__all__ = ["USER_AGENT", "HttpClient", "HttpResponse", "RetryPolicy"]

USER_AGENT = f"paperbot/{__version__} (+https://github.com/paperbot)"

_log = logging.getLogger("bot.sources.http")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

_RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often to try one request; the defaults are CONTRACT.md's limits."""

    max_attempts: int = 5
    timeout_s: float = 30.0  # per attempt, connect + headers + body
    deadline_s: float = 110.0  # whole call, sleeps included: "fails within 2 minutes"
    backoff_base_s: float = 1.0  # 1, 2, 4, 8 s (± jitter) between attempts
    backoff_cap_s: float = 20.0
    max_retry_after_s: float = 60.0
    # After a request to a source got no answer at all (every attempt timed out or could not connect),
    # later requests to it fail at once for this long instead of spending another full budget each.
    # This is what keeps "a source that never answers fails within 2 minutes" true for a whole
    # `ingest` of several days, not just for one request. 0 disables it.
    unreachable_cooldown_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.timeout_s <= 30.0:
            raise ValueError("timeout_s must be in (0, 30]")
        if self.deadline_s <= 0 or min(self.backoff_base_s, self.max_retry_after_s, self.unreachable_cooldown_s) < 0:
            raise ValueError("deadline_s must be positive; backoff and Retry-After caps non-negative")


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete response: the body is read inside the attempt's timeout."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (`application/json`)."""
        return self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class _HostGate:
    """Serialises request starts to one host so they are at least `interval` seconds apart."""

    interval: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_start: float | None = None


class _Fatal(Exception):
    """One attempt failed in a way another try cannot fix (a malformed URL, too many redirects)."""


class _Retryable(Exception):
    """One attempt failed in a way worth another try."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _display_url(url: str, params: Mapping[str, str] | None) -> str:
    if not params:
        return url
    try:
        return str(URL(url).update_query(dict(params)))
    except (ValueError, TypeError):
        return url


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date); None if absent/invalid."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class HttpClient:
    """GET with the CONTRACT.md retry rules over one shared session; build with `HttpClient.create()`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        owns_session: bool = False,
    ) -> None:
        self._session = session
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._owns_session = owns_session
        self._gates: dict[str, _HostGate] = {}
        self._down_until: dict[tuple[str, str], tuple[float, str]] = {}

    @classmethod
    def create(
        cls,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
    ) -> HttpClient:
        """Open the shared session (must run inside the event loop); `close()` releases it."""
        session = aiohttp.ClientSession(
            headers={"User-Agent": USER_AGENT},
            # Timeouts are per attempt (see `get`); the session itself never gives up on its own.
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )
        return cls(session, policy=policy, sleep=sleep, clock=clock, rng=rng, owns_session=True)

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._owns_session and not self._session.closed:
            await self._session.close()

    def set_min_interval(self, host: str, seconds: float) -> None:
        """Keep request starts to `host` (`export.arxiv.org`, or `127.0.0.1:8080`) `seconds` apart."""
        self._gates[host.lower()] = _HostGate(interval=max(0.0, seconds))

    async def get(
        self,
        url: str,
        *,
        source: str,
        params: Mapping[str, str] | None = None,
        accept: str | None = None,
    ) -> HttpResponse:
        """GET `url`, retrying transient failures; return any non-retryable answer (2xx, most 4xx).

        Raises SourceError once the attempts or the deadline are used up.
        """
        policy = self.policy
        breaker_key = (source, (urlsplit(url).netloc or "").lower())
        shown = _display_url(url, params)  # what errors and logs name: the request as sent
        self._check_breaker(breaker_key, source, shown)
        started = self._clock()
        headers = {"Accept": accept} if accept else None
        last: _Retryable | None = None
        for attempt in range(1, policy.max_attempts + 1):
            remaining = policy.deadline_s - (self._clock() - started)
            if remaining <= 0:
                break
            await self._wait_turn(url)
            timeout = min(policy.timeout_s, max(remaining, 0.001))
            try:
                response = await self._attempt(url, params, headers, timeout)
            except _Retryable as exc:
                last = exc
            except _Fatal as exc:
                raise SourceError(source, str(exc), url=shown, attempt=attempt) from exc.__cause__
            else:
                self._down_until.pop(breaker_key, None)
                return response
            if attempt == policy.max_attempts:
                break
            delay = self._delay(attempt, last)
            if self._clock() - started + delay >= policy.deadline_s:
                _log.warning(
                    "%s: giving up on %s after %d attempt(s): %s (deadline)", source, shown, attempt, last.reason
                )
                message = f"{last.reason}; gave up before the {policy.deadline_s:g} s deadline"
                self._open_breaker(breaker_key, last)
                raise SourceError(source, message, url=shown, status=last.status, attempt=attempt)
            _log.warning(
                "%s: attempt %d/%d for %s failed (%s); retrying in %.1f s",
                source,
                attempt,
                policy.max_attempts,
                shown,
                last.reason,
                delay,
            )
            await self._sleep(delay)
        if last is None:  # unreachable: deadline_s > 0 lets the first attempt run
            raise SourceError(source, "no attempt made", url=shown)
        self._open_breaker(breaker_key, last)
        raise SourceError(source, last.reason, url=shown, status=last.status, attempt=attempt)

    def _check_breaker(self, key: tuple[str, str], source: str, url: str) -> None:
        down = self._down_until.get(key)
        if down is None:
            return
        until, reason = down
        left = until - self._clock()
        if left <= 0:
            del self._down_until[key]  # half-open: this request probes with the full retry budget
            return
        message = f"not trying: the last request got no answer ({reason}); next try in {left:.0f} s"
        raise SourceError(source, message, url=url)

    def _open_breaker(self, key: tuple[str, str], failure: _Retryable) -> None:
        """Remember a source that never answered (timeouts, refused connections) for a cool-down."""
        if failure.status is None and self.policy.unreachable_cooldown_s > 0:
            self._down_until[key] = (self._clock() + self.policy.unreachable_cooldown_s, failure.reason)

    async def _attempt(
        self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str] | None, limit_s: float
    ) -> HttpResponse:
        try:
            async with self._session.get(
                url, params=params, headers=headers, timeout=aiohttp.ClientTimeout(total=limit_s)
            ) as resp:
                body = await resp.read()
                result = HttpResponse(str(resp.url), resp.status, CIMultiDict(resp.headers), body)
        except TimeoutError as exc:
            raise _Retryable(f"no answer within {limit_s:g} s") from exc
        except aiohttp.ClientPayloadError as exc:
            raise _Retryable(f"response body cut off ({exc})") from exc
        except aiohttp.ClientConnectionError as exc:
            raise _Retryable(f"connection failed ({exc.__class__.__name__}: {exc})") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise _Fatal(f"request failed ({exc.__class__.__name__}: {exc})") from exc
        if result.status >= 500 or result.status in _RETRY_STATUSES:
            retry_after = parse_retry_after(result.headers.get("Retry-After"))
            raise _Retryable(f"server answered HTTP {result.status}", result.status, retry_after)
        return result

    def _delay(self, attempt: int, failure: _Retryable) -> float:
        """Retry-After if the server gave one (capped), else exponential backoff with equal jitter."""
        if failure.retry_after is not None:
            return min(failure.retry_after, self.policy.max_retry_after_s)
        ceiling = min(self.policy.backoff_cap_s, self.policy.backoff_base_s * 2 ** (attempt - 1))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    async def _wait_turn(self, url: str) -> None:
        host = (urlsplit(url).netloc or "").lower()
        gate = self._gates.get(host)
        if gate is None or gate.interval <= 0:
            return
        async with gate.lock:
            if gate.last_start is not None:
                wait = gate.last_start + gate.interval - self._clock()
                if wait > 0:
                    await self._sleep(wait)
            gate.last_start = self._clock()
