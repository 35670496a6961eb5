"""Search through `SearchService`: BM25 ranking with title weight, all-words-then-any-word, sorts, paging,
and hostile input — on a real catalogue of each backend, with the keyword index fed by the change log."""

from __future__ import annotations

import datetime as dt
import hashlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.catalogue import Catalogue
from bot.models import Paper
from bot.search import SearchService
from bot.search.terms import Term, parse_query

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


async def _catalogue_digest(catalogue: Catalogue) -> str:
    """A fingerprint of everything stored, through the public protocol (works on every backend)."""
    digest = hashlib.sha256()
    async for batch in catalogue.stream_papers():
        digest.update(repr(batch).encode())
    digest.update(repr(await catalogue.log_position()).encode())
    return digest.hexdigest()


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


async def test_video_generation_ranks_relevant_papers_first(filled_search: SearchService) -> None:
    results = await filled_search.search("video generation", limit=10)
    assert results.matched == "all"
    assert len(results.papers) >= 3
    top = results.papers[:3]
    assert all("video" in p.title.lower() for p in top), [p.title for p in top]


async def test_title_match_outranks_abstract_match(catalogue: Catalogue, search: SearchService) -> None:
    await catalogue.upsert_papers(
        [
            Paper(id="2401.00001", title="Something else", abstract="We study zebras and more zebras " * 3),
            Paper(id="2401.00002", title="Zebras", abstract="An animal paper."),
        ]
    )
    await search.sync()
    assert [p.id for p in (await search.search("zebras")).papers] == ["2401.00002", "2401.00001"]


async def test_falls_back_to_any_word_and_says_so(filled_search: SearchService) -> None:
    results = await filled_search.search("chronos xyzzyplugh")
    assert results.matched == "any"
    assert results.papers[0].id == "2403.07815"
    assert (await filled_search.search("xyzzyplugh")).matched == "none"


async def test_phrases_must_match_in_order(catalogue: Catalogue, search: SearchService) -> None:
    await catalogue.upsert_papers(
        [
            Paper(id="2401.00001", title="Model of diffusion", abstract="."),
            Paper(id="2401.00002", title="Diffusion model", abstract="."),
        ]
    )
    await search.sync()
    assert [p.id for p in (await search.search('"diffusion model"')).papers] == ["2401.00002"]


async def test_sorts_and_paging(catalogue: Catalogue, search: SearchService) -> None:
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
    await search.sync()
    by_upvotes = await search.search("robot", sort="upvotes", limit=12)
    assert [p.upvotes for p in by_upvotes.papers] == sorted((p.upvotes or 0 for p in papers), reverse=True)
    newest = await search.search("robot", sort="newest", limit=12)
    assert [p.id for p in newest.papers] == [p.id for p in reversed(papers)]
    first = await search.search("robot", limit=5)
    second = await search.search("robot", limit=5, offset=5)
    third = await search.search("robot", limit=5, offset=10)
    assert first.has_more and second.has_more and not third.has_more
    ids = [p.id for page in (first, second, third) for p in page.papers]
    assert sorted(ids) == sorted(p.id for p in papers)


async def test_prefix_and_author_and_keyword_search(catalogue: Catalogue, search: SearchService) -> None:
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
    await search.sync()
    assert (await search.search("transf*")).papers
    assert (await search.search("lovelace")).papers
    assert (await search.search("sparse attention")).papers


async def test_hostile_input_never_raises_or_writes(filled: Catalogue, filled_search: SearchService) -> None:
    before = await _catalogue_digest(filled)
    for text in HOSTILE:
        for sort in ("relevance", "upvotes", "newest"):
            results = await filled_search.search(text, sort=sort)  # type: ignore[arg-type]
            assert results.matched in {"all", "any", "none"}
        assert len(await filled_search.autocomplete(text)) <= 25
        await filled_search.find_title(text)
    assert await _catalogue_digest(filled) == before


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
async def test_any_text_is_safe(filled_search: SearchService, text: str) -> None:
    results = await filled_search.search(text)
    assert results.matched in {"all", "any", "none"}
    choices = await filled_search.autocomplete(text)
    assert len(choices) <= 25


async def test_autocomplete_prefix_words_and_limit(filled_search: SearchService) -> None:
    filled = filled_search
    choices = await filled.autocomplete("chron")
    assert ("2403.07815", "Chronos: Learning the Language of Time Series") in choices
    assert len(await filled.autocomplete("")) == 25
    assert len(await filled.autocomplete("the")) <= 25
    assert await filled.autocomplete("language chron") == await filled.autocomplete("chronos language")
