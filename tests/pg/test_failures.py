"""Bad input and outages on a real PostgreSQL server: one line naming the problem, the right exit status, no
traceback, nothing half-written, and the password nowhere — not in lines, logs, `config check` or `db stats`.

The outage tests run a server of this module's own and stop it under a running catalogue, a CLI import and a
bot-like process (`ThrowawayPostgres.halt`), then start it again on the same port (`resume`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bot.catalogue import open_catalogue
from bot.catalogue.postgres._connections import INTERACTIVE_WAIT_S
from bot.errors import CatalogueError
from bot.models import Paper
from bot.search import open_search
from tests.postgres import PostgresServer
from tests.postgres_server import PostgresUnavailable, ThrowawayPostgres, start, with_database
from tests.robustness._proc import Finished, run_bot_cli, wait_for
from tests.stores import postgres_catalogue_url


def _with(url: str, *, port: int | None = None, password: str | None = None, database: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password or parts.password}@{parts.hostname}:{port or parts.port}"
    changed = urlunsplit(parts._replace(netloc=netloc))
    return with_database(changed, database) if database else changed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_one_line(result: Finished, *secrets: str, code: int = 1) -> str:
    assert result.code == code, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    for secret in secrets:
        assert secret not in result.err + result.out
    return lines[0]


async def _cli(*args: str, url: str, cwd: Path, limit_s: float = 120.0) -> Finished:
    return await run_bot_cli(*args, env={"PAPERBOT_DATABASE__URL": url}, cwd=cwd, limit_s=limit_s)


# ---- a wrong URL, a refused password, a missing database ------------------------------------------------------


async def test_nothing_listening_is_one_line_exit_1(postgres_server: PostgresServer, tmp_path: Path) -> None:
    port = _free_port()
    result = await _cli("db", "stats", url=_with(postgres_server.url, port=port), cwd=tmp_path)
    line = _assert_one_line(result, postgres_server.password)
    assert line == (
        f"paperbot: PostgreSQL: nothing accepts connections at 127.0.0.1:{port}/postgres: "
        "is PostgreSQL running there, on that port?"
    )


async def test_a_refused_password_is_one_line_exit_1(postgres_server: PostgresServer, tmp_path: Path) -> None:
    wrong = "wrong-password-7d1f"
    result = await _cli("ingest", "--date", "2024-03-13", url=_with(postgres_server.url, password=wrong), cwd=tmp_path)
    line = _assert_one_line(result, postgres_server.password, wrong)
    assert line.startswith("paperbot: PostgreSQL: 127.0.0.1:") and "refused the login for user 'paperbot'" in line


async def test_a_missing_database_is_one_line_exit_1(postgres_server: PostgresServer, tmp_path: Path) -> None:
    url = _with(postgres_server.url, database="no_such_catalogue")
    line = _assert_one_line(await _cli("search", "x", url=url, cwd=tmp_path), postgres_server.password)
    assert "database 'no_such_catalogue' does not exist on 127.0.0.1:" in line


async def test_a_malformed_url_is_a_configuration_error_exit_2(tmp_path: Path) -> None:
    result = await _cli("db", "stats", url="postgresql://bob:hunter2secret@:notaport/x", cwd=tmp_path)
    line = _assert_one_line(result, "hunter2secret", code=2)
    assert line.startswith("paperbot: config: ")


async def test_config_check_and_db_stats_never_show_the_password(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    url = postgres_catalogue_url(request)
    check = await _cli("config", "check", url=url, cwd=tmp_path)
    assert check.code == 0, check.err
    stats = await _cli("db", "stats", url=url, cwd=tmp_path)
    assert stats.code == 0, stats.err
    stats_json = await _cli("db", "stats", "--json", url=url, cwd=tmp_path)
    assert json.loads(stats_json.out)["backend"] == "postgresql"
    for result in (check, stats, stats_json):
        assert postgres_server.password not in result.out + result.err
    assert "postgresql://paperbot@127.0.0.1:" in stats.out  # where it is, without the password


# ---- the server goes away ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_server() -> Iterator[ThrowawayPostgres]:
    """A server of this module's own: its tests stop and restart it."""
    try:
        server = start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI needs a PostgreSQL server and none could be had: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server of our own: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def own_url(own_server: ThrowawayPostgres, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    name = f"outage_{abs(hash(request.node.name)) % 10**8}"
    with psycopg.connect(own_server.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield own_server.url(name)
    finally:
        if own_server.pid is None:  # a test that failed with the server halted
            await asyncio.to_thread(own_server.resume)
        with psycopg.connect(own_server.url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def _paper(n: int) -> Paper:
    return Paper(id=f"2401.{n:05d}", title=f"Outage survivor number {n}", abstract="Still here.")


async def test_a_catalogue_fails_fast_with_one_line_while_the_server_is_down_and_recovers(
    own_server: ThrowawayPostgres, own_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cat = await open_catalogue(own_url)
    try:
        await cat.upsert_papers([_paper(1)])
        await asyncio.to_thread(own_server.halt)
        started = time.monotonic()
        with pytest.raises(CatalogueError) as read_failure:
            await cat.get("2401.00001")
        # A slash command must still answer within Discord's 3 s: an interactive read gives up after its
        # borrow wait (plus scheduling noise), it does not hang.
        assert time.monotonic() - started < INTERACTIVE_WAIT_S + 3
        with pytest.raises(CatalogueError) as write_failure:
            await cat.upsert_papers([_paper(2)])
        for failure in (read_failure.value, write_failure.value):
            line = str(failure)
            assert line.startswith("PostgreSQL: ") and "\n" not in line
            assert f"127.0.0.1:{own_server.port}/" in line
            assert own_server.password not in line + "".join(traceback.format_exception(failure))
        assert "nothing accepts connections" in str(write_failure.value)  # the cause, not only "timed out"
        await asyncio.to_thread(own_server.resume)
        deadline = time.monotonic() + 60
        while True:  # the pool reconnects by itself; no reopening
            try:
                assert await cat.get("2401.00001") is not None
                break
            except CatalogueError:
                assert time.monotonic() < deadline, "the catalogue did not reconnect"
                await asyncio.sleep(0.2)
        assert await cat.get("2401.00002") is None  # the failed write left nothing
        assert await cat.upsert_papers([_paper(2)]) == 1
    finally:
        await cat.close()
    # The failures went to the caller, once each; the log has no warning per reconnect attempt.
    noisy = [r for r in caplog.records if r.name.startswith(("psycopg", "bot.catalogue")) and r.levelno >= logging.INFO]
    assert not noisy, [r.getMessage() for r in noisy]
    assert own_server.password not in caplog.text


def _write_snapshot(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            record = {
                "id": f"2302.{n:05d}",
                "title": f"Interrupted import {n}",
                "abstract": "Imported until the server went away.",
                "authors_parsed": [["Doe", "Jane", ""]],
                "categories": "cs.LG",
                "versions": [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}],
            }
            out.write(json.dumps(record) + "\n")


def _count(url: str, sql: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


async def test_an_import_whose_server_goes_away_stops_with_one_line_and_keeps_whole_batches(
    own_server: ThrowawayPostgres, own_url: str, tmp_path: Path
) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    await asyncio.to_thread(_write_snapshot, snapshot, 99_000)
    async with await open_catalogue(own_url):
        pass  # tables exist before the import starts, so the count below can be read at once
    importing = asyncio.ensure_future(_cli("import", "arxiv-snapshot", str(snapshot), url=own_url, cwd=tmp_path))
    await wait_for(
        lambda: importing.done() or _count(own_url, "SELECT count(*) FROM papers") > 0,
        deadline_s=120,
        what="the first batch to commit",
        step_s=0.05,
    )
    await asyncio.to_thread(own_server.halt)
    result = await importing
    line = _assert_one_line(result, own_server.password)
    assert line.startswith("paperbot: PostgreSQL: ") and f"127.0.0.1:{own_server.port}/" in line
    await asyncio.to_thread(own_server.resume)
    papers = _count(own_url, "SELECT count(*) FROM papers")
    assert 0 < papers < 99_000 and papers % 10_000 == 0  # whole batches only (one transaction each)
    assert _count(own_url, "SELECT count(DISTINCT paper_id) FROM changes") == papers  # each one logged


async def test_a_bot_keeps_serving_and_follows_again_after_an_outage(
    own_server: ThrowawayPostgres, own_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    bot = await open_catalogue(own_url)
    try:
        async with open_search(bot, tmp_path / "index", role="bot") as search:
            await bot.upsert_papers([_paper(1)])
            await _until_found(search, "survivor", "2401.00001")
            await asyncio.to_thread(own_server.halt)
            # Down: the index still answers with what it has; papers are read from the database, so the
            # search fails with the one line (the user sees a short message), and nothing hangs.
            with pytest.raises(CatalogueError):
                await search.search("survivor")
            # A short restart is ridden out by waiting for a connection; a longer one pauses the following.
            await wait_for(
                lambda: "KeywordView" in _views_said(caplog, "paused"), deadline_s=60, what="the follower to pause"
            )
            await asyncio.to_thread(own_server.resume)
            async with await open_catalogue(own_url) as other:  # another process writes after the outage
                await other.upsert_papers([Paper(id="2401.00077", title="Written after the restart")])
            await _until_found(search, "restart", "2401.00077")
            await wait_for(
                lambda: (
                    bool(_views_said(caplog, "paused"))
                    and _views_said(caplog, "resumed") == _views_said(caplog, "paused")
                ),
                deadline_s=60,
                what="every paused view to resume",
            )
    finally:
        await bot.close()
    assert own_server.password not in caplog.text


def _views_said(caplog: pytest.LogCaptureFixture, what: str) -> set[str]:
    """The views the follower said were paused (or resumed)."""
    prefix = "Following the change log into "
    return {
        r.getMessage().removeprefix(prefix).split()[0]
        for r in caplog.records
        if r.name == "bot.search.follower" and r.getMessage().startswith(prefix) and f" {what}" in r.getMessage()
    }


async def _until_found(search: object, query: str, paper_id: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            found = await search.search(query)  # type: ignore[attr-defined]
            if paper_id in [p.id for p in found.papers]:
                return
        except CatalogueError:
            pass
        assert time.monotonic() < deadline, f"{paper_id} never became searchable"
        await asyncio.sleep(0.1)
