"""The search syntax parser: every field, every malformed form read as words, and it never raises."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Paper
from bot.search.syntax import SearchQuery, parse_search


def test_every_field_with_free_text() -> None:
    query = parse_search('graph neural ti:"message passing" au:lecun cat:cs.LG -survey since:2024-03 until:2024')
    assert query == SearchQuery(
        text="graph neural",
        title=("message passing",),
        authors=("lecun",),
        categories=("cs.LG",),
        exclude=("survey",),
        since=dt.date(2024, 3, 1),
        until=dt.date(2024, 12, 31),
    )
    assert query.has_filters and not query.is_empty


@pytest.mark.parametrize(
    ("text", "since", "until"),
    [
        ("since:2024", dt.date(2024, 1, 1), None),
        ("since:2024-03", dt.date(2024, 3, 1), None),
        ("since:2024-03-15", dt.date(2024, 3, 15), None),
        ("until:2024", None, dt.date(2024, 12, 31)),
        ("until:2024-02", None, dt.date(2024, 2, 29)),  # leap year: the month's real last day
        ("until:2023-02", None, dt.date(2023, 2, 28)),
        ("until:2024-03-15", None, dt.date(2024, 3, 15)),
        ("since:2023 since:2024", dt.date(2024, 1, 1), None),  # several: all must hold, so the latest
        ("until:2024 until:2023-06", None, dt.date(2023, 6, 30)),
    ],
)
def test_dates(text: str, since: dt.date | None, until: dt.date | None) -> None:
    query = parse_search(text)
    assert (query.since, query.until, query.text) == (since, until, "")


@pytest.mark.parametrize(
    "text",
    [
        "since:2024-13",  # no 13th month
        "until:2023-02-29",  # not a leap year
        "since:24",
        "since:",
        "since:2024-03-15-01",
        "ti:",
        'ti:"unclosed phrase',
        'au:""',
        'ti:"  "',
        "cat:",
        "cat:cs.LG.extra",
        "cat:123",
        "-",
        "--",
        '-""',
        "-ti:word",  # a minus before a field is not a defined form
        "foo:bar",  # unknown field
        "http://arxiv.org/abs/2403.07815",  # a URL's scheme is not a field
        "https://huggingface.co/papers/2403.07815",
        "arXiv:2403.07815",
    ],
)
def test_malformed_syntax_is_kept_as_typed_words(text: str) -> None:
    assert parse_search(text) == SearchQuery(text=text)


def test_malformed_parts_do_not_spoil_the_good_ones() -> None:
    query = parse_search('ti:"open cat:cs.CV since:2024-99 diffusion')
    assert query.categories == ("cs.CV",)
    assert query.since is None
    assert query.text == 'ti:"open since:2024-99 diffusion'


def test_field_names_ignore_case_values_are_kept() -> None:
    query = parse_search("TI:Mamba Au:Gu CAT:cs.lg SINCE:2023")
    assert query == SearchQuery(title=("Mamba",), authors=("Gu",), categories=("cs.lg",), since=dt.date(2023, 1, 1))


def test_exclusions_words_and_phrases_but_not_hyphenated_words() -> None:
    query = parse_search('self-attention -survey -"state space" -3D')
    assert query.exclude == ("survey", "state space", "3D")
    assert query.text == "self-attention"


def test_free_text_phrases_stay_quoted_for_the_keyword_side() -> None:
    assert parse_search('"mixture of experts" routing').text == '"mixture of experts" routing'


def test_phrase_spaces_are_collapsed_and_duplicates_dropped() -> None:
    assert parse_search('ti:"state   space" ti:"state space"').title == ("state space",)


def test_terms_per_kind_are_capped() -> None:
    assert len(parse_search(" ".join(f"ti:w{i}" for i in range(100))).title) == 16


def test_empty_and_nul() -> None:
    assert parse_search("").is_empty
    assert parse_search("   \x00  ").is_empty


_PAPER = Paper(
    id="2403.07815",
    title="Chronos: Learning the Language of Time Series",
    abstract="We introduce Chronos, a framework for pretrained probabilistic time series models.",
    authors=("Abdul Fatir Ansari", "Lorenzo Stella", "Caner Türkmen"),
    published=dt.date(2024, 3, 12),
    categories=("cs.LG", "stat.ML"),
)


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        ("forecasting", True),  # free text never filters
        ("ti:chronos", True),
        ('ti:"time series"', True),
        ('ti:"series time"', False),  # a phrase is in order
        ("ti:tim", False),  # whole words only
        ("au:stella", True),
        ("au:turkmen", True),  # accents ignored
        ('au:"lorenzo stella"', True),
        ('au:"stella lorenzo"', False),
        ("au:stella au:ansari", True),
        ("au:stella au:hinton", False),  # every au: must hold
        ("cat:CS.LG", True),
        ("cat:cs.LG cat:stat.ML", True),
        ("cat:cs.CV", False),
        ("-survey", True),
        ("-probabilistic", False),  # in the abstract
        ('-"time series"', False),
        ("-ansari", False),  # authors count for exclusion
        ("since:2024-03", True),
        ("since:2024-03-13", False),
        ("until:2024-03-12", True),
        ("until:2024-02", False),
    ],
)
def test_admits(text: str, admitted: bool) -> None:
    assert parse_search(text).admits(_PAPER) is admitted


def test_unknown_date_fails_a_date_filter() -> None:
    undated = Paper(id="x", title="t")
    assert not parse_search("since:2000").admits(undated)
    assert not parse_search("until:2100").admits(undated)
    assert parse_search("anything").admits(undated)


@given(st.text(max_size=200))
def test_never_raises_and_invents_nothing(text: str) -> None:
    query = parse_search(text)
    cleaned = text.replace("\x00", " ")
    for token in query.text.split():
        assert token in cleaned
    for term in (*query.title, *query.authors, *query.categories, *query.exclude):
        for word in term.split():
            assert word in cleaned


@given(
    st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=6),
)
def test_plain_words_round_trip(words: list[str]) -> None:
    text = " ".join(words)
    assert parse_search(text).text == text
