"""Store fixtures for every test folder: a real catalogue on each backend, search over it, the fixture days.

`catalogue` is parametrised over the backends: every test that takes it runs against each one, which is
the contract's proof that the layers above cannot tell them apart. `search` is a real `SearchService` over
it (a CLI-role process: it holds the index lease); call `await search.sync()` after writes to apply the
change log before searching, as a running process does within a second.

On PostgreSQL each test gets a database of its own, copied from a template that holds the migrated, empty
schema (made once per session): copying is much cheaper than migrating, which keeps the doubled catalogue
suites fast. The copy has no identity yet; it gets its own when first opened.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.catalogue.postgres import migrate_database
from bot.models import DailyEntry
from bot.search import SearchService, open_search
from bot.sources.huggingface import parse_daily_papers

if TYPE_CHECKING:
    from tests.postgres import PostgresServer

HF_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf"
_DAY = re.compile(r"hf_daily_papers_(\d{4}-\d{2}-\d{2})_")
BACKENDS = ("sqlite", "postgresql")


def fixture_days() -> dict[dt.date, list[DailyEntry]]:
    """Every captured Hugging Face day, parsed by the real parser."""
    days: dict[dt.date, list[DailyEntry]] = {}
    for path in sorted(HF_FIXTURES.glob("hf_daily_papers_*.json")):
        match = _DAY.match(path.name)
        assert match, path
        day = dt.date.fromisoformat(match.group(1))
        days[day] = parse_daily_papers(json.loads(path.read_bytes()), day)
    return days


def _run_in_thread(work: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine to the end on a loop of its own (a session fixture may be set up inside a test's loop)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="catalogue-template")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


@pytest.fixture(scope="session")
def postgres_catalogue_template(postgres_server: PostgresServer) -> Iterator[str]:
    """The name of a database holding the catalogue's migrated, empty schema, for tests to copy."""
    from tests.postgres import create_database, drop_database  # imported here: tests.postgres is a plugin

    template = create_database(postgres_server, "catalogue_template")
    try:
        _run_in_thread(migrate_database(template.url))
        yield template.name
    finally:
        drop_database(postgres_server, template.name)


def postgres_catalogue_url(request: pytest.FixtureRequest) -> str:
    """A new PostgreSQL catalogue database (a copy of the template) for this test, dropped after it."""
    from tests.postgres import create_database, drop_database

    server: PostgresServer = request.getfixturevalue("postgres_server")
    template: str = request.getfixturevalue("postgres_catalogue_template")
    database = create_database(server, request.node.name, template=template)
    request.addfinalizer(lambda: drop_database(server, database.name))
    return database.url


async def catalogue_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a fresh, empty catalogue of `backend` lives: an SQLite file path or a PostgreSQL URL."""
    if backend == "sqlite":
        return str(tmp_path / "data" / "papers.db")
    if backend == "postgresql":
        return postgres_catalogue_url(request)
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(params=BACKENDS)
async def catalogue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(await catalogue_target(request.param, tmp_path, request))
    try:
        yield cat
    finally:
        await cat.close()


@pytest.fixture
async def filled(catalogue: Catalogue) -> Catalogue:
    for day, entries in fixture_days().items():
        await catalogue.record_day(day, entries)
    return catalogue


@pytest.fixture
async def search(catalogue: Catalogue, tmp_path: Path) -> AsyncIterator[SearchService]:
    async with open_search(catalogue, tmp_path / "index", role="cli") as service:
        yield service


@pytest.fixture
async def filled_search(filled: Catalogue, search: SearchService) -> SearchService:
    await search.sync()
    return search
