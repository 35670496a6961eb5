"""The fixtures' real papers as one corpus: every Hugging Face Daily Papers day and every arXiv paper recorded.

Relevance is measured on real papers only (no synthetic filler), so papers on the same topics compete for
every query. Everything is read through paperbot's own public parsers: the Daily Papers bodies through
`parse_daily_papers`, the snapshot lines through `read_snapshot`, and the arXiv Atom feeds through
`ArxivClient` talking to the recorded-fixture server on 127.0.0.1 (the same parser the bot uses, and no
network beyond loopback).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from bot.models import DailyEntry, Paper
from bot.sources import ArxivClient, HttpClient
from bot.sources.arxiv_snapshot import read_snapshot
from bot.sources.huggingface import parse_daily_papers

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
T = TypeVar("T")
_DAY = re.compile(r"hf_daily_papers_(\d{4}-\d{2}-\d{2})_")
_ABS_ID = re.compile(r"arxiv\.org/abs/([^\s<\"\\]+?)(?:v\d+)?(?=[<\"\\\s])")


@dataclass(frozen=True, slots=True)
class FixtureCorpus:
    """Daily Papers days (each a list of entries) plus arXiv-only papers; `papers` is every paper once."""

    days: tuple[tuple[dt.date, tuple[DailyEntry, ...]], ...]
    arxiv_only: tuple[Paper, ...]

    @property
    def papers(self) -> dict[str, Paper]:
        """Every paper by id; a Daily Papers record wins over an arXiv one (it carries upvotes and AI keywords)."""
        found: dict[str, Paper] = {p.id: p for p in self.arxiv_only}
        for _day, entries in self.days:
            for entry in entries:
                found[entry.paper.id] = entry.paper
        return found


def daily_days(fixtures: Path = FIXTURES) -> list[tuple[dt.date, list[DailyEntry]]]:
    """Every recorded Daily Papers day, oldest first, parsed as the ingest parses it."""
    days = []
    for path in sorted((fixtures / "hf").glob("hf_daily_papers_*.json")):
        match = _DAY.search(path.name)
        if match:
            day = dt.date.fromisoformat(match[1])
            days.append((day, parse_daily_papers(json.loads(path.read_bytes()), day)))
    return days


def _recorded_arxiv_ids(fixtures: Path) -> list[str]:
    ids: dict[str, None] = {}
    for path in sorted((fixtures / "arxiv").iterdir()):
        for raw in _ABS_ID.findall(path.read_text(encoding="utf-8")):
            ids.setdefault(raw, None)
    return list(ids)


async def _fetch_arxiv(ids: list[str], fixtures: Path) -> list[Paper]:
    from tests.fixture_server import FixtureServer  # the recorded arXiv API, served on loopback

    async with FixtureServer(fixtures) as server:
        http = HttpClient.create()
        try:
            return await ArxivClient(http, server.base_url, 0.0).fetch(ids)
        finally:
            await http.close()


def _run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion, also when called from inside a running event loop (async tests)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def arxiv_papers(fixtures: Path = FIXTURES) -> list[Paper]:
    """Every paper of the recorded arXiv feeds and snapshot lines (feeds first; ids unique)."""
    papers = {p.id: p for p in _run_blocking(_fetch_arxiv(_recorded_arxiv_ids(fixtures), fixtures))}
    for path in sorted((fixtures / "arxiv-snapshot").glob("*.jsonl")):
        for item in read_snapshot(path):
            if isinstance(item, Paper):
                papers.setdefault(item.id, item)
    return list(papers.values())


@cache
def load_corpus(fixtures: Path = FIXTURES) -> FixtureCorpus:
    """The whole fixture catalogue (cached: it is read-only)."""
    days = daily_days(fixtures)
    daily_ids = {e.paper.id for _d, entries in days for e in entries}
    extra = [p for p in arxiv_papers(fixtures) if p.id not in daily_ids]
    return FixtureCorpus(
        days=tuple((day, tuple(entries)) for day, entries in days),
        arxiv_only=tuple(extra),
    )
