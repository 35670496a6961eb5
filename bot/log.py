"""Logging for the whole process: one stderr handler on the root logger, and secrets never reach it.

Key design choice: redaction is a `logging.Filter` on the handler, not on loggers, because logger filters
only see records logged on that very logger, while a handler sees every propagated record — discord.py's,
aiohttp's and ours. The filter renders the message (so `%s` args are covered), the exception traceback and
the stack info, replaces every secret with `**********`, and stores the result back on the record, so any
later handler also sees only the redacted text. Besides the configured secrets it masks anything shaped like
a Discord bot token and `Authorization: Bot …` / `Bearer …` values, in case a token arrives from elsewhere.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Final, TextIO

__all__ = ["REDACTED", "RedactingFilter", "get_logger", "redact", "setup_logging"]

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
