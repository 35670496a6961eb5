"""One ranking from keyword hits and semantic similarities, under the rules users rely on.

The rules, in order:
1. Pinned papers first — what the query names exactly: an arXiv id or URL, or a paper's exact title (the
   caller resolves those; fusion only keeps them on top, in the order given).
2. When every query word matched (keyword `matched == "all"`), the keyword ranking's first page stays on the
   first page: fusion may reorder those papers, and fill the page's remaining places, but never pushes one of
   them to page 2. A user who typed a paper's own words keeps finding it where keyword search put it.
3. Everything else by a weighted sum of normalised scores: keyword rank r (0-based) scores `decay**r`;
   semantic cosine similarity is min-max normalised over the candidates. The keyword side weighs more when all
   words matched (a precise signal) than when only the any-word fallback matched (a weak one).

Why weighted scores and not reciprocal-rank fusion: on the tuning split of the paraphrase set (bench/,
"Semantic search") RRF with k=60 scored MRR@10 0.78 — below semantic alone (0.82) — and its best tuned form
0.85, while this weighted fusion reached 0.87 with keyword queries untouched (1.00). RRF throws away *how
much* better the top semantic match is; the normalised similarity keeps it. Both are here; `fuse` is the
one to use, `reciprocal_rank_fusion` is kept for comparison in the benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_WEIGHTS", "FusionWeights", "Matched", "fuse", "reciprocal_rank_fusion"]

Matched = Literal["all", "any", "none"]


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """Tuned on the tuning split only (bench/semantic.py prints the grid's best and the reporting figures)."""

    keyword_share_all: float = 0.7  # keyword's share of the score when every word matched
    keyword_share_any: float = 0.3  # … when only the any-word fallback matched
    keyword_decay: float = 0.95  # keyword score of 0-based rank r: decay ** r
    depth: int = 50  # candidates considered from each side


DEFAULT_WEIGHTS = FusionWeights()


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _scores(
    keyword_ids: Sequence[str],
    matched: Matched,
    semantic: Sequence[tuple[str, float]],
    weights: FusionWeights,
) -> dict[str, float]:
    share = weights.keyword_share_all if matched == "all" else weights.keyword_share_any
    if not semantic:
        share = 1.0
    elif not keyword_ids:
        share = 0.0
    scores: dict[str, float] = {}
    candidates = semantic[: weights.depth]
    if candidates:
        similarities = [similarity for _id, similarity in candidates]
        low, high = min(similarities), max(similarities)
        for paper_id, similarity in candidates:
            normalised = (similarity - low) / (high - low) if high > low else 1.0
            scores[paper_id] = max(scores.get(paper_id, 0.0), (1.0 - share) * normalised)
    for rank, paper_id in enumerate(_unique(keyword_ids)[: weights.depth]):
        scores[paper_id] = scores.get(paper_id, 0.0) + share * weights.keyword_decay**rank
    return scores


def fuse(
    keyword_ids: Sequence[str],
    matched: Matched,
    semantic: Sequence[tuple[str, float]],
    *,
    pinned: Sequence[str] = (),
    page_size: int = 10,
    weights: FusionWeights = DEFAULT_WEIGHTS,
) -> list[str]:
    """Fuse keyword hits (best first, with how they matched) and (id, cosine) pairs into one ranking.

    Either side may be empty: no semantic hits (model unavailable) gives the keyword order, no keyword hits
    gives the semantic order. The result holds every candidate once, pinned first; the caller pages it.
    """
    pinned_ids = _unique(pinned)
    taken = set(pinned_ids)
    scores = _scores(keyword_ids, matched, semantic, weights)
    ranked = sorted((i for i in scores if i not in taken), key=lambda i: (-scores[i], i))
    if matched == "all" and keyword_ids:
        room = max(0, page_size - len(pinned_ids))
        protected = [i for i in _unique(keyword_ids) if i not in taken][:room]
        if protected:
            keep = set(protected)
            others = [i for i in ranked if i not in keep]
            first_page = sorted([*protected, *others[: room - len(protected)]], key=lambda i: (-scores[i], i))
            on_page = set(first_page)
            ranked = first_page + [i for i in ranked if i not in on_page]
    return pinned_ids + ranked


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], *, k: float = 60.0, weights: Sequence[float] | None = None
) -> list[str]:
    """Classic RRF: each ranking adds weight / (k + rank) (1-based) to every id it lists."""
    scores: dict[str, float] = {}
    for index, ranking in enumerate(rankings):
        weight = 1.0 if weights is None else weights[index]
        for rank, paper_id in enumerate(_unique(ranking), start=1):
            scores[paper_id] = scores.get(paper_id, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda i: (-scores[i], i))
