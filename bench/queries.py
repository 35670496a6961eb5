"""The fixed query set: the same queries, in the same order, with the same repetitions, for every system.

Classes (issue 5): rare terms (synthetic long-tail words of fixed rank, so their document frequency scales with
N exactly like a real rare word's), common terms ("model" matches a large share of the corpus at any N),
two-word queries, quoted phrases, prefixes, plus a long mixed query and a no-hit query (both exercise the
any-word fallback). Common-term queries are the hard case and are kept in, measured like the others.
"""

from __future__ import annotations

from bench.corpus import paper_id, tail_word

# (class, query) — order matters only for reproducibility.
_RARE_RANKS = (300, 2_000, 8_000, 30_000)

QUERIES: tuple[tuple[str, str], ...] = (
    *(("rare", tail_word(rank)) for rank in _RARE_RANKS),
    ("rare", f"{tail_word(800)} models"),
    ("common", "model"),
    ("common", "models"),
    ("common", "image"),
    ("common", "language"),
    ("common", "the"),
    ("two-word", "video generation"),
    ("two-word", "language models"),
    ("two-word", "reward model"),
    ("two-word", "diffusion training"),
    ("two-word", "visual reasoning"),
    ("phrase", '"large language models"'),
    ("phrase", '"video generation"'),
    ("phrase", '"reinforcement learning"'),
    ("phrase", '"state of the art"'),
    ("prefix", "gener*"),
    ("prefix", "diffus*"),
    ("prefix", "reason*"),
    ("prefix", "segment*"),
    ("mixed", "efficient attention for long video understanding with sparse tokens"),
    ("no-hit", "xqzvwpl qqxyzzy"),
)

# Repetitions per query (fixed by rule, so a run's p95/p99 are over the same number of samples every time):
# every class gets the same count; raw FTS5, ~1 s per common-term query at 1M, gets fewer (still fixed)
# so the whole run fits its 15-minute budget, and the O(N) naive scan runs each query once.
REPETITIONS = 5
SLOW_REPETITIONS_FROM = 500_000
SLOW_REPETITIONS = 2
SMOKE_REPETITIONS = 1
SLOW_SYSTEMS = frozenset({"serve-fts5"})


def repetitions(phase: str, papers: int, *, smoke: bool, override: int | None = None) -> int:
    """How many timed rounds `phase` runs over the query set at this corpus size."""
    if override is not None:
        return override
    if smoke or phase == "serve-naive":
        return SMOKE_REPETITIONS
    if phase in SLOW_SYSTEMS and papers >= SLOW_REPETITIONS_FROM:
        return SLOW_REPETITIONS
    return REPETITIONS


# What a user types into `/paper abstract title:` keystroke by keystroke (autocomplete requests).
AUTOCOMPLETE: tuple[str, ...] = (
    "l",
    "la",
    "lan",
    "lang",
    "language",
    "language m",
    "language mod",
    "video",
    "video gen",
    "diff",
    "diffusion mo",
    "rein",
    "reinforcement lea",
    "quantum",
    "gr",
    "graph neu",
    tail_word(2_000)[:5],
    "efficient atten",
)


def id_sample(papers: int, count: int = 200) -> list[str]:
    """Fixed, spread-out paper ids that exist in a corpus of `papers` papers (abstract-by-id lookups)."""
    step = max(1, papers // count)
    return [paper_id((i * step * 7919) % papers) for i in range(min(count, papers))]
