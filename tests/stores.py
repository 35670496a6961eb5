"""Store fixtures for every test folder: a real catalogue on each backend, search over it, the fixture days.

`catalogue` is parametrised over the backends: every test that takes it runs against each one, which is
the contract's proof that the layers above cannot tell them apart. `search` is a real `SearchService` over
it (a CLI-role process: it holds the index lease); call `await search.sync()` after writes to apply the
change log before searching, as a running process does within a second.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.models import DailyEntry
from bot.search import SearchService, open_search
from bot.sources.huggingface import parse_daily_papers

HF_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hf"
_DAY = re.compile(r"hf_daily_papers_(\d{4}-\d{2}-\d{2})_")
BACKENDS = ("sqlite",)


def fixture_days() -> dict[dt.date, list[DailyEntry]]:
    """Every captured Hugging Face day, parsed by the real parser."""
    days: dict[dt.date, list[DailyEntry]] = {}
    for path in sorted(HF_FIXTURES.glob("hf_daily_papers_*.json")):
        match = _DAY.match(path.name)
        assert match, path
        day = dt.date.fromisoformat(match.group(1))
        days[day] = parse_daily_papers(json.loads(path.read_bytes()), day)
    return days


async def catalogue_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a fresh, empty catalogue of `backend` lives: an SQLite file path or a PostgreSQL URL."""
    if backend == "sqlite":
        return str(tmp_path / "data" / "papers.db")
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
