"""`bot.catalogue.postgres.errors` against a real server: each failure gets its own one line, never the password.

Every case is provoked for real (a refused port, a wrong password, a server shut down under a query, …) and
the driver's own exception goes through `explain`. Each test also checks that neither the line nor psycopg's
str/repr/traceback contain the password: the day a driver upgrade starts printing it, this fails.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from bot.catalogue.postgres.errors import DatabaseFailure, Problem, describe, explain, redact_url
from bot.errors import CatalogueError
from tests.postgres import PostgresDatabase, PostgresServer
from tests.postgres_server import ThrowawayPostgres, start, with_database

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _with(url: str, *, port: int | None = None, password: str | None = None) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    netloc = f"{parts.username}:{password or parts.password}@{parts.hostname}:{port or parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


async def _raised(call: Callable[[], Awaitable[object]]) -> BaseException:
    try:
        await call()
    except Exception as exc:
        return exc
    pytest.fail("expected the call to fail")


def _assert_secret_kept(exc: BaseException, failure: DatabaseFailure, *secrets: str) -> None:
    texts = {
        "line": failure.line,
        "str": str(exc),
        "repr": repr(exc),
        "traceback": "".join(traceback.format_exception(exc)),
    }
    for secret in secrets:
        leaked = [where for where, text in texts.items() if secret in text]
        assert not leaked, f"the password shows in: {leaked}"
    assert "\n" not in failure.line and failure.line.startswith("PostgreSQL: ")


async def _connect(url: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)


# ------------------------------------------------------------------------------------------ connecting


async def test_refused_port(postgres_server: PostgresServer) -> None:
    port = _free_port()
    url = _with(postgres_server.url, port=port)
    exc = await _raised(lambda: _connect(url))
    failure = explain(exc, url)
    assert failure.problem is Problem.REFUSED and failure.problem.transient
    assert f"nothing accepts connections at 127.0.0.1:{port}/postgres" in failure.line
    _assert_secret_kept(exc, failure, postgres_server.password)


async def test_wrong_password(postgres_server: PostgresServer) -> None:
    wrong = postgres_server.password[::-1]
    url = _with(postgres_server.url, password=wrong)
    exc = await _raised(lambda: _connect(url))
    failure = explain(exc, url)
    assert failure.problem is Problem.AUTHENTICATION and failure.problem.configuration
    assert "refused the login for user 'paperbot': check the user and password in [database] url" in failure.line
    _assert_secret_kept(exc, failure, postgres_server.password, wrong)


async def test_missing_database(postgres_server: PostgresServer) -> None:
    url = with_database(postgres_server.url, "no_such_catalogue")
    exc = await _raised(lambda: _connect(url))
    failure = explain(exc, url)
    assert failure.problem is Problem.NO_DATABASE and not failure.problem.transient
    assert "database 'no_such_catalogue' does not exist on 127.0.0.1:" in failure.line
    _assert_secret_kept(exc, failure, postgres_server.password)


_DNS_PROBE = """
import asyncio, json, sys
import psycopg
from bot.catalogue.postgres.errors import explain
url = sys.argv[1]
async def main():
    try:
        await psycopg.AsyncConnection.connect(url, connect_timeout=5)
    except Exception as exc:
        failure = explain(exc, url)
        print(json.dumps({"problem": failure.problem.name, "line": failure.line, "repr": repr(exc)}))
asyncio.run(main())
"""


def test_host_that_does_not_resolve() -> None:
    """In a network namespace of its own (no interfaces up), so the lookup fails without a packet leaving."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to resolve a name without network access")
    url = "postgresql://paperbot:s3cret-pass-word@db.paperbot.invalid:5432/papers"
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", _DNS_PROBE, url], cwd=REPO,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    if result.returncode != 0 and "unshare" in result.stderr:
        pytest.skip(f"cannot make a network namespace here: {result.stderr.strip()}")
    found = json.loads(result.stdout)
    assert found["problem"] == "HOST_UNKNOWN"
    assert found["line"] == (
        "PostgreSQL: cannot find the database host 'db.paperbot.invalid' (DNS lookup failed): "
        "check the host in [database] url"
    )
    assert "s3cret-pass-word" not in found["line"] + found["repr"]


async def test_pool_with_no_server_times_out_with_a_line(postgres_server: PostgresServer) -> None:
    url = _with(postgres_server.url, port=_free_port())
    async with AsyncConnectionPool(url, min_size=1, max_size=1, open=False) as pool:
        await pool.open(wait=False)

        async def borrow() -> None:
            async with pool.connection(timeout=0.5):
                pass

        exc = await _raised(borrow)
    failure = explain(exc, url)
    assert failure.problem is Problem.POOL_TIMEOUT
    assert "no database connection to 127.0.0.1:" in failure.line
    _assert_secret_kept(exc, failure, postgres_server.password)


# ------------------------------------------------------------------------------------------ serving


@pytest.fixture
async def conn(postgres_database: PostgresDatabase) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
    connection = await _connect(postgres_database.url)
    try:
        yield connection
    finally:
        await connection.close()


async def test_statement_timeout(
    conn: psycopg.AsyncConnection[tuple[object, ...]], postgres_database: PostgresDatabase
) -> None:
    await conn.execute("SET statement_timeout = '50ms'")
    exc = await _raised(lambda: conn.execute("SELECT pg_sleep(5)"))
    failure = explain(exc, postgres_database.url)
    assert failure.problem is Problem.QUERY_TIMEOUT
    assert f"a query on 127.0.0.1:{postgres_database.url.rsplit(':', 1)[1]} ran past the statement timeout" in (
        failure.line
    )
    _assert_secret_kept(exc, failure, postgres_database.server.password)


async def test_serialization_failure(postgres_database: PostgresDatabase) -> None:
    one, two = await _connect(postgres_database.url), await _connect(postgres_database.url)
    try:
        await one.execute("CREATE TABLE skew (n int)")
        for c in (one, two):
            await c.execute("BEGIN ISOLATION LEVEL SERIALIZABLE")
            await c.execute("SELECT count(*) FROM skew")
        await one.execute("INSERT INTO skew VALUES (1)")
        await two.execute("INSERT INTO skew VALUES (2)")
        await one.execute("COMMIT")
        exc = await _raised(lambda: two.execute("COMMIT"))
    finally:
        await one.close()
        await two.close()
    failure = explain(exc, postgres_database.url)
    assert failure.problem is Problem.CONFLICT and failure.problem.transient
    assert "collided with another process and was rolled back (could not serialize access" in failure.line
    _assert_secret_kept(exc, failure, postgres_database.server.password)


async def test_deadlock(postgres_database: PostgresDatabase) -> None:
    one, two = await _connect(postgres_database.url), await _connect(postgres_database.url)
    try:
        await one.execute("CREATE TABLE locks (k int PRIMARY KEY); INSERT INTO locks VALUES (1), (2)")
        for c in (one, two):
            await c.execute("SET deadlock_timeout = '50ms'")
            await c.execute("BEGIN")
        await one.execute("UPDATE locks SET k = k WHERE k = 1")
        await two.execute("UPDATE locks SET k = k WHERE k = 2")
        outcomes = await asyncio.gather(
            one.execute("UPDATE locks SET k = k WHERE k = 2"),
            two.execute("UPDATE locks SET k = k WHERE k = 1"),
            return_exceptions=True,
        )
    finally:
        await one.close()
        await two.close()
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(errors) == 1  # PostgreSQL cancels one of the two; the other goes on
    failure = explain(errors[0], postgres_database.url)
    assert failure.problem is Problem.CONFLICT
    assert "(deadlock detected)" in failure.line  # the DETAIL (process ids, transactions) stays in the log
    _assert_secret_kept(errors[0], failure, postgres_database.server.password)


async def test_other_errors_name_the_sqlstate(
    conn: psycopg.AsyncConnection[tuple[object, ...]], postgres_database: PostgresDatabase
) -> None:
    exc = await _raised(lambda: conn.execute("SELEC 1"))
    failure = explain(exc, postgres_database.url)
    assert failure.problem is Problem.OTHER
    assert failure.line.endswith('[42601]: syntax error at or near "SELEC"')


@pytest.fixture
async def own_server() -> AsyncIterator[ThrowawayPostgres]:
    """A server of this test's own, to shut down under a query without disturbing the session's."""
    server = await asyncio.to_thread(start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def test_server_stopped_mid_query(own_server: ThrowawayPostgres) -> None:
    url = own_server.url()
    conn, watcher = await _connect(url), await _connect(url)
    query = asyncio.ensure_future(conn.execute("SELECT pg_sleep(60)"))
    # Wait until the server is running the query (a condition, checked from a second session).
    for _ in range(500):
        cur = await watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")
        if await cur.fetchone() == (1,):
            break
        await asyncio.sleep(0.02)
    else:
        pytest.fail("the query never started")
    await watcher.close()
    await asyncio.to_thread(own_server.stop)
    during = await _raised(lambda: query)
    after = await _raised(lambda: conn.execute("SELECT 1"))
    await conn.close()
    for exc in (during, after):
        failure = explain(exc, url)
        assert failure.problem is Problem.CONNECTION_LOST and failure.problem.transient
        assert "lost the connection to 127.0.0.1:" in failure.line
        _assert_secret_kept(exc, failure, own_server.password)
    assert isinstance(during, psycopg.errors.AdminShutdown)


# ------------------------------------------------------------------------------------------ pure parts


async def test_a_wrapped_driver_error_is_explained_by_its_cause(postgres_server: PostgresServer) -> None:
    url = with_database(postgres_server.url, "no_such_catalogue")
    cause = await _raised(lambda: _connect(url))
    try:
        raise CatalogueError("could not open the catalogue") from cause
    except CatalogueError as wrapped:
        assert explain(wrapped, url).problem is Problem.NO_DATABASE


def test_the_url_password_never_reaches_the_line_even_if_the_driver_says_it() -> None:
    url = "postgresql://bot:hunter2-is-long@db.example:6543/papers"
    line = describe(psycopg.OperationalError("connection failed: weird hunter2-is-long"), url)
    assert "hunter2-is-long" not in line
    assert "db.example:6543/papers" in line


def test_not_a_driver_error_is_other() -> None:
    assert explain(ValueError("boom")).problem is Problem.OTHER
    assert describe(ValueError("boom")) == "PostgreSQL: database error on the PostgreSQL server: boom"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:secret@db:5432/papers", "postgresql://bot@db:5432/papers"),
        ("postgresql://bot:p%40ss@[::1]:5432/papers", "postgresql://bot@[::1]:5432/papers"),
        ("postgresql:///papers?host=/run/pg&password=secret", "postgresql:///papers?host=/run/pg&password=**********"),
        ("postgresql://bot@db/papers", "postgresql://bot@db/papers"),
        ("postgres://db/papers?sslmode=require&password=x&application_name=p", "postgres://db/papers?sslmode=require&password=**********&application_name=p"),
    ],
)  # fmt: skip
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
