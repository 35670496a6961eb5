"""Known-item relevance: load the sets, rank with today's keyword search, score rankings by MRR@10.

The keyword baseline is what `/paper search` answers today: a real catalogue (`open_catalogue`, SQLite) in a
temporary folder, filled through its public write methods (`record_day` for each Daily Papers day,
`upsert_papers` for the arXiv-only papers), and searched through `open_search(...).search` — the keyword
index fed by the catalogue's change log.
"""

from __future__ import annotations

import asyncio
import csv
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bench.fixture_papers import FixtureCorpus, load_corpus
from bot.catalogue import Catalogue, open_catalogue
from bot.search import open_search

DATA = Path(__file__).resolve().parent / "data" / "relevance"
Form = Literal["keyword", "typo", "paraphrase"]
Split = Literal["tuning", "reporting"]
FORMS: tuple[Form, ...] = ("keyword", "typo", "paraphrase")


@dataclass(frozen=True, slots=True)
class KnownItem:
    """One query whose single right answer is `paper_id`."""

    paper_id: str
    query: str
    form: Form
    split: Split


def load_set(form: Form, split: Split | None = None) -> list[KnownItem]:
    """The queries of one form, optionally of one split only."""
    with (DATA / f"{form}.tsv").open(encoding="utf-8") as src:
        rows = list(csv.DictReader(src, delimiter="\t"))
    items = [KnownItem(r["id"], r["query"], form, r["split"]) for r in rows]  # type: ignore[arg-type]
    return [i for i in items if split is None or i.split == split]


def reciprocal_rank(ranking: Sequence[str], wanted: str, *, cutoff: int = 10) -> float:
    """1/rank of the wanted id within the first `cutoff`, else 0."""
    for position, paper_id in enumerate(ranking[:cutoff], start=1):
        if paper_id == wanted:
            return 1.0 / position
    return 0.0


def mrr(items: Iterable[KnownItem], rankings: Mapping[str, Sequence[str]], *, cutoff: int = 10) -> float:
    """Mean reciprocal rank@cutoff; `rankings` maps each item's query to its ranked ids."""
    scores = [reciprocal_rank(rankings.get(i.query, ()), i.paper_id, cutoff=cutoff) for i in items]
    return sum(scores) / len(scores) if scores else 0.0


async def fill_catalogue(catalogue: Catalogue, corpus: FixtureCorpus) -> None:
    """Write the whole fixture corpus through the catalogue's public write methods."""
    for day, entries in corpus.days:
        await catalogue.record_day(day, entries)
    await catalogue.upsert_papers(list(corpus.arxiv_only))


async def _keyword_rankings(queries: Sequence[str], depth: int, corpus: FixtureCorpus) -> dict[str, list[str]]:
    with tempfile.TemporaryDirectory(prefix="paperbot-relevance-") as tmp:
        catalogue = await open_catalogue(Path(tmp) / "papers.db")
        async with catalogue, open_search(catalogue, Path(tmp) / "index", role="cli") as search:
            await fill_catalogue(catalogue, corpus)
            await search.sync()
            rankings = {}
            for query in dict.fromkeys(queries):
                results = await search.search(query, limit=depth)
                rankings[query] = [p.id for p in results.papers]
            return rankings


def keyword_rankings(queries: Sequence[str], *, depth: int = 50) -> dict[str, list[str]]:
    """Today's keyword ranking (top `depth` ids) for each query, over the whole fixture catalogue."""
    return asyncio.run(_keyword_rankings(queries, depth, load_corpus()))
