"""Hostile user text against search, title lookup and autocomplete: thousands of generated strings.

Strings mix FTS5 syntax (operators, NEAR groups, column filters, `*`, `^`, quotes, parentheses), SQL fragments,
NUL and other control characters, RTL overrides and combining marks, emoji, and 6000-character runs. Every call
must return a result (or raise one of paperbot's friendly errors: PaperNotFound, UserInputError), never an
unhandled exception; FTS5 must never reject a query paperbot built (a logged "FTS5 rejected" means user text
reached FTS5 syntax); and the database file must be byte-for-byte unchanged afterwards.

One event loop, one catalogue (every recorded fixture day plus papers whose own text is hostile) for all
examples (an asyncio.Runner), so thousands of examples run in seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.catalogue import open_catalogue
from bot.errors import PaperNotFound, UserInputError
from bot.lookup import lookup_paper
from bot.models import DailyEntry, Paper, SearchResults
from bot.search import open_search
from tests.robustness.conftest import check_database, file_digest
from tests.stores import fixture_days

SYNTAX = [
    "NEAR",
    "NEAR(",
    "NEAR(a b, 2)",
    "AND",
    "OR",
    "NOT",
    "(",
    ")",
    '"',
    '""',
    "'",
    "*",
    "^",
    ":",
    "-",
    "+",
    "title:",
    "abstract:",
    "authors:",
    "{title abstract}:",
    "papers_fts",
    "rank",
    "MATCH",
    "\\",
    "%",
    "_",
    "'; DROP TABLE papers; --",
    '" OR 1=1 --',
    "UNION SELECT * FROM papers",
    "/*",
    "*/",
    ";",
    "0x00",
    "\x00",
    "\x01",
    "\x1b[31m",
    "\r\n",
    "\t",
    "\u202e",
    "\u200f",
    "\u0301",
    "e\u0301",
    "\u200b",
    "\ufeff",
    "\ud7ff",
    "\U0001f600",
    "\U0001f1e9\U0001f1ea",
    "ﷺ",
    "𝔘𝔫𝔦",
    "@everyone",
    "<@&123>",
    "<@123>",
    "`",
    "```",
    "video",
    "generation",
    "language",
    "model",
    "diffusion",
    "Chronos",
    "2403.07815",
    "2403.07815v2",
    "https://arxiv.org/abs/2403.07815",
    "https://huggingface.co/papers/2403.07815",
    "hep-th/9901001",
    " ",
]
pieces = st.one_of(st.sampled_from(SYNTAX), st.text(max_size=12))
hostile = st.one_of(
    st.lists(pieces, max_size=12).map("".join),
    st.lists(pieces, max_size=6).map(" ".join),
    st.tuples(st.sampled_from(SYNTAX), st.integers(min_value=1, max_value=6000)).map(
        lambda t: (t[0] * t[1])[:6000] if t[0] else "x" * t[1]
    ),
    st.text(max_size=300),
)

# 1000 strings × (search + autocomplete + lookup) in CI; PAPERBOT_FUZZ_EXAMPLES=N for a longer run.
EXAMPLES = int(os.environ.get("PAPERBOT_FUZZ_EXAMPLES", "1000"))

HOSTILE_PAPERS = [
    Paper(id="2501.00001", title="@everyone **bold** [link](https://evil.example) <@&42> <@1>", abstract="NEAR( x"),
    Paper(id="2501.00002", title='"quoted" title: with * and ( parens', abstract="title: abstract: ^start"),
    Paper(id="2501.00003", title="\u202eevil RTL\u0301 title\u200b", abstract="\x1b[31m ansi"),
]


@pytest.fixture
def filled_db(tmp_path: Path) -> Path:
    path = tmp_path / "papers.db"

    async def fill() -> None:
        async with await open_catalogue(path) as catalogue:
            for day, entries in fixture_days().items():
                await catalogue.record_day(day, entries)
            day = max(fixture_days())
            await catalogue.record_day(day, [DailyEntry(day, p, 1) for p in HOSTILE_PAPERS])

    asyncio.run(fill())
    return path


def test_hostile_text_never_raises_never_reaches_fts5_never_writes(
    filled_db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    before = file_digest(filled_db, filled_db.with_name(filled_db.name + "-wal"))
    counts = {"examples": 0, "search_hits": 0, "lookups_found": 0, "friendly_errors": 0, "autocomplete_hits": 0}
    with asyncio.Runner() as runner:
        catalogue = runner.run(open_catalogue(filled_db))
        opened = open_search(catalogue, filled_db.with_name(filled_db.name + ".index"), role="cli")
        search = runner.run(opened.__aenter__())
        try:

            @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
            @given(text=hostile, sort=st.sampled_from(["relevance", "upvotes", "newest"]), offset=st.integers(0, 50))
            @example(text="x" * 6000, sort="relevance", offset=0)
            @example(text='NEAR("video" "generation", 0) title:*', sort="relevance", offset=0)
            @example(text="\x00" * 10, sort="newest", offset=0)
            @example(text="@everyone **bold** [link](https://evil.example) <@&42> <@1>", sort="upvotes", offset=0)
            def check(text: str, sort: str, offset: int) -> None:
                counts["examples"] += 1
                results = runner.run(search.search(text, limit=5, offset=offset, sort=sort))  # type: ignore[arg-type]
                assert isinstance(results, SearchResults) and results.matched in {"all", "any", "none"}
                assert len(results.papers) <= 5 and all(isinstance(p, Paper) for p in results.papers)
                counts["search_hits"] += bool(results.papers)
                choices = runner.run(search.autocomplete(text))
                assert len(choices) <= 25 and all(isinstance(i, str) and isinstance(t, str) for i, t in choices)
                counts["autocomplete_hits"] += bool(choices)
                try:
                    paper = runner.run(lookup_paper(text, search, None))
                except (PaperNotFound, UserInputError) as exc:
                    assert str(exc)
                    counts["friendly_errors"] += 1
                else:
                    assert isinstance(paper, Paper)
                    counts["lookups_found"] += 1
                rejected = [r.getMessage() for r in caplog.records if "FTS5 rejected" in r.getMessage()]
                assert not rejected, rejected

            check()
        finally:
            runner.run(opened.__aexit__(None, None, None))
            runner.run(catalogue.close())
    assert file_digest(filled_db, filled_db.with_name(filled_db.name + "-wal")) == before, "a read changed the DB"
    check_database(filled_db)
    print(f"hostile queries: {counts}")
    # The generator must reach every outcome, or the test proves less than it claims.
    assert all(counts.values()), counts
