"""The pure Atom parser on every recorded arXiv feed (legacy and current serialisations)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

from bot.sources._atom import ArxivFeedError, parse_feed, total_results
from bot.sources._text import MalformedResponse
from tests.fixture_server import FIXTURES

ARXIV = FIXTURES / "arxiv"


def _body(name_part: str) -> bytes:
    (path,) = [p for p in ARXIV.iterdir() if name_part in p.name]
    return _read(path)


def _read(path: Path) -> bytes:
    if path.suffix == ".json":
        return json.loads(path.read_bytes())["body"].encode("utf-8")  # type: ignore[no-any-return]
    return path.read_bytes()


RECORDED = sorted(p for p in ARXIV.iterdir() if "error400" not in p.name)
EXPECTED = {
    "id_0808.05394": 0,
    "id_1605.08386": 1,
    "id_1707.08567": 1,
    "id_quant-ph_0201082v1": 1,
    "q_testing_s0_m100_": 100,
    "q_testing_s0_m10_": 10,
    "q_testing_s0_m15_": 15,
    "q_testing_s10_m10_": 10,
    "q_testing_s20_m10_": 10,
    "q_testing_s30_m10_": 10,
    "q_testing_s40_m10_": 10,
    "q_testing_s50_m10_": 10,
    "q_testing_s5_m10_": 10,
    "q_testing_s5_m15_": 15,
    "q_testing_s9_m15_": 15,
    "del_maestro_ANDNOT": 10,
    "del_maestro_lukasschwab": 10,
}


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name[6:40])
def test_every_recorded_feed(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = _read(path)
    with caplog.at_level(logging.WARNING, logger="bot.sources.arxiv"):
        papers = parse_feed(body)
    (expected,) = [n for key, n in EXPECTED.items() if key in path.name]
    assert len(papers) == expected
    assert caplog.records == []
    for paper in papers:
        assert paper.id and not paper.id.startswith("http") and "v" not in paper.id.split(".")[-1]
        assert paper.title and "\n" not in paper.title and "  " not in paper.title
        assert paper.abstract and not paper.abstract.startswith(" ")
        assert paper.authors
        assert paper.published is not None
        assert paper.categories
        assert paper.upvotes is None  # arXiv has no upvotes


def test_legacy_feed_fields() -> None:
    papers = {p.id: p for p in parse_feed(_body("del_maestro_lukasschwab"))}
    first = papers["1201.4869"]
    assert first.title == "A Luttinger Liquid Core Inside Helium-4 Filled Nanopores"
    assert first.authors == ("Adrian Del Maestro",)
    assert first.published == dt.date(2012, 1, 23)
    assert first.categories == ("cond-mat.mes-hall", "cond-mat.other")
    assert first.abstract is not None and first.abstract.startswith("As helium-4 is cooled below 2.17 K")
    assert "\n" not in first.abstract  # legacy hard wraps collapsed
    wrapped = papers["cond-mat/0607501"]  # old-style id, versioned in the feed (v2)
    assert wrapped.title.startswith("A striped supersolid phase and the search for deconfined quantum criticality")


def test_current_feed_fields() -> None:
    (paper,) = parse_feed(_body("id_quant-ph_0201082v1"))
    assert paper.id == "quant-ph/0201082"
    assert paper.title == (
        "Quantum Computers and Quantum Computer Languages: Quantum Assembly Language and Quantum C Language"
    )
    assert paper.abstract is not None and paper.abstract.startswith("We show a representation")
    assert paper.authors == ("Stephen Blaha",)
    assert paper.published == dt.date(2002, 1, 18)
    assert paper.categories == ("quant-ph", "cs.PL")


def test_categories_are_unique() -> None:
    for paper in parse_feed(_body("q_testing_s0_m100_")):
        assert paper.categories is not None and len(set(paper.categories)) == len(paper.categories)


def test_primary_category_comes_first() -> None:
    entry = _entry("http://arxiv.org/abs/2401.12345v1", "T", "S").replace(
        "</entry>", '<category term="stat.ML"/><arxiv:primary_category term="stat.ML"/></entry>'
    )
    (paper,) = parse_feed(_feed(entry))
    assert paper.categories == ("stat.ML", "cs.LG")


def test_paragraph_breaks_survive_in_abstracts() -> None:
    papers = {p.id: p for p in parse_feed(_body("q_testing_s0_m10_"))}
    abstract = papers["1812.11470"].abstract
    assert abstract is not None
    paragraphs = abstract.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[1].startswith("Objective. In this systematic review")


def test_mojibake_names_are_stored_as_they_arrive() -> None:
    authors = {a for p in parse_feed(_body("q_testing_s40_m10_")) for a in p.authors}
    assert "Mika V. MÃ¤ntylÃ¤" in authors
    assert "StÃ©phane Mourareau" in authors
    authors = {a for p in parse_feed(_body("q_testing_s0_m15_")) for a in p.authors}
    assert "JosÃ© RaÃºl Romero" in authors


def test_entities_are_decoded_once() -> None:
    feed = _feed_with_entry(title="Cats &amp; Dogs &lt;3 &amp;amp;", summary="x")
    (paper,) = parse_feed(feed)
    assert paper.title == "Cats & Dogs <3 &amp;"


def test_error_feed_raises_with_arxivs_message() -> None:
    with pytest.raises(ArxivFeedError) as info:
        parse_feed(_body("error400"))
    assert info.value.message == "incorrect id format for abc"
    assert info.value.error_id == "https://arxiv.org/api/errors#incorrect_id_format_for_abc"


def test_error_entry_detected_by_title_without_abs_id() -> None:
    feed = _feed_with_entry(entry_id="https://arxiv.org/api/oops", title="Error", summary="something broke")
    with pytest.raises(ArxivFeedError, match="something broke"):
        parse_feed(feed)


def test_a_real_paper_titled_error_is_a_paper() -> None:
    (paper,) = parse_feed(_feed_with_entry(title="Error", summary="On errors."))
    assert paper.title == "Error"


def test_numeric_title_is_kept() -> None:
    (paper,) = parse_feed(_feed_with_entry(entry_id="http://arxiv.org/abs/2104.12255v1", title="0", summary="x"))
    assert (paper.id, paper.title) == ("2104.12255", "0")


def test_duplicate_versions_keep_the_first() -> None:
    entry_a = _entry("http://arxiv.org/abs/2401.12345v2", "Second version", "a")
    entry_b = _entry("http://arxiv.org/abs/2401.12345v1", "First version", "b")
    (paper,) = parse_feed(_feed(entry_a + entry_b))
    assert paper.title == "Second version"


def test_unusable_entries_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    entries = (
        _entry("http://example.com/no-abs", "Strange", "x")
        + _entry("http://arxiv.org/abs/2401.12345v1", "   ", "x")
        + _entry("http://arxiv.org/abs/2401.54321v1", "Kept", "x")
    )
    with caplog.at_level(logging.WARNING, logger="bot.sources.arxiv"):
        papers = parse_feed(_feed(entries))
    assert [p.id for p in papers] == ["2401.54321"]
    assert len(caplog.records) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<!DOCTYPE html><html><body><p>Rate limited</p></body>", "not an XML feed"),
        (b"", "not an XML feed"),
        (b'{"error": "json"}', "not an XML feed"),
        (b"<rss><channel/></rss>", "expected an Atom <feed>"),
        (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>http://arxiv.org/abs/2401.1', "not an XML feed"),
    ],
)
def test_bodies_that_are_not_feeds(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=message):
        parse_feed(body)


def test_total_results() -> None:
    assert total_results(_body("del_maestro_lukasschwab")) == 31  # legacy: namespace declared inline
    assert total_results(_body("id_0808.05394")) == 0
    assert total_results(b"junk") is None


# ------------------------------------------------------------------------------------------- builders


def _entry(entry_id: str, title: str, summary: str) -> str:
    return (
        f"<entry><id>{entry_id}</id><title>{title}</title><summary>{summary}</summary>"
        "<published>2024-01-20T10:00:00Z</published><author><name>A. Author</name></author>"
        '<category term="cs.LG" scheme="http://arxiv.org/schemas/atom"/></entry>'
    )


def _feed(entries: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom">' + entries + "</feed>"
    ).encode()


def _feed_with_entry(
    *, entry_id: str = "http://arxiv.org/abs/2401.12345v1", title: str = "T", summary: str = "S"
) -> bytes:
    return _feed(_entry(entry_id, title, summary))
