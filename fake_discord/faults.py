"""Scripted failures: what a test makes the fake answer instead of (or after) doing the work.

- ``rate_limit_next(pattern)``: the next matching requests get a 429 with Discord's headers (``Via``,
  ``Retry-After``, ``X-RateLimit-*``, global or not); discord.py sleeps ``retry_after`` and retries.
- ``fail_next(pattern, status)``: the next matching requests get ``status`` and a Discord error body, and the
  route does nothing. discord.py retries 500/502/504/524 (sleeping 1, 3, 5… s) and raises at once on others.
- ``fail_after_create(channel_id, status)``: the next message creates in the channel *are carried out* — the
  message exists and is visible — and then answered with ``status`` (default 500). This is the failure that
  makes a retried create post twice: discord.py retries the POST by itself, and only a nonce with
  ``enforce_nonce`` lets Discord return the first message instead of making a second.

Patterns are globs over ``"METHOD /path"`` (path below ``/api/v10``), e.g. ``"POST /channels/*/messages"``, or
a route template such as ``"POST /channels/{channel_id}/messages"``; a pattern starting with ``/`` matches any
method. Scripted answers are marked ``scripted`` in the recorded request and are not counted as refusals.
"""

from __future__ import annotations

import fnmatch
import hashlib
import time
from dataclasses import dataclass

from .errors import DiscordError
from .ratelimits import VIA

__all__ = ["AfterCreateFault", "Faults", "ScriptedFailure", "matches"]

_DEFAULT_MESSAGES = {
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


class ScriptedFailure(DiscordError):
    """An error answer a test scripted (not a refusal of the request by Discord's rules)."""


@dataclass
class _Script:
    pattern: str
    remaining: int
    kind: str  # "ratelimit" | "fail"
    status: int = 429
    retry_after: float = 0.0
    is_global: bool = False
    code: int = 0
    message: str = ""


@dataclass
class AfterCreateFault:
    """Answer ``status`` after creating the message, for the next ``remaining`` creates in ``channel_id``."""

    channel_id: int | None
    remaining: int
    status: int


class Faults:
    """The scripts of one fake; the server consults them for every request."""

    def __init__(self) -> None:
        self._scripts: list[_Script] = []
        self._after_create: list[AfterCreateFault] = []

    def clear(self) -> None:
        self._scripts.clear()
        self._after_create.clear()

    # -- scripting -----------------------------------------------------------------------------------------
    def rate_limit_next(self, pattern: str, retry_after: float, times: int, is_global: bool) -> None:
        self._scripts.append(_Script(pattern, times, "ratelimit", 429, retry_after, is_global))

    def fail_next(self, pattern: str, status: int, times: int, code: int, message: str | None) -> None:
        text = message or _DEFAULT_MESSAGES.get(status, f"{status}: scripted failure")
        self._scripts.append(_Script(pattern, times, "fail", status, code=code, message=text))

    def fail_after_create(self, channel_id: int | None, status: int, times: int) -> None:
        if times < 1:
            raise ValueError("times must be at least 1")
        self._after_create.append(AfterCreateFault(channel_id, times, status))

    # -- consulted by the server ---------------------------------------------------------------------------
    def before(self, method: str, path: str, route: str) -> ScriptedFailure | None:
        """The scripted answer for this request, if one is due (consumes it)."""
        for script in self._scripts:
            if script.remaining > 0 and matches(script.pattern, method, path, route):
                script.remaining -= 1
                if script.remaining == 0:
                    self._scripts.remove(script)
                return _answer(script, path)
        return None

    def after_create(self, channel_id: int) -> ScriptedFailure | None:
        """The failure to answer after a message was created in ``channel_id``, if one is due (consumes it)."""
        for fault in self._after_create:
            if fault.channel_id in (None, channel_id):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._after_create.remove(fault)
                message = _DEFAULT_MESSAGES.get(fault.status, f"{fault.status}: scripted failure")
                return ScriptedFailure(fault.status, 0, message)
        return None


def _answer(script: _Script, path: str) -> ScriptedFailure:
    if script.kind == "fail":
        return ScriptedFailure(script.status, script.code, script.message)
    bucket = hashlib.sha1(path.encode()).hexdigest()[:16]
    headers = {
        "Retry-After": f"{script.retry_after:g}",
        "Via": VIA,
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + script.retry_after:.3f}",
        "X-RateLimit-Reset-After": f"{script.retry_after:.3f}",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Scope": "global" if script.is_global else "user",
    }
    if script.is_global:
        headers["X-RateLimit-Global"] = "true"
    return ScriptedFailure(
        429,
        0,
        "You are being rate limited.",
        headers=headers,
        extra={"retry_after": script.retry_after, "global": script.is_global},
    )


def matches(pattern: str, method: str, path: str, route: str) -> bool:
    if pattern.startswith("/"):
        return fnmatch.fnmatchcase(path, pattern) or (bool(route) and route.split(" ", 1)[1] == pattern)
    return fnmatch.fnmatchcase(f"{method} {path}", pattern) or route == pattern
