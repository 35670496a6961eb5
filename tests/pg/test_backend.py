"""What only the PostgreSQL backend has: migrations raced by several processes, a change log ordered by commit
across connections, LISTEN/NOTIFY wake-ups, byte-ordered titles, and a URL shown without its password.

The behaviour both backends share is tested once, on both, in tests/catalogue, tests/search and tests/digest.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from bot.catalogue import open_catalogue
from bot.catalogue.postgres import PostgresCatalogue
from bot.catalogue.postgres._migrate import available_migrations
from bot.catalogue.postgres.changelog import CHANGES_LOCK, CHANNEL, append
from bot.catalogue.sqlite import SqliteCatalogue
from bot.errors import CatalogueError
from bot.models import Paper
from tests.postgres import PostgresDatabase, PostgresServer
from tests.robustness._proc import wait_for
from tests.stores import postgres_catalogue_url

REPO = Path(__file__).resolve().parents[2]


def _paper(pid: str, **fields: object) -> Paper:
    base: dict[str, object] = {"id": pid, "title": f"Paper {pid}", "abstract": "An abstract."}
    base.update(fields)
    return Paper(**base)  # type: ignore[arg-type]


@pytest.fixture
async def catalogue(request: pytest.FixtureRequest) -> AsyncIterator[PostgresCatalogue]:
    cat = await PostgresCatalogue.open(postgres_catalogue_url(request))
    try:
        yield cat
    finally:
        await cat.close()


def _sql(url: str, query: str) -> list[tuple[object, ...]]:
    """Run one statement on a connection of its own; its rows, if it returns any."""
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


# ---- opening and migrating ----------------------------------------------------------------------------------

_OPEN = """
import asyncio, sys
from bot.catalogue import open_catalogue
async def main():
    cat = await open_catalogue(sys.argv[1])
    print(cat.identity)
    await cat.close()
asyncio.run(main())
"""


def test_processes_creating_one_catalogue_at_once_migrate_it_once(postgres_database: PostgresDatabase) -> None:
    url = postgres_database.url
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN, url], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outcomes = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, [err for _, err in outcomes]
    assert len({out.strip() for out, _ in outcomes}) == 1  # one identity: one catalogue
    versions = _sql(url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(v,) for v, _, _ in available_migrations()]


async def test_reopening_keeps_identity_and_a_database_copied_from_a_template_gets_its_own(
    request: pytest.FixtureRequest,
) -> None:
    url = postgres_catalogue_url(request)
    first = await open_catalogue(url)
    identity = first.identity
    await first.upsert_papers([_paper("2401.00001")])
    await first.close()
    again = await open_catalogue(url)
    other = await open_catalogue(postgres_catalogue_url(request))  # another copy of the same template
    try:
        assert again.identity == identity and len(identity) == 32
        assert await again.get("2401.00001") is not None
        assert other.identity != identity
    finally:
        await again.close()
        await other.close()


async def test_newer_schema_is_refused_with_a_clear_error(request: pytest.FixtureRequest) -> None:
    url = postgres_catalogue_url(request)
    _sql(url, "INSERT INTO schema_version (version) VALUES (999)")
    with pytest.raises(CatalogueError, match="newer than this paperbot knows"):
        await open_catalogue(url)


async def test_a_failing_migration_is_named_and_leaves_nothing(postgres_database: PostgresDatabase) -> None:
    url = postgres_database.url
    _sql(url, "CREATE TABLE papers (occupied int)")  # the first migration's table name, taken
    with pytest.raises(CatalogueError, match=r"migration 0001_initial\.sql failed: .*already exists"):
        await open_catalogue(url)
    tables = {row[0] for row in _sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == {"papers", "schema_version"}  # the migration's other tables were rolled back with it
    assert _sql(url, "SELECT count(*) FROM schema_version") == [(0,)]


async def test_location_hides_the_password(catalogue: PostgresCatalogue, postgres_server: PostgresServer) -> None:
    password = postgres_server.password
    assert password and password not in catalogue.location
    assert catalogue.location.startswith("postgresql://") and "@127.0.0.1:" in catalogue.location
    assert catalogue.backend == "postgresql"


# ---- the change log across connections ----------------------------------------------------------------------


async def _lock_waiters(url: str) -> int:
    rows = await asyncio.to_thread(
        _sql,
        url,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        f"AND (classid::bigint << 32 | objid::bigint) = {CHANGES_LOCK}",
    )
    return int(rows[0][0])  # type: ignore[call-overload]


async def test_log_entries_become_visible_in_commit_order(request: pytest.FixtureRequest) -> None:
    """A transaction that drew a sequence number and has not committed yet holds back every later append, so
    a follower can never see an entry whose lower-numbered neighbour commits after it."""
    url = postgres_catalogue_url(request)
    cat = await open_catalogue(url)
    slow = await psycopg.AsyncConnection.connect(url, autocommit=True, row_factory=dict_row)
    try:
        await cat.upsert_papers([_paper("2401.00001"), _paper("2401.00002")])
        start = (await cat.log_position()).last_seq
        await slow.execute("BEGIN")
        await append(slow, ["2401.00001"], dt.datetime.now(dt.UTC))  # draws the next number, holds the lock
        fast = asyncio.create_task(cat.upsert_papers([_paper("2401.00002", title="Renamed")]))
        # The fast write must queue behind the open append (a condition the server shows, not a sleep).
        while await _lock_waiters(url) == 0:
            assert not fast.done(), "the second append did not wait for the first transaction's commit"
            await asyncio.sleep(0.02)
        assert (await cat.changes_after(start, limit=10)).empty  # nothing visible yet: no hole to skip
        await slow.execute("COMMIT")
        assert await fast == 1
        batch = await cat.changes_after(start, limit=10)
        assert [p.id for p in batch.papers] == ["2401.00001", "2401.00002"]
    finally:
        await slow.close()
        await cat.close()


async def test_a_commit_in_another_process_wakes_a_waiter_by_notification(request: pytest.FixtureRequest) -> None:
    url = postgres_catalogue_url(request)
    waiting, writing = await open_catalogue(url), await open_catalogue(url)
    try:
        position = await waiting.log_position()
        waiter = asyncio.create_task(waiting.wait_for_changes(position.last_seq, max_wait_s=60))
        listening = f"SELECT count(*) FROM pg_stat_activity WHERE query = 'LISTEN {CHANNEL}'"
        await wait_for(lambda: _sql(url, listening) == [(1,)], deadline_s=30, what="the listener", step_s=0.02)
        await writing.upsert_papers([_paper("2401.00001")])
        assert await asyncio.wait_for(waiter, 60) is True
    finally:
        await waiting.close()
        await writing.close()


async def test_waiting_still_works_when_the_listener_connection_is_lost(request: pytest.FixtureRequest) -> None:
    url = postgres_catalogue_url(request)
    cat = await open_catalogue(url)
    try:
        assert await cat.wait_for_changes(0, max_wait_s=0.01) is False  # starts the listener
        listening = f"SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN {CHANNEL}'"
        await wait_for(lambda: bool(_sql(url, listening)), deadline_s=30, what="the listener", step_s=0.02)
        await asyncio.to_thread(_sql, url, f"SELECT pg_terminate_backend({_sql(url, listening)[0][0]})")
        waiter = asyncio.create_task(cat.wait_for_changes(0, max_wait_s=60))
        await cat.upsert_papers([_paper("2401.00001")])
        assert await asyncio.wait_for(waiter, 60) is True
        # ... and the listener comes back by itself.
        while not await asyncio.to_thread(_sql, url, listening):
            await cat.wait_for_changes(10**9, max_wait_s=0.1)
    finally:
        await cat.close()


# ---- titles ----------------------------------------------------------------------------------------------------

TITLES = [
    "Zebra finches sing",
    "zebrafish larvae",
    "Éclair: fast attention",
    "eclairs are pastries",
    "Ωmega networks",
    "Über-models",
    "uber models",
    "Z-loss",
    "z loss revisited",
    "日本語の論文",
    "Ä priori",
    "a priori",
    "A  Priori   Again",
]


async def test_autocomplete_orders_titles_exactly_as_sqlite(catalogue: PostgresCatalogue, tmp_path: Path) -> None:
    papers = [_paper(f"2401.{n:05d}", title=title, upvotes=n % 4 or None) for n, title in enumerate(TITLES)]
    sqlite = await SqliteCatalogue.open(tmp_path / "papers.db")
    try:
        for cat in (catalogue, sqlite):
            await cat.upsert_papers(papers)
        for prefix in ("", "z", "Z", "e", "é", "u", "ü", "a", "a pri", "ω", "日", "zz"):
            assert await catalogue.titles_starting_with(prefix, limit=20) == await sqlite.titles_starting_with(
                prefix, limit=20
            ), prefix
    finally:
        await sqlite.close()


async def test_a_prefix_is_served_by_the_title_index(request: pytest.FixtureRequest) -> None:
    url = postgres_catalogue_url(request)
    async with await open_catalogue(url) as cat:
        await cat.import_papers([_paper(f"2401.{n:05d}", title=f"Title {n:05d} of many") for n in range(5_000)])
    key = "title 0004"
    _sql(url, "ANALYZE papers")
    with psycopg.connect(url) as conn:
        plan = conn.execute(
            "EXPLAIN SELECT id, title FROM papers WHERE title_key >= %s AND title_key < %s "
            "ORDER BY title_key, pk LIMIT 25",
            (key, key + "\U0010ffff"),
        ).fetchall()
    text = "\n".join(str(row[0]) for row in plan)
    assert "Index Scan using papers_title_key" in text, text


async def test_nul_characters_from_a_source_are_dropped_not_fatal(catalogue: PostgresCatalogue) -> None:
    paper = _paper("2401.00001", title="Nul\x00 title", abstract="An\x00 abstract", authors=("A\x00B",))
    assert await catalogue.upsert_papers([paper]) == 1
    stored = await catalogue.get("2401.00001")
    assert stored is not None
    assert (stored.title, stored.abstract, stored.authors) == ("Nul title", "An abstract", ("AB",))
    assert await catalogue.upsert_papers([paper]) == 0  # and storing it again changes nothing


# ---- packaging ---------------------------------------------------------------------------------------------------


def test_every_backends_migrations_ship_in_the_wheel() -> None:
    """A wheel (the Docker image installs one) carries only the data files `package-data` names: a migration
    left out would leave an installed bot with an empty schema."""
    import fnmatch
    import tomllib

    package_data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"
    ]
    for sql in sorted((REPO / "bot").rglob("*.sql")):
        relative = sql.relative_to(REPO)
        shipped = any(
            fnmatch.fnmatch(str(relative), str(Path(*package.split(".")) / pattern))
            for package, patterns in package_data.items()
            for pattern in patterns
        )
        assert shipped, f"{relative} is not package data in pyproject.toml"
