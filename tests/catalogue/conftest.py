"""Catalogue fixtures: a real migrated SQLite file in tmp_path, and the real fixture days parsed."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.models import DailyEntry
from bot.sources.huggingface import parse_daily_papers

HF_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hf"
_DAY = re.compile(r"hf_daily_papers_(\d{4}-\d{2}-\d{2})_")


def fixture_days() -> dict[dt.date, list[DailyEntry]]:
    """Every captured Hugging Face day, parsed by the real parser."""
    days: dict[dt.date, list[DailyEntry]] = {}
    for path in sorted(HF_FIXTURES.glob("hf_daily_papers_*.json")):
        match = _DAY.match(path.name)
        assert match, path
        day = dt.date.fromisoformat(match.group(1))
        days[day] = parse_daily_papers(json.loads(path.read_bytes()), day)
    return days


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await Catalogue.open(tmp_path / "data" / "papers.db")
    try:
        yield cat
    finally:
        await cat.close()


@pytest.fixture
async def filled(catalogue: Catalogue) -> Catalogue:
    for day, entries in fixture_days().items():
        await catalogue.record_day(day, entries)
    return catalogue
