"""`python -m bench.pg_errors`: what asyncpg and psycopg 3 raise for each way a PostgreSQL catalogue can fail.

Against real throwaway servers (`tests/postgres_server.py`), for each driver and case: the exception class,
its message, and whether the URL's password appears in `str()`, `repr()` or the formatted traceback (chained
causes included). Also what each driver's pool does when the server goes away mid-run and comes back.
The findings are written up in `bench/postgres_driver.md`; `bot/catalogue/postgres/errors.py` turns the
chosen driver's exceptions into one line.

Cases: unresolvable host (in a network namespace of its own, so no DNS query leaves the machine), refused
port, wrong password, missing database, server stopped mid-query, statement timeout, serialization failure,
deadlock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.postgres_server import ThrowawayPostgres, running, start, with_database

REPO = Path(__file__).resolve().parent.parent
DNS_HOST = "db.paperbot.invalid"


@dataclass(frozen=True)
class Finding:
    driver: str
    case: str
    kind: str
    message: str
    leaks: str  # where the password showed up, or "no"


def describe(driver: str, case: str, exc: BaseException | None, password: str) -> Finding:
    if exc is None:
        return Finding(driver, case, "(no exception)", "", "no")
    text = {"str": str(exc), "repr": repr(exc), "traceback": "".join(traceback.format_exception(exc))}
    leaks = ", ".join(where for where, value in text.items() if password in value) or "no"
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    sqlstate = getattr(exc, "sqlstate", None)
    if sqlstate:
        kind += f" [{sqlstate}]"
    return Finding(driver, case, kind, " ".join(str(exc).split())[:200], leaks)


# ------------------------------------------------------------------------------------------ one driver's verbs


class Verbs:
    """connect / query / a second session, in one driver's words."""

    name: str

    async def connect(self, url: str) -> Any: ...
    async def execute(self, conn: Any, sql: str) -> Any: ...
    async def close(self, conn: Any) -> None: ...


class AsyncpgVerbs(Verbs):
    name = "asyncpg"

    async def connect(self, url: str) -> Any:
        import asyncpg

        return await asyncpg.connect(url, timeout=10)

    async def execute(self, conn: Any, sql: str) -> Any:
        return await conn.execute(sql)

    async def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            await conn.close(timeout=2)


class PsycopgVerbs(Verbs):
    name = "psycopg"

    async def connect(self, url: str) -> Any:
        import psycopg

        return await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)

    async def execute(self, conn: Any, sql: str) -> Any:
        return await conn.execute(sql)

    async def close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            await conn.close()


VERBS: dict[str, Callable[[], Verbs]] = {"asyncpg": AsyncpgVerbs, "psycopg": PsycopgVerbs}


async def caught(call: Callable[[], Awaitable[object]]) -> BaseException | None:
    try:
        await call()
    except Exception as exc:
        return exc
    return None


# ------------------------------------------------------------------------------------------ the cases


def _url_with(
    server: ThrowawayPostgres, *, host: str | None = None, port: int | None = None, password: str | None = None
) -> str:
    user = server.user
    return f"postgresql://{user}:{password or server.password}@{host or server.host}:{port or server.port}/postgres"


async def case_refused(v: Verbs, server: ThrowawayPostgres) -> BaseException | None:
    from tests.postgres_server import _free_port

    return await caught(lambda: v.connect(_url_with(server, port=_free_port())))


async def case_password(v: Verbs, server: ThrowawayPostgres) -> BaseException | None:
    # The wrong password is the secret here: it must not leak either.
    return await caught(lambda: v.connect(_url_with(server, password=server.password[::-1])))


async def case_database(v: Verbs, server: ThrowawayPostgres) -> BaseException | None:
    return await caught(lambda: v.connect(with_database(server.url(), "no_such_catalogue")))


async def case_timeout(v: Verbs, server: ThrowawayPostgres) -> BaseException | None:
    conn = await v.connect(server.url())
    try:
        await v.execute(conn, "SET statement_timeout = '50ms'")
        return await caught(lambda: v.execute(conn, "SELECT pg_sleep(5)"))
    finally:
        await v.close(conn)


async def _two_sessions(v: Verbs, server: ThrowawayPostgres, setup: str) -> tuple[Any, Any]:
    one, two = await v.connect(server.url()), await v.connect(server.url())
    await v.execute(one, setup)
    return one, two


async def case_serialization(v: Verbs, server: ThrowawayPostgres) -> BaseException | None:
    table = f"skew_{v.name}"
    one, two = await _two_sessions(v, server, f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (n int)")
    try:
        for conn in (one, two):
            await v.execute(conn, "BEGIN ISOLATION LEVEL SERIALIZABLE")
            await v.execute(conn, f"SELECT count(*) FROM {table}")
        await v.execute(one, f"INSERT INTO {table} VALUES (1)")
        await v.execute(two, f"INSERT INTO {table} VALUES (2)")
        await v.execute(one, "COMMIT")
        return await caught(lambda: v.execute(two, "COMMIT"))
    finally:
        await v.close(one)
        await v.close(two)


async def case_deadlock(v: Verbs, server: ThrowawayPostgres) -> BaseException | None:
    table = f"locks_{v.name}"
    one, two = await _two_sessions(
        v,
        server,
        f"DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (k int PRIMARY KEY); INSERT INTO {table} VALUES (1), (2)",
    )
    try:
        for conn in (one, two):
            await v.execute(conn, "SET deadlock_timeout = '100ms'")
            await v.execute(conn, "BEGIN")
        await v.execute(one, f"UPDATE {table} SET k = k WHERE k = 1")
        await v.execute(two, f"UPDATE {table} SET k = k WHERE k = 2")
        first = asyncio.ensure_future(caught(lambda: v.execute(one, f"UPDATE {table} SET k = k WHERE k = 2")))
        second = asyncio.ensure_future(caught(lambda: v.execute(two, f"UPDATE {table} SET k = k WHERE k = 1")))
        results = await asyncio.gather(first, second)
        return next((exc for exc in results if exc is not None), None)
    finally:
        await v.close(one)
        await v.close(two)


async def case_server_stopped(v: Verbs, _: ThrowawayPostgres) -> tuple[BaseException | None, BaseException | None]:
    """A query in flight when the server shuts down (fast mode), then the next query on that connection."""
    own = await asyncio.to_thread(start)
    try:
        conn = await v.connect(own.url())
        query = asyncio.ensure_future(caught(lambda: v.execute(conn, "SELECT pg_sleep(30)")))
        await asyncio.sleep(0.3)  # let the query reach the server; a bench, not a test
        await asyncio.to_thread(own.stop)
        during = await query
        after = await caught(lambda: v.execute(conn, "SELECT 1"))
        await v.close(conn)
        return during, after
    finally:
        await asyncio.to_thread(own.stop)


def case_dns(driver: str, password: str) -> Finding:
    """Run the connect in a child process inside a fresh network namespace: the lookup fails without a packet."""
    if shutil.which("unshare") is None:
        return Finding(driver, "host does not resolve", "(skipped: no unshare)", "", "?")
    code = (
        "import asyncio, json, sys\n"
        "from bench.pg_errors import VERBS, caught, describe\n"
        f"v = VERBS[{driver!r}]()\n"
        f"exc = asyncio.run(caught(lambda: v.connect('postgresql://paperbot:{password}@{DNS_HOST}:5432/postgres')))\n"
        f"print(json.dumps(describe({driver!r}, 'host does not resolve', exc, {password!r}).__dict__))\n"
    )
    result = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return Finding(driver, "host does not resolve", "(failed)", result.stderr.strip()[-200:], "?")
    return Finding(**json.loads(result.stdout))


# ------------------------------------------------------------------------------------------ pools


async def pool_outage(driver: str) -> list[str]:
    """A pool of 2 serving queries; the server stops; queries meanwhile; the server restarts on the same port."""
    log: list[str] = []
    server = await asyncio.to_thread(start)
    try:
        url = server.url()
        if driver == "asyncpg":
            import asyncpg

            pool: Any = await asyncpg.create_pool(url, min_size=2, max_size=2)

            async def query() -> object:
                async with pool.acquire(timeout=3) as conn:
                    return await conn.fetchval("SELECT 1")
        else:
            from psycopg_pool import AsyncConnectionPool

            pool = AsyncConnectionPool(
                url,
                min_size=2,
                max_size=2,
                open=False,
                check=AsyncConnectionPool.check_connection,
                reconnect_timeout=60,
            )
            await pool.open(wait=True)

            async def query() -> object:
                async with pool.connection(timeout=3) as conn:
                    cur = await conn.execute("SELECT 1")
                    return await cur.fetchone()

        log.append(f"before: {await query()!r}")
        data = server.data_dir
        await asyncio.to_thread(_pg_ctl, server, "stop", "-m", "immediate")
        for attempt in range(3):
            started = time.perf_counter()
            exc = await caught(query)
            log.append(
                f"down #{attempt + 1}: {type(exc).__name__ if exc else 'ok'}: "
                f"{' '.join(str(exc).split())[:120]} ({time.perf_counter() - started:.2f} s)"
            )
        await asyncio.to_thread(_pg_ctl, server, "start", "-w", "-l", str(server.log_file), "-o", f"-p {server.port}")
        assert data.exists()
        for attempt in range(3):
            exc = await caught(query)
            log.append(f"back #{attempt + 1}: {type(exc).__name__ + ': ' + str(exc)[:100] if exc else 'ok'}")
        await pool.close()
    finally:
        await asyncio.to_thread(server.stop)
    return log


def _pg_ctl(server: ThrowawayPostgres, *args: str) -> None:
    from tests.postgres_server import _run_as, _server_account

    result = _run_as(_server_account(), [str(server.bindir / "pg_ctl"), *args, "-D", str(server.data_dir)], timeout=60)
    if result.returncode != 0:
        raise RuntimeError(result.stderr)


# ------------------------------------------------------------------------------------------ main


async def findings(drivers: list[str]) -> tuple[list[Finding], dict[str, list[str]]]:
    out: list[Finding] = []
    pools: dict[str, list[str]] = {}
    with running() as server:
        for name in drivers:
            v = VERBS[name]()
            out.append(await asyncio.to_thread(case_dns, name, server.password))
            for label, case in (
                ("refused port", case_refused),
                ("wrong password", case_password),
                ("missing database", case_database),
                ("statement timeout", case_timeout),
                ("serialization failure", case_serialization),
                ("deadlock", case_deadlock),
            ):
                secret = server.password[::-1] if case is case_password else server.password
                out.append(describe(name, label, await case(v, server), secret))
            during, after = await case_server_stopped(v, server)
            out.append(describe(name, "server stopped mid-query", during, server.password))
            out.append(describe(name, "next query on that connection", after, server.password))
            pools[name] = await pool_outage(name)
    return out, pools


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_errors", description=__doc__.split("\n")[0])
    parser.add_argument("--drivers", default="asyncpg,psycopg")
    args = parser.parse_args(argv)
    found, pools = asyncio.run(findings(args.drivers.split(",")))
    print("| driver | case | exception [SQLSTATE] | message | password in str/repr/traceback |")
    print("|---|---|---|---|---|")
    for f in found:
        print(f"| {f.driver} | {f.case} | `{f.kind}` | {f.message.replace('|', '/')} | {f.leaks} |")
    for name, log in pools.items():
        print(f"\npool outage, {name}:")
        print("\n".join(f"  {line}" for line in log))


if __name__ == "__main__":
    main()
