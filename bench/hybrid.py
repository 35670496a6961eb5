"""Hybrid search over the fixture catalogue, measured through the production `SearchService`.

    syntax → pinned (arXiv id/URL, exact title) → keyword → one-typo correction when not every word matched →
    semantic (embedder + vector store) → fusion

is what `SearchService.search` does (bot/search/service.py); this module builds a real catalogue of the fixture
papers, lets the service's own follower embed them into its vector view, and asks the service for each ranking.
Used by `python -m bench.semantic` and by tests/semantic/test_relevance.py, so the figures in bench/README.md and
the asserted targets come from the code that serves `/paper search`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.fixture_papers import FixtureCorpus, load_corpus
from bench.relevance import fill_catalogue
from bot.models import Paper, SearchMode
from bot.search import SearchService, open_search
from bot.semantic import Embedder, document_text, reciprocal_rank_fusion

DEPTH = 50


@dataclass
class Rankings:
    """Each system's ranked ids for one query (best first). `baseline` is the raw query through the keyword
    index alone (no syntax, no typo correction: `/paper search` before semantic search); the others are the
    service's own modes."""

    baseline: list[str]
    keyword: list[str]
    semantic: list[str]
    hybrid: list[str]
    rrf: list[str]
    corrected: str | None = None


class PrecomputedEmbedder:
    """An `Embedder` that answers documents it has already embedded from memory (the session computes the
    fixture papers' vectors once) and delegates everything else."""

    def __init__(self, inner: Embedder, texts: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        self._inner = inner
        self._known = {text: vectors[row] for row, text in enumerate(texts)}

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self._inner.embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if all(text in self._known for text in texts):
            return np.vstack([self._known[text] for text in texts]) if texts else np.zeros((0, self.dim), np.float32)
        return self._inner.embed_documents(texts)


@dataclass
class HybridSearch:
    """The fixture catalogue behind a real `SearchService` (vectors filled); build with `open_hybrid`."""

    service: SearchService
    papers: dict[str, Paper]

    async def _ids(self, query: str, mode: SearchMode, limit: int) -> tuple[list[str], str | None]:
        results = await self.service.search(query, limit=limit, mode=mode)
        return [p.id for p in results.papers], results.corrected_query

    async def baseline(self, query: str, *, limit: int = DEPTH) -> list[str]:
        """The raw query through the keyword index alone."""
        index = await self.service.keyword.readable()
        assert index is not None
        return list((await asyncio.to_thread(index.search, query, limit=limit)).ids)

    async def semantic_pairs(self, query: str, *, depth: int = DEPTH) -> list[tuple[str, float]]:
        """(id, cosine) nearest to the query's vector, for the fusion grid."""
        vectors = self.service.vectors
        assert vectors is not None
        store = await vectors.readable()
        if store is None or not query.strip():
            return []
        return store.search(vectors.embedder.embed_query(query), depth)

    async def rank(self, query: str, *, page_size: int = 10) -> Rankings:
        """Every system's ranking for one query."""
        baseline = await self.baseline(query)
        keyword, corrected = await self._ids(query, "keyword", DEPTH)
        semantic, _ = await self._ids(query, "semantic", DEPTH)
        hybrid, _ = await self._ids(query, "hybrid", page_size)
        rrf = reciprocal_rank_fusion([keyword, semantic])
        return Rankings(
            baseline=baseline, keyword=keyword, semantic=semantic, hybrid=hybrid, rrf=rrf, corrected=corrected
        )


def embed_corpus(embedder: Embedder, papers: Sequence[Paper]) -> npt.NDArray[np.float32]:
    """Every paper's vector (title + abstract), in order."""
    return embedder.embed_documents([document_text(p.title, p.abstract) for p in papers])


@contextlib.asynccontextmanager
async def open_hybrid(
    folder: Path,
    embedder: Embedder,
    vectors: npt.NDArray[np.float32] | None = None,
    corpus: FixtureCorpus | None = None,
) -> AsyncIterator[HybridSearch]:
    """A real catalogue of the whole fixture corpus in `folder`, and the search service over it with every
    paper embedded (through the service's own follower, as `paperbot db embed` does).

    `vectors` (sorted-id order, as `embed_corpus` returns them) spare embedding the papers again.
    """
    from bot.catalogue import open_catalogue

    corpus = corpus or load_corpus()
    papers = corpus.papers
    ordered = [papers[i] for i in sorted(papers)]
    if vectors is not None:
        embedder = PrecomputedEmbedder(embedder, [document_text(p.title, p.abstract) for p in ordered], vectors)
    catalogue = await open_catalogue(folder / "papers.db")
    async with catalogue:
        await fill_catalogue(catalogue, corpus)
        async with open_search(catalogue, folder / "index", role="embed", embedder=embedder) as service:
            assert service.vectors is not None
            await service.follower.complete(service.vectors)
            yield HybridSearch(service, papers)


__all__ = ["DEPTH", "HybridSearch", "PrecomputedEmbedder", "Rankings", "embed_corpus", "open_hybrid"]
