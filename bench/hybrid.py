"""Hybrid search over the fixture catalogue, assembled from public parts the way the search service will:

    syntax → pinned (arXiv id/URL, exact title) → keyword (SearchService.search) → one-typo correction when not
    every word matched → semantic (embedder + vector store) → fusion.

Used by `python -m bench.semantic` and by tests/semantic/test_relevance.py, so the figures in bench/README.md and
the asserted targets come from the same code. Document frequencies for the typo correction are counted from
the catalogue's own texts (what tantivy's `doc_freq` answers in the real service).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bench.fixture_papers import FixtureCorpus, load_corpus
from bench.relevance import fill_catalogue
from bot.catalogue import Catalogue, open_catalogue
from bot.models import Paper
from bot.search import SearchService, open_search
from bot.search.syntax import parse_search
from bot.search.typos import correct_query
from bot.semantic import Embedder, document_text
from bot.semantic.fusion import DEFAULT_WEIGHTS, FusionWeights, Matched, fuse, reciprocal_rank_fusion
from bot.semantic.vector_store import VectorStore
from bot.sources import parse_paper_ref

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
DEPTH = 50


def _title_key(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass
class Rankings:
    """Each system's ranked ids for one query (best first). `baseline` is today's `/paper search` (the raw
    query through the keyword index); `keyword` is the pipeline's keyword side (syntax parsed, typo fixed)."""

    baseline: list[str]
    keyword: list[str]
    semantic: list[str]
    hybrid: list[str]
    rrf: list[str]
    corrected: str | None = None


@dataclass
class HybridSearch:
    """The fixture catalogue, its vectors, and the pipeline above; build with `open_hybrid`."""

    catalogue: Catalogue
    keyword_search: SearchService
    store: VectorStore
    embedder: Embedder
    papers: dict[str, Paper]
    weights: FusionWeights = DEFAULT_WEIGHTS
    document_frequency: Counter[str] = field(default_factory=Counter)
    _titles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for paper in self.papers.values():
            text = " ".join((paper.title, paper.abstract or "", *(paper.ai_keywords or ())))
            self.document_frequency.update({w.lower() for w in _WORD.findall(text)})
            self._titles.setdefault(_title_key(paper.title), paper.id)

    def _pinned(self, text: str) -> list[str]:
        ref = parse_paper_ref(text)
        if ref is not None and ref in self.papers:
            return [ref]
        exact = self._titles.get(_title_key(text))
        return [exact] if exact else []

    async def _keyword(self, text: str) -> tuple[list[str], Matched]:
        if not text.strip():
            return [], "none"
        results = await self.keyword_search.search(text, limit=DEPTH)
        return [p.id for p in results.papers], results.matched

    def semantic(self, text: str, *, depth: int = DEPTH) -> list[tuple[str, float]]:
        """Nearest papers by cosine similarity of the query's vector."""
        if not text.strip():
            return []
        return self.store.search(self.embedder.embed_query(text), depth)

    async def rank(self, query: str, *, page_size: int = 10, weights: FusionWeights | None = None) -> Rankings:
        """Every system's ranking for one query."""
        parsed = parse_search(query)
        text = parsed.text
        baseline, _matched = await self._keyword(query)
        keyword, matched = (baseline, _matched) if text == query else await self._keyword(text)
        corrected: str | None = None
        if matched != "all":
            correction = correct_query(text, lambda w: self.document_frequency.get(w, 0))
            if correction is not None:
                retry, retry_matched = await self._keyword(correction.text)
                if retry_matched == "all" or (retry and not keyword):
                    keyword, matched, corrected = retry, retry_matched, correction.text
        semantic = self.semantic(corrected or text)
        semantic_ids = [paper_id for paper_id, _s in semantic]
        pinned = self._pinned(query)
        hybrid = fuse(keyword, matched, semantic, pinned=pinned, page_size=page_size, weights=weights or self.weights)
        rrf = pinned + [i for i in reciprocal_rank_fusion([keyword, semantic_ids]) if i not in pinned]
        return Rankings(
            baseline=baseline, keyword=keyword, semantic=semantic_ids, hybrid=hybrid, rrf=rrf, corrected=corrected
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
    """A real catalogue, its keyword index and a vector store in `folder`, holding the whole fixture corpus.

    `vectors` (sorted-id order, as `embed_corpus` returns them) skip embedding again when given.
    """
    corpus = corpus or load_corpus()
    papers = corpus.papers
    ordered = [papers[i] for i in sorted(papers)]
    if vectors is None:
        vectors = await asyncio.to_thread(embed_corpus, embedder, ordered)
    catalogue = await open_catalogue(folder / "papers.db")
    async with catalogue, open_search(catalogue, folder / "index", role="cli") as keyword_search:
        await fill_catalogue(catalogue, corpus)
        await keyword_search.sync()
        with VectorStore.open(folder / "vectors", model=embedder.name, dim=vectors.shape[1], writable=True) as store:
            store.upsert([p.id for p in ordered], vectors)
            store.commit()
            yield HybridSearch(catalogue, keyword_search, store, embedder, papers)


__all__ = ["DEPTH", "HybridSearch", "Rankings", "embed_corpus", "open_hybrid"]
