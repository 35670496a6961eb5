"""Shared, session-scoped: the bundled model, the fixture papers' vectors, and every relevance query's rankings.

Embedding ~340 papers is the slow part (~10–20 s on 2 cores), so it happens once per session.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bench.fixture_papers import load_corpus
from bench.hybrid import Rankings, embed_corpus, open_hybrid
from bench.relevance import FORMS, KnownItem, load_set
from bot.semantic import OnnxEmbedder


@pytest.fixture(scope="session")
def embedder() -> OnnxEmbedder:
    """The bundled default model, shared (thread-safe, loads once)."""
    return OnnxEmbedder()


@pytest.fixture(scope="session")
def fixture_vectors(embedder: OnnxEmbedder) -> npt.NDArray[np.float32]:
    """Every fixture paper's vector, in sorted-id order."""
    papers = load_corpus().papers
    return embed_corpus(embedder, [papers[i] for i in sorted(papers)])


@pytest.fixture(scope="session")
def relevance_rankings(
    tmp_path_factory: pytest.TempPathFactory, embedder: OnnxEmbedder, fixture_vectors: npt.NDArray[np.float32]
) -> dict[str, tuple[list[KnownItem], dict[str, Rankings]]]:
    """For every form (keyword, typo, paraphrase): its queries and each query's rankings by every system."""
    folder: Path = tmp_path_factory.mktemp("hybrid")

    async def rank_all() -> dict[str, tuple[list[KnownItem], dict[str, Rankings]]]:
        async with open_hybrid(folder, embedder, fixture_vectors) as search:
            found = {}
            for form in FORMS:
                items = load_set(form)
                found[form] = (items, {item.query: await search.rank(item.query) for item in items})
            return found

    return asyncio.run(rank_all())
