"""Search: BM25 ranking with title weight, all-words-then-any-word, sorts, paging, and hostile input."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalogue import Catalogue
from bot.catalogue._search import Term, parse_query
from bot.models import Paper

HOSTILE = [
    '"',
    '""',
    '"unbalanced',
    "*",
    "**",
    "NEAR(",
    "NEAR(a b, 3)",
    "title:",
    "title:video",
    "abstract:*",
    "^video",
    "a AND",
    "OR",
    "NOT model",
    "(",
    ")",
    "{title abstract}: x",
    "'; DROP TABLE papers; --",
    "\x00",
    "\x00video",
    "vid\u0000eo",
    "🤖 robots 🤖",
    "\u202eevil",
    "e\u0301",
    "x" * 6000,
    "video " * 1000,
    "-",
    "+",
    "a-b",
    "col:umn",
    "%",
    "_",
    "\\",
    "\n\t",
    "",
]


def _db_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_parse_query_quotes_everything() -> None:
    terms = parse_query('video "diffusion model" NEAR( title:x gen*')
    assert terms == [
        Term(("video",)),
        Term(("diffusion", "model")),
        Term(("near",)),
        Term(("title",)),
        Term(("x",)),
        Term(("gen",), prefix=True),
    ]
    assert parse_query('say "he said ""hi"""') == [Term(("say",)), Term(("he", "said")), Term(("hi",))]


async def test_video_generation_ranks_relevant_papers_first(filled: Catalogue) -> None:
    results = await filled.search("video generation", limit=10)
    assert results.matched == "all"
    assert len(results.papers) >= 3
    top = results.papers[:3]
    assert all("video" in p.title.lower() for p in top), [p.title for p in top]


async def test_title_match_outranks_abstract_match(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers(
        [
            Paper(id="2401.00001", title="Something else", abstract="We study zebras and more zebras " * 3),
            Paper(id="2401.00002", title="Zebras", abstract="An animal paper."),
        ]
    )
    assert [p.id for p in (await catalogue.search("zebras")).papers] == ["2401.00002", "2401.00001"]


async def test_falls_back_to_any_word_and_says_so(filled: Catalogue) -> None:
    results = await filled.search("chronos xyzzyplugh")
    assert results.matched == "any"
    assert results.papers[0].id == "2403.07815"
    assert (await filled.search("xyzzyplugh")).matched == "none"


async def test_phrases_must_match_in_order(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers(
        [
            Paper(id="2401.00001", title="Model of diffusion", abstract="."),
            Paper(id="2401.00002", title="Diffusion model", abstract="."),
        ]
    )
    assert [p.id for p in (await catalogue.search('"diffusion model"')).papers] == ["2401.00002"]


async def test_sorts_and_paging(catalogue: Catalogue) -> None:
    papers = [
        Paper(
            id=f"2401.{i:05d}",
            title=f"Robot study {i}",
            abstract="robots",
            upvotes=i * 7 % 11,
            published=dt.date(2024, 1, 1) + dt.timedelta(days=i),
        )
        for i in range(1, 13)
    ]
    await catalogue.upsert_papers(papers)
    by_upvotes = await catalogue.search("robot", sort="upvotes", limit=12)
    assert [p.upvotes for p in by_upvotes.papers] == sorted((p.upvotes or 0 for p in papers), reverse=True)
    newest = await catalogue.search("robot", sort="newest", limit=12)
    assert [p.id for p in newest.papers] == [p.id for p in reversed(papers)]
    first = await catalogue.search("robot", limit=5)
    second = await catalogue.search("robot", limit=5, offset=5)
    third = await catalogue.search("robot", limit=5, offset=10)
    assert first.has_more and second.has_more and not third.has_more
    ids = [p.id for page in (first, second, third) for p in page.papers]
    assert sorted(ids) == sorted(p.id for p in papers)


async def test_prefix_and_author_and_keyword_search(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers(
        [
            Paper(
                id="2401.00001",
                title="Transformers everywhere",
                abstract=".",
                authors=("Ada Lovelace",),
                ai_keywords=("sparse attention",),
            ),
        ]
    )
    assert (await catalogue.search("transf*")).papers
    assert (await catalogue.search("lovelace")).papers
    assert (await catalogue.search("sparse attention")).papers


async def test_hostile_input_never_raises_or_writes(filled: Catalogue) -> None:
    before = _db_digest(filled.path)
    for text in HOSTILE:
        for sort in ("relevance", "upvotes", "newest"):
            results = await filled.search(text, sort=sort)  # type: ignore[arg-type]
            assert results.matched in {"all", "any", "none"}
        assert len(await filled.autocomplete(text)) <= 25
        await filled.find_title(text)
    assert _db_digest(filled.path) == before


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
async def test_any_text_is_safe(filled: Catalogue, text: str) -> None:
    results = await filled.search(text)
    assert results.matched in {"all", "any", "none"}
    choices = await filled.autocomplete(text)
    assert len(choices) <= 25


async def test_autocomplete_prefix_words_and_limit(filled: Catalogue) -> None:
    choices = await filled.autocomplete("chron")
    assert ("2403.07815", "Chronos: Learning the Language of Time Series") in choices
    assert len(await filled.autocomplete("")) == 25
    assert len(await filled.autocomplete("the")) <= 25
    assert await filled.autocomplete("language chron") == await filled.autocomplete("chronos language")
