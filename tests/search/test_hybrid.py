"""The search service's ranking modes on real papers with the bundled model: pinned ids and titles, typos,
field syntax, similar papers, and keyword ranking (said once) when the model is unavailable.

One catalogue of the fixture days is embedded once per session (the slow part) and copied for each test, with
its index folder: the copies keep the catalogue's identity, so their views are trusted as they are.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.models import Paper
from bot.search import SearchService, open_search
from bot.semantic import ModelUnavailable, OnnxEmbedder
from tests.stores import fixture_days

CHRONOS = "2403.07815"
CHRONOS_TITLE = "Chronos: Learning the Language of Time Series"


async def _build(folder: Path) -> None:
    catalogue = await open_catalogue(folder / "papers.db")
    async with catalogue:
        for day, entries in fixture_days().items():
            await catalogue.record_day(day, entries)
        async with open_search(catalogue, folder / "index", role="embed") as search:
            assert search.vectors is not None
            await search.follower.complete(search.vectors)


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("embedded")
    errors: list[BaseException] = []

    def build() -> None:  # own thread: a session fixture may be set up while a test's loop runs
        try:
            asyncio.run(_build(folder))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return folder


@pytest.fixture
async def embedded(embedded_template: Path, tmp_path: Path) -> AsyncIterator[tuple[Catalogue, Path]]:
    shutil.copytree(embedded_template, tmp_path / "copy")
    catalogue = await open_catalogue(tmp_path / "copy" / "papers.db")
    try:
        yield catalogue, tmp_path / "copy" / "index"
    finally:
        await catalogue.close()


@pytest.fixture
async def hybrid(embedded: tuple[Catalogue, Path]) -> AsyncIterator[SearchService]:
    catalogue, folder = embedded
    async with open_search(catalogue, folder, role="cli") as search:
        yield search


def _ids(papers: Sequence[Paper]) -> list[str]:
    return [p.id for p in papers]


async def test_every_paper_has_a_vector_and_the_modes_say_how_they_ranked(hybrid: SearchService) -> None:
    assert await hybrid.embedded() == await hybrid.catalogue.count_papers()
    for mode in ("keyword", "semantic", "hybrid"):
        results = await hybrid.search("forecasting time series with language models", mode=mode)  # type: ignore[arg-type]
        assert results.ranked_by == mode and results.papers, mode
        assert CHRONOS in _ids(results.papers), mode


async def test_described_in_other_words_hybrid_finds_what_keywords_miss(hybrid: SearchService) -> None:
    # No title word of the paper: how a reader remembers it (a paraphrase from bench/data/relevance).
    query = "forecasting numbers by quantising them into tokens for a T5"
    keyword = await hybrid.search(query, mode="keyword", limit=5)
    mixed = await hybrid.search(query, mode="hybrid", limit=5)
    assert CHRONOS in _ids(mixed.papers)
    assert _ids(mixed.papers).index(CHRONOS) <= (_ids(keyword.papers) + [CHRONOS] * 9).index(CHRONOS)


@pytest.mark.parametrize("typed", [CHRONOS, f"https://arxiv.org/abs/{CHRONOS}v2", CHRONOS_TITLE.upper()])
async def test_an_id_url_or_exact_title_comes_first(hybrid: SearchService, typed: str) -> None:
    for mode in ("keyword", "hybrid"):
        results = await hybrid.search(typed, mode=mode)  # type: ignore[arg-type]
        assert results.papers and results.papers[0].id == CHRONOS, (typed, mode)


async def test_all_words_matches_stay_on_the_first_page(hybrid: SearchService) -> None:
    keyword = await hybrid.search("video diffusion", mode="keyword", limit=5)
    assert keyword.matched == "all"
    mixed = await hybrid.search("video diffusion", mode="hybrid", limit=5)
    assert set(_ids(keyword.papers)) <= set(_ids(mixed.papers))


async def test_a_typo_is_corrected_with_a_did_you_mean(hybrid: SearchService) -> None:
    for mode in ("keyword", "hybrid"):
        results = await hybrid.search("chronso time series", mode=mode)  # type: ignore[arg-type]
        assert results.corrected_query == "chronos time series", mode
        assert results.papers[0].id == CHRONOS, mode
    exact = await hybrid.search("chronos time series")
    assert exact.corrected_query is None


async def test_field_syntax_filters_and_free_text_ranks(hybrid: SearchService) -> None:
    chronos = await hybrid.catalogue.get(CHRONOS)
    assert chronos is not None and chronos.authors
    surname = chronos.authors[0].split()[-1]
    results = await hybrid.search(f"time series au:{surname}")
    assert _ids(results.papers)[0] == CHRONOS
    assert all(any(surname in a for a in p.authors) for p in results.papers)
    assert CHRONOS not in _ids((await hybrid.search("time series -chronos", limit=20)).papers)
    assert CHRONOS in _ids((await hybrid.search('ti:"language of time series"')).papers)
    assert (await hybrid.search("time series until:1990")).papers == ()
    # Malformed syntax is read as words, never an error.
    assert (await hybrid.search("au: since:tomorrow ti:")).matched in {"all", "any", "none"}


async def test_similar_papers_leave_the_paper_itself_out(hybrid: SearchService) -> None:
    chronos = await hybrid.catalogue.get(CHRONOS)
    assert chronos is not None
    page = await hybrid.similar(chronos, limit=5)
    assert len(page.papers) == 5 and CHRONOS not in _ids(page.papers)
    assert page.has_more and page.ranked_by == "semantic"
    second = await hybrid.similar(chronos, limit=5, offset=5)
    assert not set(_ids(page.papers)) & set(_ids(second.papers))
    # A paper without a vector (not embedded yet) is embedded on the spot.
    fresh = Paper(id="2601.00001", title="Forecasting time series with pretrained tokenizers", abstract="Chronos-like.")
    assert CHRONOS in _ids((await hybrid.similar(fresh, limit=10)).papers)


class _BrokenEmbedder(OnnxEmbedder):
    def embed_query(self, text: str) -> np.ndarray:  # type: ignore[override]
        raise ModelUnavailable("the embedding model failed on input: simulated")


async def test_without_the_model_search_ranks_by_keywords_and_says_so_once(
    embedded: tuple[Catalogue, Path], caplog: pytest.LogCaptureFixture
) -> None:
    catalogue, folder = embedded
    caplog.set_level(logging.WARNING, logger="bot.search")
    async with open_search(catalogue, folder, role="cli", embedder=_BrokenEmbedder()) as search:
        first = await search.search("time series forecasting")
        second = await search.search("video generation")
        # Stored vectors need no model: similar papers still work for an embedded paper...
        similar = await search.similar(first.papers[0])
        # ... but a paper that has none cannot be embedded now.
        fresh = await search.similar(Paper(id="2601.00001", title="Something new", abstract="Not embedded yet."))
    assert first.ranked_by == "keyword" and first.papers and first.notice
    assert second.notice and second.papers
    assert similar.papers and similar.notice is None
    assert fresh.papers == () and fresh.notice and "unavailable" in fresh.notice
    warnings = [r for r in caplog.records if "Semantic ranking is off" in r.getMessage()]
    assert len(warnings) == 1


async def test_a_bot_embeds_new_papers_as_they_arrive(embedded: tuple[Catalogue, Path]) -> None:
    catalogue, folder = embedded
    async with open_search(catalogue, folder, role="bot") as bot:
        assert bot.follower.holds_lease
        await catalogue.upsert_papers(
            [Paper(id="2601.00002", title="Penguin gait analysis", abstract="How penguins walk on ice.")]
        )
        assert bot.vectors is not None
        await bot.follower.complete(bot.vectors)
        assert await bot.embedded() == await catalogue.count_papers()
        found = await bot.search("birds walking on frozen ground", mode="semantic", limit=3)
        assert "2601.00002" in _ids(found.papers)


class _PriorityRecorder(OnnxEmbedder):
    """Notes the CPU priority (nice) of the thread each batch of documents is embedded on."""

    def __init__(self) -> None:
        super().__init__()
        self.priorities: set[int] = set()

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:  # type: ignore[override]
        self.priorities.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().embed_documents(texts)


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are set on Linux only")
@pytest.mark.parametrize(("role", "background"), [("bot", True), ("embed", False)])
async def test_a_bot_embeds_at_the_lowest_priority_and_db_embed_at_its_own(
    tmp_path: Path, role: str, background: bool
) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    day, entries = next(iter(fixture_days().items()))
    recorder = _PriorityRecorder()
    async with await open_catalogue(tmp_path / "papers.db") as catalogue:
        await catalogue.record_day(day, entries[:5])
        async with open_search(catalogue, tmp_path / "index", role=role, embedder=recorder) as search:  # type: ignore[arg-type]
            assert search.vectors is not None
            await search.follower.complete(search.vectors)
    # The bot's embedding must yield the CPU to slash commands; `paperbot db embed`'s is the work itself and
    # would get almost no CPU on a busy machine at nice 19.
    assert recorder.priorities == ({19} if background else {own})
