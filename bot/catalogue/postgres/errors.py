"""psycopg's exceptions, turned into one line an operator can act on — never with the password in it.

The bot and the CLI must say what went wrong with the PostgreSQL catalogue in one line ("nothing accepts
connections at db:5432", "password authentication failed for user …"), with no traceback, and keep serving what
they can. `explain()` classifies an exception (its `Problem` says whether retrying can help and whether the
configuration is at fault) and writes that line; `describe()` is the line alone.

How psycopg reports each failure (measured against a real server; `bench/postgres_driver.md`):

* A failed *connection* is a plain `psycopg.OperationalError` without a SQLSTATE — libpq gives none before the
  session exists — so the cause is read from libpq's message: "failed to resolve host", "Connection refused",
  "timeout expired", 'password authentication failed for user "x"', 'database "x" does not exist'.
* Everything the server reports later carries a SQLSTATE and a `psycopg.errors` subclass: 57P01 when the server
  shuts down under a query, 57014 for a statement timeout, 40001/40P01 for serialization failures and deadlocks.
  After a lost connection the next call raises OperationalError "the connection is closed".
* `psycopg_pool.PoolTimeout` means no connection could be had in time (while the server is down the pool keeps
  reconnecting in the background, and callers time out); it carries no cause.

Neither the messages nor the reprs contain the password (checked in the tests), but a URL given to `explain` is
redacted (`redact_url`) and its password is also masked in the driver's text, in case a future libpq says more.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlsplit

import psycopg
import psycopg_pool

__all__ = ["DatabaseFailure", "Problem", "describe", "explain", "redact_url"]

_MASK = "**********"
_PASSWORD_PARAM = re.compile(r"((?:^|&)password=)[^&]*")


class Problem(enum.Enum):
    """What kind of failure an exception is; `transient` says whether waiting or retrying can fix it."""

    HOST_UNKNOWN = ("host", False, True)
    REFUSED = ("refused", True, False)
    CONNECT_TIMEOUT = ("connect-timeout", True, False)
    AUTHENTICATION = ("authentication", False, True)
    NO_DATABASE = ("no-database", False, True)
    CONNECTION_LOST = ("connection-lost", True, False)
    SERVER_BUSY = ("server-busy", True, False)
    POOL_TIMEOUT = ("pool-timeout", True, False)
    QUERY_TIMEOUT = ("query-timeout", True, False)
    CONFLICT = ("conflict", True, False)
    OTHER = ("other", False, False)

    def __init__(self, slug: str, transient: bool, configuration: bool) -> None:
        self.slug = slug
        self.transient = transient  # the same operation may succeed later (reconnect, retry the transaction)
        self.configuration = configuration  # `[database] url` is wrong: no retry helps, the operator must fix it


@dataclass(frozen=True, slots=True)
class DatabaseFailure:
    """An exception, explained: its kind and one line for the user (no traceback, no password)."""

    problem: Problem
    line: str


# SQLSTATEs the server sends, by what they mean for us (PostgreSQL's "Appendix A. Error Codes").
_BY_SQLSTATE: dict[str, Problem] = {
    "57P01": Problem.CONNECTION_LOST,  # admin_shutdown: the server is shutting down
    "57P02": Problem.CONNECTION_LOST,  # crash_shutdown
    "57P03": Problem.SERVER_BUSY,  # cannot_connect_now: starting up or shutting down
    "53300": Problem.SERVER_BUSY,  # too_many_connections
    "57014": Problem.QUERY_TIMEOUT,  # query_canceled (statement_timeout)
    "40001": Problem.CONFLICT,  # serialization_failure
    "40P01": Problem.CONFLICT,  # deadlock_detected
    "28P01": Problem.AUTHENTICATION,  # invalid_password
    "28000": Problem.AUTHENTICATION,  # invalid_authorization_specification
    "3D000": Problem.NO_DATABASE,  # invalid_catalog_name
}

# libpq's connection-failure messages (no SQLSTATE exists yet), most specific first.
_BY_MESSAGE: tuple[tuple[re.Pattern[str], Problem], ...] = (
    (re.compile(r"failed to resolve host|could not translate host name"), Problem.HOST_UNKNOWN),
    (re.compile(r"password authentication failed|no password supplied|pg_hba\.conf|role \".*\" does not exist"),
     Problem.AUTHENTICATION),
    (re.compile(r"database \".*\" does not exist"), Problem.NO_DATABASE),
    (re.compile(r"Connection refused"), Problem.REFUSED),
    (re.compile(r"timeout expired|timed out"), Problem.CONNECT_TIMEOUT),
    (re.compile(r"too many clients|remaining connection slots"), Problem.SERVER_BUSY),
    (re.compile(r"connection is closed|server closed the connection|terminating connection|connection is lost|"
                r"consuming input failed|sending query failed|the connection is bad"), Problem.CONNECTION_LOST),
)  # fmt: skip


def redact_url(url: str) -> str:
    """The URL without its password (in the authority or as a `password=` parameter); safe to print."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}@{hostport}"
    query = _PASSWORD_PARAM.sub(rf"\g<1>{_MASK}", parts.query)
    return (
        f"{parts.scheme}://{netloc}{parts.path}"
        + (f"?{query}" if query else "")
        + (f"#{parts.fragment}" if parts.fragment else "")
    )


def _where(url: str | None) -> str:
    """`host:port/database` of a URL, for naming the server in a line."""
    if not url:
        return "the PostgreSQL server"
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query))
    host = parts.hostname or params.get("host") or "localhost"
    port = parts.port or params.get("port") or 5432
    database = unquote(parts.path.lstrip("/")) or params.get("dbname") or ""
    return f"{host}:{port}" + (f"/{database}" if database else "")


def _primary(exc: BaseException) -> str:
    """The server's primary message (no DETAIL/HINT: those can quote row data), else the first line."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(exc) or type(exc).__name__
    return " ".join(text.split("\n", 1)[0].split())


def _driver_error(exc: BaseException) -> BaseException:
    """The psycopg (or pool) exception behind `exc`, following `raise … from` chains; else `exc` itself."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, psycopg.Error | psycopg_pool.PoolTimeout):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return exc


def _classify(exc: BaseException) -> Problem:
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return Problem.POOL_TIMEOUT
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate in _BY_SQLSTATE:
        return _BY_SQLSTATE[sqlstate]
    if isinstance(sqlstate, str) and sqlstate.startswith("08"):  # connection_exception class
        return Problem.CONNECTION_LOST
    if isinstance(exc, psycopg.OperationalError | OSError):
        text = str(exc)
        for pattern, problem in _BY_MESSAGE:
            if pattern.search(text):
                return problem
    return Problem.OTHER


def _quoted(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    return match.group(1) if match else None


def _line(problem: Problem, exc: BaseException, where: str) -> str:
    text = str(exc)
    if problem is Problem.HOST_UNKNOWN:
        host = _quoted(r"host '([^']*)'", text) or _quoted(r'host name "([^"]*)"', text) or where
        return f"cannot find the database host {host!r} (DNS lookup failed): check the host in [database] url"
    if problem is Problem.REFUSED:
        return f"nothing accepts connections at {where}: is PostgreSQL running there, on that port?"
    if problem is Problem.CONNECT_TIMEOUT:
        return f"no answer from {where} in time: is the host reachable, and PostgreSQL listening?"
    if problem is Problem.AUTHENTICATION:
        user = _quoted(r'for user "([^"]*)"', text) or _quoted(r'role "([^"]*)"', text)
        who = f" for user {user!r}" if user else ""
        return f"{where} refused the login{who}: check the user and password in [database] url"
    if problem is Problem.NO_DATABASE:
        name = _quoted(r'database "([^"]*)"', text) or where
        return f"database {name!r} does not exist on {where.split('/')[0]}: create it, or fix [database] url"
    if problem is Problem.CONNECTION_LOST:
        return f"lost the connection to {where} (server shut down or restarted); will reconnect when it is back"
    if problem is Problem.SERVER_BUSY:
        return f"{where} accepts no more connections right now ({_primary(exc)})"
    if problem is Problem.POOL_TIMEOUT:
        return f"no database connection to {where} became free in time: the server is down or overloaded"
    if problem is Problem.QUERY_TIMEOUT:
        return f"a query on {where} ran past the statement timeout and was cancelled"
    if problem is Problem.CONFLICT:
        return f"a transaction on {where} collided with another process and was rolled back ({_primary(exc)})"
    sqlstate = getattr(exc, "sqlstate", None)
    code = f" [{sqlstate}]" if sqlstate else ""
    return f"database error on {where}{code}: {_primary(exc)}"


def explain(exc: BaseException, url: str | None = None) -> DatabaseFailure:
    """Classify `exc` (a psycopg/pool exception, or one raised from it) and write its line, prefixed
    "PostgreSQL: ". `url` (the configured `[database] url`) names the server; its password never appears."""
    driver_exc = _driver_error(exc)
    problem = _classify(driver_exc)
    line = "PostgreSQL: " + _line(problem, driver_exc, _where(url))
    password = unquote(urlsplit(url).password or "") if url else ""
    if password:
        line = line.replace(password, _MASK)
    return DatabaseFailure(problem, " ".join(line.split()))


def describe(exc: BaseException, url: str | None = None) -> str:
    """The one line for `exc` (see `explain`)."""
    return explain(exc, url).line
