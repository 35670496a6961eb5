"""`bot/search/keyword_index.py`: the tantivy index in one directory, behind search and autocomplete.

Real tantivy indexes in tmp_path; no mocks. How it is kept from the change log (generations, cursor, lease,
rebuild) is tested in tests/search/test_views.py.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.models import Paper
from bot.search.keyword_index import IndexHits, IndexUnusable, KeywordIndex, _variants

PAPERS = [
    Paper(
        id="2401.00001",
        title="Video generation with diffusion models",
        abstract="We generate videos.",
        authors=("Franz Gähler", "Ana Smith"),
        published=dt.date(2024, 1, 3),
        upvotes=5,
    ),
    Paper(
        id="2401.00002",
        title="A study of reward models",
        abstract="Video generation is hard; we study it.",
        authors=("Bob Jones",),
        published=dt.date(2024, 1, 9),
        upvotes=50,
    ),
    Paper(
        id="2401.00003",
        title="Large language models reason",
        abstract="The state of the art in reasoning.",
        authors=("Carla Diaz",),
        published=dt.date(2024, 1, 1),
        upvotes=1,
    ),
    Paper(
        id="hep-th/9901001",
        title="Strings and branes",
        abstract="An old paper about the art of the state.",
        authors=("Old Timer",),
        published=dt.date(1999, 1, 1),
    ),
]


@pytest.fixture
def index(tmp_path: Path) -> KeywordIndex:
    idx = KeywordIndex.create(tmp_path / "index", heap_bytes=50_000_000)
    idx.index_papers(PAPERS, new=True)
    yield idx  # type: ignore[misc]
    idx.close()


def test_create_index_reopen(tmp_path: Path) -> None:
    directory = tmp_path / "index"
    fresh = KeywordIndex.create(directory, heap_bytes=50_000_000)
    assert fresh.num_docs == 0
    assert fresh.index_papers(PAPERS) == 4
    fresh.close()
    reopened = KeywordIndex.open(directory, heap_bytes=50_000_000)
    assert reopened.num_docs == 4
    reopened.close()


def test_missing_or_corrupt_index_is_unusable_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(IndexUnusable):
        KeywordIndex.open(tmp_path / "nothing-here")
    directory = tmp_path / "index"
    built = KeywordIndex.create(directory, heap_bytes=50_000_000)
    built.index_papers(PAPERS)
    built.close()
    (directory / "meta.json").write_text("garbage")
    with pytest.raises(IndexUnusable):
        KeywordIndex.open(directory, heap_bytes=50_000_000)


def test_replacing_a_paper_never_duplicates_it(tmp_path: Path) -> None:
    idx = KeywordIndex.create(tmp_path / "index", heap_bytes=50_000_000)
    idx.index_papers(PAPERS[:2])
    # Indexed again before and after a commit: still one document per id.
    idx.index_papers([PAPERS[0]], commit=False)
    idx.index_papers([PAPERS[0]])
    assert idx.num_docs == 2
    assert idx.search("video", limit=10).ids.count("2401.00001") == 1
    idx.close()


def test_all_words_then_any_word(index: KeywordIndex) -> None:
    both = index.search("video generation")
    assert both.matched == "all"
    assert both.ids[0] == "2401.00001"  # title hit beats abstract hit
    assert set(both.ids) == {"2401.00001", "2401.00002"}
    fallback = index.search("video nonexistentword")
    assert fallback.matched == "any" and set(fallback.ids) == {"2401.00001", "2401.00002"}
    assert index.search("nonexistentword").matched == "none"


def test_phrases_prefixes_plurals_authors_and_accents(index: KeywordIndex) -> None:
    assert index.search('"state of the art"').ids == ("2401.00003",)
    assert index.search("reason*").ids == ("2401.00003",)
    assert set(index.search("model").ids) == {"2401.00001", "2401.00002", "2401.00003"}  # "models" too
    assert index.search("gahler").ids == ("2401.00001",)  # author names are ASCII-folded
    assert index.search("Gähler").ids == ("2401.00001",)
    old_style = index.search("hep-th/9901001 branes")  # ids are not indexed text: the fallback finds it
    assert (old_style.matched, old_style.ids) == ("any", ("hep-th/9901001",))


def test_paging_and_sorting(index: KeywordIndex) -> None:
    first = index.search("model", limit=2)
    assert len(first.ids) == 2 and first.has_more
    rest = index.search("model", limit=2, offset=2)
    assert len(rest.ids) == 1 and not rest.has_more
    assert set(first.ids) | set(rest.ids) == {"2401.00001", "2401.00002", "2401.00003"}
    assert index.search("model", sort="upvotes").ids == ("2401.00002", "2401.00001", "2401.00003")
    assert index.search("model", sort="newest").ids == ("2401.00002", "2401.00001", "2401.00003")
    assert index.search("model", offset=50) == IndexHits((), "all")
    page_two_of_any = index.search("video nonexistentword", limit=1, offset=1)
    assert page_two_of_any.matched == "any" and len(page_two_of_any.ids) == 1  # paging the fallback works
    assert index.search("nonexistentword", offset=10).matched == "none"


def test_index_papers_replaces_by_id_and_delete(index: KeywordIndex) -> None:
    renamed = Paper(id="2401.00002", title="Totally different", abstract=None)
    assert index.index_papers([renamed]) == 1
    assert index.num_docs == 4
    assert index.search("reward").matched == "none"
    assert index.search("totally").ids == ("2401.00002",)
    index.delete_ids(["2401.00002"])
    assert index.search("totally").matched == "none" and index.num_docs == 3


def test_autocomplete(index: KeywordIndex) -> None:
    assert index.autocomplete("vid") == ["2401.00001"]
    assert index.autocomplete("video gen") == ["2401.00001"]
    assert index.autocomplete("large lang") == ["2401.00003"]
    assert index.autocomplete("qqqqzz") == []
    assert index.autocomplete("") == []
    assert index.autocomplete("models ") != []  # a finished word is a whole word, not a prefix


def test_autocomplete_forgives_one_typo_per_word(index: KeywordIndex) -> None:
    assert index.autocomplete("vidoe gen") == ["2401.00001"]  # a swapped pair in a finished word
    assert index.autocomplete("video generatoin") == ["2401.00001"]
    assert index.autocomplete("studyx") == ["2401.00002"]  # one extra letter in the word being typed
    assert index.autocomplete("lrge") == ["2401.00003"]


def test_filters_narrow_the_text_search(index: KeywordIndex) -> None:
    from bot.search.syntax import parse_search

    where = parse_search("au:smith since:2024-01-02")
    assert index.search("video", where=where).ids == ("2401.00001",)
    assert index.search("", where=parse_search("au:jones")).ids == ("2401.00002",)  # filters alone: newest first
    assert index.search("video", where=parse_search("-reward")).ids == ("2401.00001",)
    assert index.search("art", where=parse_search("until:2000")).ids == ("hep-th/9901001",)
    assert index.search("video", where=parse_search('ti:"reward models"')).ids == ("2401.00002",)
    assert index.search("video", where=parse_search("cat:cs.CV")).matched == "none"


def test_document_frequency_counts_titles_and_abstracts(index: KeywordIndex) -> None:
    assert index.document_frequency("video") >= 2
    assert index.document_frequency("qqqqzz") == 0
    assert index.document_frequency("two words") == 0


@pytest.mark.parametrize(
    "word,forms",
    [
        ("model", ("model", "models")),
        ("models", ("models", "model")),
        ("studies", ("studies", "study")),
        ("study", ("study", "studies")),
        ("class", ("class", "classes")),
        ("index", ("index", "indexes")),
        ("box", ("box",)),
        ("gpt", ("gpt",)),
        ("4o", ("4o",)),
    ],
)
def test_variants(word: str, forms: tuple[str, ...]) -> None:
    assert _variants(word) == forms


@given(st.text(max_size=200))
def test_any_user_text_is_safe(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    index = _shared_index(tmp_path_factory)
    hits = index.search(text)
    assert hits.matched in ("all", "any", "none")
    assert len(index.autocomplete(text)) <= 25


_SHARED: dict[str, KeywordIndex] = {}


def _shared_index(factory: pytest.TempPathFactory) -> KeywordIndex:
    if "index" not in _SHARED:
        idx = KeywordIndex.create(factory.mktemp("shared") / "index", heap_bytes=50_000_000)
        idx.index_papers(PAPERS, new=True)
        _SHARED["index"] = idx
    return _SHARED["index"]
