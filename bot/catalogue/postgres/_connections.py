"""The PostgreSQL catalogue's connections: two small pools, bounded waits, and one line per failure.

* **The main pool** (psycopg_pool, `PoolSizes`: 1–4 connections by default) serves every read and write.
  A connection that sat idle for `CHECK_IDLE_S` is checked when borrowed, so after the server restarted a dead
  one is replaced instead of failing the query; one in steady use is not (a check is a round trip, as much as
  the lookup itself). While the server is down the pool reconnects in the background.
* **The autocomplete pool** (one connection) answers title autocomplete alone: it runs on every keystroke with
  Discord's 3 s deadline and must never queue behind a search or an import batch. Its statements time out
  after 2 s.
* **Bounded waits.** A read borrows a connection for at most `INTERACTIVE_WAIT_S` (a slash command must answer
  within 3 s even when the server is slow or gone); background work (the search follower, imports) waits up to
  `BACKGROUND_WAIT_S`. A write waits at most `LOCK_WAIT_S` for another process's locks, then fails with a line.
  Writes that collide with another process's (deadlock, serialization failure) are run again, a few times.
* **One line, no password.** Every driver or pool exception leaves this module as a `CatalogueError` whose
  message is `errors.describe`'s line (the driver's exception is its cause, for `--debug`). A borrow that
  timed out because the pool could not connect names the reason it could not ("nothing accepts connections
  at …"), not only the timeout. The URL is held as a `SecretStr`, and only `redact_url`'s form is shown.
* **A quiet log while the server is away**: psycopg's own warnings (one per reconnect attempt, one per
  copy cut short) are silenced. A failure is reported once, by whoever gets the `CatalogueError` (the CLI's
  one line, the search follower's "paused"/"resumed" lines, a slash command's answer); this module notes
  the database going and coming back at DEBUG only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.rows import DictRow, dict_row
from pydantic import SecretStr

from bot.catalogue.postgres.errors import Problem, explain, redact_url
from bot.errors import CatalogueError

log = logging.getLogger(__name__)

__all__ = [
    "AUTOCOMPLETE_WAIT_S",
    "BACKGROUND_WAIT_S",
    "INTERACTIVE_WAIT_S",
    "LOCK_WAIT_S",
    "Connection",
    "Database",
    "PoolSizes",
    "connect",
    "failure_of",
]

Connection = psycopg.AsyncConnection[DictRow]
Params = Sequence[Any] | Mapping[str, Any] | None
T = TypeVar("T")

INTERACTIVE_WAIT_S = 2.0  # borrowing a connection for a read a user waits for
AUTOCOMPLETE_WAIT_S = 1.0  # borrowing the autocomplete connection (Discord drops answers after 3 s)
AUTOCOMPLETE_STATEMENT_MS = 2_000
BACKGROUND_WAIT_S = 10.0  # borrowing for writes and background reads (rides out a quick server restart)
LOCK_WAIT_S = 120  # how long a write waits for another process's locks (as SQLite's write wait)
CONNECT_TIMEOUT_S = 10
CHECK_IDLE_S = 5.0  # a borrowed connection idle this long is checked first (the server may have restarted)
RECONNECT_S = 5.0
WRITE_ATTEMPTS = 4  # a write that collided with another process's is run again, up to this many times in all
_RETRY_PAUSE_S = 0.05


@dataclass(frozen=True, slots=True)
class PoolSizes:
    """How many connections one process keeps: small, since every bot process and CLI command has its own."""

    main_min: int = 1
    main_max: int = 4
    autocomplete: int = 1


def failure_of(exc: BaseException, url: SecretStr) -> CatalogueError:
    """The `CatalogueError` for a driver/pool exception: `errors.describe`'s one line, no password."""
    error = CatalogueError(explain(exc, url.get_secret_value()).line)
    error.__cause__ = exc
    return error


def _connect_kwargs() -> dict[str, Any]:
    return {
        "autocommit": True,  # transactions are explicit (`Database.write`); a lone read commits itself
        "row_factory": dict_row,
        "connect_timeout": CONNECT_TIMEOUT_S,
        "fallback_application_name": "paperbot",  # shown in pg_stat_activity unless the URL names another
    }


async def _session_settings(conn: Connection) -> None:
    """Per-session settings of every catalogue connection: UTC timestamps, bounded lock waits."""
    await conn.execute("SET TIME ZONE 'UTC'")
    await conn.execute(f"SET lock_timeout = '{LOCK_WAIT_S}s'")


async def _autocomplete_settings(conn: Connection) -> None:
    await _session_settings(conn)
    await conn.execute(f"SET statement_timeout = {AUTOCOMPLETE_STATEMENT_MS}")


async def connect(url: SecretStr) -> Connection:
    """One connection of our own (migrations, LISTEN), with the catalogue's session settings.

    Raises the driver's exception: callers translate it with `failure_of` (or let `Database` do it).
    """
    conn = await psycopg.AsyncConnection.connect(url.get_secret_value(), **_connect_kwargs())
    try:
        await _session_settings(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


class _ConnectFailures:
    """The last failure of the pools' own connection attempts (they happen in the pool's background tasks)."""

    def __init__(self) -> None:
        self.last: psycopg.Error | None = None

    def connection_class(self) -> type[Connection]:
        """A connection class for the pools that records why connecting failed."""
        failures = self

        class RecordingConnection(psycopg.AsyncConnection[DictRow]):
            returned_at = 0.0  # when it was last given back to the pool (monotonic clock)

            @classmethod
            async def connect(cls, *args: Any, **kwargs: Any) -> RecordingConnection:
                try:
                    return await super().connect(*args, **kwargs)
                except psycopg.Error as exc:
                    failures.last = exc
                    raise

        return RecordingConnection


class Database:
    """The pools of one PostgreSQL catalogue, and the rules every query follows (see the module docstring)."""

    def __init__(
        self,
        url: SecretStr,
        main: psycopg_pool.AsyncConnectionPool[Connection],
        autocomplete: psycopg_pool.AsyncConnectionPool[Connection],
        failures: _ConnectFailures,
    ) -> None:
        self.url = url
        self.location = redact_url(url.get_secret_value())
        self._main = main
        self._autocomplete = autocomplete
        self._connect_failures = failures
        self._unavailable: str | None = None  # why the database went away, until it answers again

    @classmethod
    async def open(cls, url: SecretStr, sizes: PoolSizes | None = None) -> Database:
        """Open both pools (the server was just reached by the caller, so they fill at once)."""
        sizes = sizes or PoolSizes()
        # psycopg_pool logs a WARNING per failed reconnect attempt (every 1, 2, 4 … s while the server is
        # down), psycopg one per COPY cut short; the caller of the failed operation reports it once instead.
        logging.getLogger("psycopg").setLevel(logging.ERROR)
        failures = _ConnectFailures()
        main = _pool(url, "paperbot", sizes.main_min, sizes.main_max, _session_settings, failures)
        autocomplete = _pool(url, "paperbot-autocomplete", sizes.autocomplete, sizes.autocomplete,
                             _autocomplete_settings, failures)  # fmt: skip
        try:
            await main.open(wait=False)
            await autocomplete.open(wait=False)
        except BaseException:
            await main.close()
            await autocomplete.close()
            raise
        return cls(url, main, autocomplete, failures)

    async def close(self) -> None:
        """Close both pools (idempotent)."""
        await self._autocomplete.close()
        await self._main.close()

    # ---- failures ---------------------------------------------------------------------------------------

    def failure(self, exc: BaseException) -> CatalogueError:
        """Translate a driver/pool exception, noting an outage (one warning until the server answers again)."""
        cause = self._connect_failures.last if isinstance(exc, psycopg_pool.PoolTimeout) else None
        failure = explain(cause or exc, self.url.get_secret_value())
        if failure.problem.transient and failure.problem is not Problem.CONFLICT and self._unavailable is None:
            self._unavailable = failure.line
            log.debug("%s", failure.line)  # the caller reports it; said here only for --debug
        error = CatalogueError(failure.line)
        error.__cause__ = exc
        return error

    def _answered(self) -> None:
        self._connect_failures.last = None
        if self._unavailable is not None:
            self._unavailable = None
            log.debug("PostgreSQL: %s answers again", self.location)

    @contextlib.asynccontextmanager
    async def connection(
        self, *, borrow_s: float = BACKGROUND_WAIT_S, autocomplete: bool = False
    ) -> AsyncIterator[Connection]:
        """Borrow a connection for several statements (no transaction unless the caller opens one)."""
        pool = self._autocomplete if autocomplete else self._main
        try:
            async with pool.connection(timeout=borrow_s) as conn:
                yield conn
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            raise self.failure(exc) from exc
        self._answered()

    # ---- reads and writes -------------------------------------------------------------------------------

    async def read(
        self,
        sql: str,
        params: Params = None,
        *,
        borrow_s: float = INTERACTIVE_WAIT_S,
        autocomplete: bool = False,
    ) -> list[DictRow]:
        """Run one read statement and return its rows (as dicts)."""
        async with self.connection(borrow_s=borrow_s, autocomplete=autocomplete) as conn:
            cursor = await conn.execute(sql, params)
            return await cursor.fetchall()

    async def value(self, sql: str, params: Params = None, *, borrow_s: float = INTERACTIVE_WAIT_S) -> Any:
        """The first column of the first row of one read (None without rows)."""
        rows = await self.read(sql, params, borrow_s=borrow_s)
        return next(iter(rows[0].values())) if rows else None

    async def write(self, body: Callable[[Connection], Awaitable[T]]) -> T:
        """Run `body` in one transaction; run it again when it collided with another process's transaction.

        `body` must only touch the database (it may run more than once; a rolled-back attempt left nothing).
        """
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                async with self._main.connection(timeout=BACKGROUND_WAIT_S) as conn, conn.transaction():
                    result = await body(conn)
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                conflict = explain(exc).problem is Problem.CONFLICT
                if conflict and attempt < WRITE_ATTEMPTS:
                    log.debug("A write collided with another process's; running it again (attempt %d)", attempt)
                    await asyncio.sleep(_RETRY_PAUSE_S * attempt)
                    continue
                raise self.failure(exc) from exc
            self._answered()
            return result
        raise AssertionError("unreachable")  # pragma: no cover


async def _check_if_idle(conn: Connection) -> None:
    """The pool's borrow check: a round trip, for connections idle long enough that the server may have gone."""
    if time.monotonic() - getattr(conn, "returned_at", 0.0) >= CHECK_IDLE_S:
        await psycopg_pool.AsyncConnectionPool.check_connection(conn)


async def _note_return(conn: Connection) -> None:
    conn.returned_at = time.monotonic()  # type: ignore[attr-defined]  # RecordingConnection's


def _pool(
    url: SecretStr,
    name: str,
    min_size: int,
    max_size: int,
    configure: Callable[[Connection], Awaitable[None]],
    failures: _ConnectFailures,
) -> psycopg_pool.AsyncConnectionPool[Connection]:
    return psycopg_pool.AsyncConnectionPool(
        url.get_secret_value(),
        connection_class=failures.connection_class(),
        kwargs=_connect_kwargs(),
        min_size=min_size,
        max_size=max_size,
        open=False,
        name=name,
        configure=configure,
        check=_check_if_idle,
        reset=_note_return,
        timeout=BACKGROUND_WAIT_S,
        # While the server is away the pool retries a connection at 1 s, 2 s, then gives up after
        # RECONNECT_S; the next borrow starts a fresh attempt at once. A longer timeout would back off to
        # minutes between attempts, and a server back for a while could still go unnoticed.
        reconnect_timeout=RECONNECT_S,
    )
