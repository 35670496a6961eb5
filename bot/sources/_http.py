"""Polite, bounded HTTP for every upstream: one shared aiohttp session, retries, backoff, rate limits.

The limits every upstream client keeps all live here, so the Hugging Face and
arXiv clients only deal with URLs and parsing:

* one `aiohttp.ClientSession` for the whole process (connection reuse; closed by `open_sources`);
* a User-Agent naming the project, so upstream operators can tell who is calling;
* each attempt times out after at most 30 s, and the whole call (attempts plus sleeps) has a deadline
  (110 s by default) so a source that never answers fails within two minutes, not 5 × 30 s + backoff;
* up to 5 attempts on 5xx, 408, 429, timeouts and connection errors, with exponential backoff and jitter;
  `Retry-After` (seconds or an HTTP date) is honoured, capped at 60 s. An HTTP date is read against the
  response's own `Date` header when it has one, so a client clock that is off does not turn "in 30 s" into
  "now" (hammering) or "in 10 minutes";
* a per-host minimum interval between request starts (arXiv asks for one request every 3 s, Hugging Face
  allows about 500 requests per 5 minutes);
* Hugging Face states its quota in the IETF draft's `RateLimit` header (`"api";r=<remaining>;t=<seconds to
  reset>`), on a 429 instead of `Retry-After`: its reset is honoured the same way (capped at 60 s), and a good
  answer that says the quota is used up (r=0) holds the host until the reset rather than earning a 429;
* a 429 is a rate limit on this client, not a fault of one URL: it holds back every request to that host
  (other callers, other paths) until its Retry-After (or, without one, the backoff step) has passed. Waiting
  for the host's turn is not charged to a call's deadline; the attempts and their backoff are. A 5xx is an
  outage signal and pauses nobody else: outages must still fail fast;
* a response body larger than `max_body_bytes` is refused instead of filling memory;
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

from bot import __version__, metrics
from bot.errors import SourceError

__all__ = ["USER_AGENT", "HttpClient", "HttpResponse", "RetryPolicy"]

USER_AGENT = f"paperbot/{__version__} (+https://github.com/paperbot)"

_log = logging.getLogger("bot.sources.http")

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

_RETRY_STATUSES = frozenset({408, 429})
_RATE_LIMITED = 429
#: Far above any real Daily Papers page (~1 MB for 100 items) or arXiv feed; a body past it is not an API answer.
MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long and how often to try one request; the defaults are the project's promised limits."""

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
    """Serialises request starts to one host: `interval` seconds apart, and none before `resume_at`.

    `resume_at` is set by an HTTP 429 from that host (the server's Retry-After, or the backoff step).
    """

    interval: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_start: float | None = None
    resume_at: float | None = None

    @property
    def idle(self) -> bool:
        """Whether a request may start without taking the lock (no pacing and no rate-limit pause)."""
        return self.interval <= 0 and self.resume_at is None


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


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date header (`Date`, `Retry-After`) as an aware datetime; None if absent or invalid."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date); None if absent/invalid.

    An HTTP date is a time on the server's clock: pass the response's `Date` as `now` when there is one.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        when = parse_http_date(value)
        if when is None:
            return None
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def parse_ratelimit_reset(value: str | None) -> float | None:
    """Seconds until an exhausted quota resets, from a `RateLimit` header; None if no quota is exhausted.

    The header (draft-ietf-httpapi-ratelimit-headers, as Hugging Face sends it) lists quota policies, each
    `"name";r=<remaining>;t=<seconds until reset>`, comma-separated. Only policies with nothing remaining
    count; with several, the longest reset wins.
    """
    if not value:
        return None
    waits: list[float] = []
    for item in value.split(","):
        params: dict[str, str] = {}
        for part in item.split(";")[1:]:
            key, _, raw = part.partition("=")
            params[key.strip().lower()] = raw.strip()
        try:
            remaining, reset = float(params["r"]), float(params["t"])
        except (KeyError, ValueError):
            continue
        if remaining <= 0 and reset == reset:  # reset == reset: not NaN
            waits.append(max(0.0, reset))
    return max(waits) if waits else None


class HttpClient:
    """GET with the retry rules above over one shared session; build with `HttpClient.create()`."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        rng: random.Random | None = None,
        owns_session: bool = False,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._session = session
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._owns_session = owns_session
        self.max_body_bytes = max_body_bytes
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
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> HttpClient:
        """Open the shared session (must run inside the event loop); `close()` releases it."""
        session = aiohttp.ClientSession(
            headers={"User-Agent": USER_AGENT},
            # Timeouts are per attempt (see `get`); the session itself never gives up on its own.
            timeout=aiohttp.ClientTimeout(total=None),
            raise_for_status=False,
        )
        return cls(
            session, policy=policy, sleep=sleep, clock=clock, rng=rng, owns_session=True, max_body_bytes=max_body_bytes
        )

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._owns_session and not self._session.closed:
            await self._session.close()

    def set_min_interval(self, host: str, seconds: float) -> None:
        """Keep request starts to `host` (`export.arxiv.org`, or `127.0.0.1:8080`) `seconds` apart.

        One interval per host: a later call for the same host replaces it (requests in flight keep their turn).
        """
        self._gate(host.lower()).interval = max(0.0, seconds)

    def _gate(self, host: str) -> _HostGate:
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate()
        return gate

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
        host = (urlsplit(url).netloc or "").lower()
        breaker_key = (source, host)
        shown = _display_url(url, params)  # what errors and logs name: the request as sent
        self._check_breaker(breaker_key, source, shown)
        started: float | None = None
        headers = {"Accept": accept} if accept else None
        last: _Retryable | None = None
        for attempt in range(1, policy.max_attempts + 1):
            await self._wait_turn(host)
            if started is None:
                # The deadline bounds this call's attempts and backoff; waiting for the host's turn (pacing,
                # a rate-limit pause another call's 429 set) is not a sign the source is down.
                started = self._clock()
            remaining = policy.deadline_s - (self._clock() - started)
            if remaining <= 0:
                break
            timeout = min(policy.timeout_s, max(remaining, 0.001))
            try:
                response = await self._attempt(url, params, headers, timeout)
            except _Retryable as exc:
                last = exc
                metrics.source_request(source, exc.status)
            except _Fatal as exc:
                metrics.source_request(source, None)
                raise SourceError(source, str(exc), url=shown, attempt=attempt) from exc.__cause__
            else:
                metrics.source_request(source, response.status)
                self._down_until.pop(breaker_key, None)
                reset = parse_ratelimit_reset(response.headers.get("RateLimit"))
                if reset:  # the quota is used up: wait for its reset instead of earning a 429
                    self._hold_host(host, min(reset, policy.max_retry_after_s))
                return response
            delay = self._delay(attempt, last)
            hold = self._hold_host(host, delay) if last.status == _RATE_LIMITED else None
            if attempt == policy.max_attempts:
                break
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
            if hold is not None:
                self._release_hold(host, hold)  # this call waited the pause out itself
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
                body = await self._read_body(resp)
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
            server_now = parse_http_date(result.headers.get("Date"))
            retry_after = parse_retry_after(result.headers.get("Retry-After"), now=server_now)
            if retry_after is None and result.status == _RATE_LIMITED:
                retry_after = parse_ratelimit_reset(result.headers.get("RateLimit"))
            raise _Retryable(f"server answered HTTP {result.status}", result.status, retry_after)
        return result

    async def _read_body(self, resp: aiohttp.ClientResponse) -> bytes:
        """The whole body, refusing one larger than `max_body_bytes` (a wrong URL serving a huge file)."""
        limit = self.max_body_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise _Fatal(f"response body of {resp.content_length} bytes is over the {limit}-byte limit")
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(256 * 1024):
            size += len(chunk)
            if size > limit:
                raise _Fatal(f"response body is over the {limit}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    def _delay(self, attempt: int, failure: _Retryable) -> float:
        """Retry-After if the server gave one (capped), else exponential backoff with equal jitter."""
        if failure.retry_after is not None:
            return min(failure.retry_after, self.policy.max_retry_after_s)
        ceiling = min(self.policy.backoff_cap_s, self.policy.backoff_base_s * 2 ** (attempt - 1))
        return float(ceiling / 2 + self._rng.uniform(0, ceiling / 2))

    def _hold_host(self, host: str, seconds: float) -> float:
        """Hold every request to `host` back for `seconds` (after a 429); returns the hold's end."""
        gate = self._gate(host)
        until = self._clock() + seconds
        if gate.resume_at is None or until > gate.resume_at:
            gate.resume_at = until
        return until

    def _release_hold(self, host: str, until: float) -> None:
        gate = self._gate(host)
        if gate.resume_at is not None and gate.resume_at <= until:
            gate.resume_at = None

    async def _wait_turn(self, host: str) -> None:
        """Wait until a request to `host` may start: its interval after the last start, and any 429 pause."""
        gate = self._gates.get(host)
        if gate is None or gate.idle:
            return
        async with gate.lock:
            now = self._clock()
            ready = now
            if gate.interval > 0 and gate.last_start is not None:
                ready = max(ready, gate.last_start + gate.interval)
            hold = gate.resume_at
            if hold is not None:
                ready = max(ready, hold)
            if ready > now:
                await self._sleep(ready - now)
            if hold is not None and gate.resume_at == hold:
                gate.resume_at = None  # waited out; callers queued behind this one keep the interval apart
            gate.last_start = self._clock()
