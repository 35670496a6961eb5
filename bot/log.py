"""Logging for the whole process: one stderr handler on the root logger, and secrets never reach it.

Key design choice: redaction is a `logging.Filter` on the handler, not on loggers, because logger filters
only see records logged on that very logger, while a handler sees every propagated record — discord.py's,
aiohttp's and ours. The filter renders the message (so `%s` args are covered), the exception traceback and
the stack info, replaces every secret with `**********`, and stores the result back on the record, so any
later handler also sees only the redacted text. Besides the configured secrets it masks anything shaped like
a Discord bot token and `Authorization: Bot …` / `Bearer …` values, in case a token arrives from elsewhere.
"""

from __future__ import annotations

import errno
import http
import logging
import re
import socket
import ssl
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Final, TextIO

__all__ = ["REDACTED", "RedactingFilter", "describe_network_error", "get_logger", "redact", "setup_logging"]

REDACTED: Final = "**********"
LEVELS: Final = ("DEBUG", "INFO", "WARNING", "ERROR")

# Secrets shorter than this cannot be real credentials; masking them would shred ordinary words.
_MIN_SECRET_LENGTH: Final = 4

# https://discord.com/developers/docs/reference#authentication: "<base64 user id>.<timestamp>.<hmac>".
_DISCORD_TOKEN_RE: Final = re.compile(r"\b[MNO][A-Za-z0-9_-]{23,27}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}\b")
_AUTH_HEADER_RE: Final = re.compile(r"\b(Bot|Bearer)(\s+)[A-Za-z0-9._~+/=-]{16,}")

# Third-party loggers and the quietest level they may log at: libraries that are chatty at DEBUG/INFO
# (aiosqlite logs every statement, APScheduler every job run) stay readable even with level=DEBUG.
_LIBRARY_FLOORS: Final[dict[str, int]] = {
    "discord": logging.INFO,
    "discord.http": logging.WARNING,
    "aiosqlite": logging.INFO,
    "aiohttp": logging.INFO,
    "aiohttp.access": logging.WARNING,
    "apscheduler": logging.WARNING,
    "asyncio": logging.WARNING,
}

_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RedactingFilter(logging.Filter):
    """Replace every secret in a record's message, arguments, traceback and stack with `**********`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Replace the secrets to mask (longest first, so a secret containing another is masked whole)."""
        unique = {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}
        self._secrets = tuple(sorted(unique, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """Return `text` with every known secret and token-shaped string masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _AUTH_HEADER_RE.sub(lambda m: f"{m[1]}{m[2]}{REDACTED}", text)
        return _DISCORD_TOKEN_RE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place; never drop it."""
        try:
            message = record.getMessage()
        except Exception:  # a bad %-format: logging would print msg and args raw in handleError
            message = f"{record.msg!s} (unformattable arguments: {record.args!r})"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatter.format reuses a cached exc_text, so caching the redacted text redacts the output.
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(text)
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Write to whatever `sys.stderr` is at emit time (so redirected or captured stderr is honoured)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # StreamHandler.__init__ assigns it; the property always answers the current sys.stderr


class _UTCFormatter(logging.Formatter):
    """ISO 8601 UTC timestamps: servers and operators rarely share a timezone."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


_handler: _StderrHandler | None = None
_filter: RedactingFilter | None = None


def setup_logging(level: str = "INFO", secrets: Iterable[str] = ()) -> logging.Handler:
    """Configure the root logger once (stderr, UTC timestamps, secrets redacted); later calls update it.

    `level` is DEBUG, INFO, WARNING or ERROR (any case). Returns the handler, e.g. for tests. Callers that
    start discord.py must pass `log_handler=None` to `Client.run`, or use `start`, so it adds no handler of
    its own.
    """
    global _handler, _filter
    name = level.strip().upper()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    numeric = logging.getLevelName(name)

    if _handler is None or _filter is None:
        _filter = RedactingFilter(secrets)
        _handler = _StderrHandler()
        _handler.setFormatter(_UTCFormatter(_FORMAT))
        _handler.addFilter(_filter)
    else:
        _filter.set_secrets(secrets)

    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)
    # Handlers someone else attached (pytest's caplog, a framework's) get the same protection.
    for handler in root.handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
    root.setLevel(numeric)
    _handler.setLevel(numeric)
    for logger_name, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(logger_name).setLevel(max(numeric, floor))
    return _handler


def redact(text: str) -> str:
    """Mask the configured secrets (and token-shaped strings) in text printed outside logging, e.g. to stderr."""
    return (_filter or RedactingFilter()).redact(text)


def get_logger(name: str) -> logging.Logger:
    """Return the logger for a module; pass `__name__`."""
    return logging.getLogger(name)


def describe_network_error(exc: BaseException, host: str) -> str:
    """Say in words why talking to `host` failed: one clause, no Python repr, secrets redacted.

    For operator-facing lines ("could not start on Discord at …: <this>"). Recognises, anywhere in the
    exception's chain (aiohttp keeps the OS error in `os_error`): DNS failures, refused connections, TLS
    certificate and handshake failures, timeouts, connections closed mid-way, unreachable networks,
    redirect loops and HTTP error statuses (401, 403, 5xx ...), from aiohttp, discord.py or asyncio.
    `host` is what the reader knows the peer by ("discord.com", "db.internal:5432"); never pass a URL
    with a password in it. Anything else is named by its type and first line, redacted.
    """
    chain = list(_causes(exc))
    status = next((s for e in chain if isinstance(s := getattr(e, "status", None), int) and s >= 400), None)
    if status is not None:
        return f"{host} {_http_status_words(status)}"
    if any(type(e).__name__ == "TooManyRedirects" for e in chain):
        return f"{host} redirected too many times (a redirect loop)"
    for error in chain:
        if isinstance(error, socket.gaierror):
            return f"could not resolve {host} (DNS lookup failed: {error.strerror or 'unknown name'})"
        # aiohttp's wrappers are ssl errors too, without the details: those come from the wrapped error.
        reason = getattr(error, "verify_message", None) or getattr(error, "reason", None)
        if isinstance(error, ssl.SSLCertVerificationError) and isinstance(reason, str):
            return f"the TLS certificate of {host} is not trusted ({reason})"
        if isinstance(error, ssl.SSLError) and isinstance(reason, str):
            words = reason.replace("_", " ").lower()
            return f"TLS handshake with {host} failed ({words}: is that port really TLS?)"
        if isinstance(error, ConnectionRefusedError):
            return f"{host} refused the connection (is anything listening on that port?)"
        if isinstance(error, TimeoutError):
            return f"{host} did not answer in time (timed out)"
        if isinstance(error, ConnectionResetError | ConnectionAbortedError | BrokenPipeError) or (
            type(error).__name__ == "ServerDisconnectedError"
        ):
            return f"{host} closed the connection unexpectedly"
        if isinstance(error, OSError) and error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            return f"{host} is unreachable from here ({error.strerror})"
    os_error = next((e for e in chain if isinstance(e, OSError) and e.strerror), None)
    if os_error is not None:
        return f"cannot connect to {host} ({os_error.strerror})"
    first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return redact(f"{type(exc).__name__} talking to {host}" + (f": {first_line}" if first_line else ""))


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what it wraps: aiohttp's `os_error`/`certificate_error`, `__cause__`, `__context__`."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        error = pending.pop(0)
        if id(error) in seen:
            continue
        seen.add(id(error))
        yield error
        for attr in ("certificate_error", "os_error"):
            inner = getattr(error, attr, None)
            if isinstance(inner, BaseException):
                pending.append(inner)
        pending += [e for e in (error.__cause__, error.__context__) if e is not None]


def _http_status_words(status: int) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    code = f"{status} {phrase}".strip()
    if status == 401:
        return f"rejected the credentials ({code})"
    if status == 403:
        return f"refused access ({code})"
    return f"answered HTTP {code}"
