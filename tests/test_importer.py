"""The arXiv snapshot reader and importer against a real SQLite catalogue, on the real snapshot sample."""

from __future__ import annotations

import datetime as dt
import gc
import gzip
import itertools
import json
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.catalogue import Catalogue, open_catalogue
from bot.importer import ImportReport, import_snapshot
from bot.models import Paper
from bot.search import open_search
from bot.sources.arxiv_snapshot import (
    BadLine,
    SnapshotReader,
    _author_name,
    _authors_from_parsed,
    _collapse,
    decode_latex_accents,
    parse_record,
    read_snapshot,
)

SAMPLE = next((Path(__file__).parent / "fixtures" / "arxiv-snapshot").glob("*.jsonl"))
SAMPLE_IDS = [json.loads(line)["id"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(tmp_path / "papers.db")
    yield cat
    await cat.close()


def _record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "hep-th/9901001",
        "title": "  A   title\n  wrapped ",
        "abstract": "  Line one\nline two.\n",
        "authors": "A. Author",
        "authors_parsed": [["Author", "A.", ""]],
        "categories": "hep-th gr-qc",
        "versions": [{"version": "v1", "created": "Fri, 1 Jan 1999 23:30:00 GMT"}],
        "update_date": "2001-05-06",
    }
    base.update(fields)
    return base


# ---- reader -------------------------------------------------------------------------------------------------


def test_sample_reads_every_line_as_a_paper() -> None:
    items = list(read_snapshot(SAMPLE))
    assert [p.id for p in items if isinstance(p, Paper)] == SAMPLE_IDS
    first = items[0]
    assert isinstance(first, Paper)
    assert first.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert first.abstract is not None
    assert first.abstract.startswith("A fully differential calculation")
    assert "\n" not in first.abstract and "  " not in first.abstract
    assert first.authors == ("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan")
    assert first.categories == ("hep-ph",)
    assert first.published == dt.date(2007, 4, 2)  # versions[0].created, not update_date (2008-11-26)
    assert first.upvotes is None and first.github_repo is None and first.ai_summary is None


def test_authors_parsed_keeps_suffix_and_drops_affiliation() -> None:
    paper = parse_record(_record(authors_parsed=[["Evans", "Neal J.", "II", "Caltech"], ["Øbro", "Mikkel", ""]]))
    assert paper.authors == ("Neal J. Evans II", "Mikkel Øbro")


def test_authors_string_fallback_decodes_latex_and_splits() -> None:
    raw = r"Rastislav \v{S}r\'amek, Bro\v{n}a Brejov\'a and Franz G\"ahler (Institut f\"ur Physik), {\O}bro"
    paper = parse_record(_record(authors_parsed=None, authors=raw))
    assert paper.authors == ("Rastislav Šrámek", "Broňa Brejová", "Franz Gähler", "Øbro")


@pytest.mark.parametrize(
    ("latex", "text"),
    [
        (r"Bal\'azs", "Balázs"),
        (r"M\"uller", "Müller"),
        (r"\c{C}etin", "Çetin"),
        (r"Stra\ss e", "Straße"),
        (r"\AA{}ngstr\"om", "Ångström"),
        (r"Erd\H{o}s", "Erdős"),
        (r"no accents", "no accents"),
        (r"\unknown{x}", r"\unknown{x}"),  # unknown macros are left as written
    ],
)
def test_decode_latex_accents(latex: str, text: str) -> None:
    assert decode_latex_accents(latex) == text


def test_published_falls_back_to_update_date() -> None:
    assert parse_record(_record(versions=[])).published == dt.date(2001, 5, 6)
    assert parse_record(_record(versions=[{"created": "garbage"}])).published == dt.date(2001, 5, 6)
    assert parse_record(_record(versions=None, update_date=None)).published is None


def test_published_is_the_utc_date() -> None:
    created = [{"version": "v1", "created": "Fri, 1 Jan 1999 23:30:00 -0500"}]  # 04:30 UTC next day
    assert parse_record(_record(versions=created)).published == dt.date(1999, 1, 2)


def test_record_fields_are_normalised() -> None:
    paper = parse_record(_record(id="math.GT/0309136v2"))
    assert paper.id == "math/0309136"
    assert paper.title == "A title wrapped"
    assert paper.abstract == "Line one line two."
    assert paper.categories == ("hep-th", "gr-qc")


@pytest.mark.parametrize(
    "record",
    [[], "text", {"title": "no id"}, _record(id="not an id"), _record(title="   "), _record(id=12)],
)
def test_unusable_records_raise_value_error(record: object) -> None:
    with pytest.raises(ValueError):
        parse_record(record)


def test_bad_lines_are_reported_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = json.dumps(_record())
    path.write_bytes(
        b"\n".join([good.encode(), b"{not json", b"", b"\xff\xfe", json.dumps(_record(id="x")).encode(), good.encode()])
    )
    items = list(read_snapshot(path))
    assert [type(i).__name__ for i in items] == ["Paper", "BadLine", "BadLine", "BadLine", "Paper"]
    assert [i.line_no for i in items if isinstance(i, BadLine)] == [2, 4, 5]


def test_reader_reports_progress_in_file_bytes(tmp_path: Path) -> None:
    gz = tmp_path / "sample.jsonl.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    with SnapshotReader(gz) as reader:
        assert reader.total_bytes == gz.stat().st_size
        papers = list(reader)
        assert reader.bytes_read == reader.total_bytes
    assert [p.id for p in papers if isinstance(p, Paper)] == SAMPLE_IDS


# ---- importer -----------------------------------------------------------------------------------------------


async def test_import_sample_into_catalogue(catalogue: Catalogue, tmp_path: Path) -> None:
    report = await import_snapshot(SAMPLE, catalogue, progress=False)
    assert isinstance(report, ImportReport)
    assert (report.read, report.imported, report.bad, report.changed) == (14, 14, 0, 14)
    assert report.seconds > 0
    assert str(report).startswith("imported 14 papers from 14 lines; 14 changed; ")
    stats = await catalogue.stats()
    assert stats.papers == 14
    paper = await catalogue.get("0704.0062")
    assert paper is not None
    assert paper.authors == ("Rastislav Šrámek", "Broňa Brejová", "Tomáš Vinař")
    assert paper.categories == ("cs.DS",)
    assert paper.published == dt.date(2007, 3, 31)
    async with open_search(catalogue, tmp_path / "index", role="cli") as search:
        results = await search.search("diphoton")
    assert [p.id for p in results.papers] == ["0704.0001"]


@pytest.mark.parametrize("batch_size", [1, 3, 14, 1000])
async def test_batch_boundaries_do_not_lose_papers(catalogue: Catalogue, batch_size: int) -> None:
    report = await import_snapshot(SAMPLE, catalogue, batch_size=batch_size, progress=False)
    assert report.imported == 14
    assert (await catalogue.stats()).papers == 14


async def test_import_gzip_and_old_style_ids_and_bad_lines(catalogue: Catalogue, tmp_path: Path) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    lines += [
        json.dumps(_record()).encode(),
        b"{truncated",
        b"[1, 2]",
        json.dumps(_record(id="cond-mat/0603029v1", title="Old style")).encode(),
        json.dumps(_record(id="2401.12345", title="")).encode(),
    ]
    gz = tmp_path / "snapshot.json.gz"
    gz.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    report = await import_snapshot(gz, catalogue, progress=False)
    assert (report.read, report.imported, report.bad) == (19, 16, 3)
    assert [b.line_no for b in report.bad_examples] == [16, 17, 19]
    assert str(report).startswith("imported 16 papers from 19 lines, 3 bad line(s) skipped (first at line 16: ")
    old = await catalogue.get("hep-th/9901001")
    assert old is not None and old.title == "A title wrapped" and old.published == dt.date(1999, 1, 1)
    assert (await catalogue.get("cond-mat/0603029")) is not None


async def test_reimport_is_idempotent(catalogue: Catalogue) -> None:
    await import_snapshot(SAMPLE, catalogue, progress=False)
    before = await catalogue.get("0704.0001")
    again = await import_snapshot(SAMPLE, catalogue, progress=False)
    assert (again.read, again.imported, again.changed) == (14, 14, 0)
    assert (await catalogue.stats()).papers == 14
    assert await catalogue.get("0704.0001") == before  # not even last_seen moved


async def test_import_keeps_what_hugging_face_set(catalogue: Catalogue) -> None:
    hf = Paper(
        id="0704.0002",
        title="HF  title",
        abstract="HF abstract",
        upvotes=42,
        num_comments=3,
        github_repo="https://github.com/x/y",
        github_stars=7,
        ai_summary="A summary.",
        ai_keywords=("graphs",),
        organization="Org",
        thumbnail="https://example.org/t.png",
    )
    await catalogue.upsert_papers([hf])
    await import_snapshot(SAMPLE, catalogue, progress=False)
    merged = await catalogue.get("0704.0002")
    assert merged is not None
    # HF-only fields untouched.
    assert (merged.upvotes, merged.num_comments, merged.github_repo, merged.github_stars) == (42, 3, hf.github_repo, 7)
    assert (merged.ai_summary, merged.ai_keywords, merged.organization, merged.thumbnail) == (
        "A summary.",
        ("graphs",),
        "Org",
        hf.thumbnail,
    )
    # arXiv is authoritative for what it carries.
    assert merged.title == "Sparsity-certifying Graph Decompositions"
    assert merged.abstract is not None and merged.abstract.startswith("We describe a new algorithm")
    assert merged.authors == ("Ileana Streinu", "Louis Theran")
    assert merged.categories == ("math.CO", "cs.CG")
    assert merged.published == dt.date(2007, 3, 31)


async def test_progress_callback_sees_the_whole_file(catalogue: Catalogue, tmp_path: Path) -> None:
    copy = tmp_path / "s.jsonl"
    shutil.copy(SAMPLE, copy)
    calls: list[tuple[int, int, int]] = []
    await import_snapshot(copy, catalogue, batch_size=5, progress=lambda b, t, r: calls.append((b, t, r)))
    assert len(calls) == 3
    assert [c[2] for c in calls] == [5, 10, 14]
    assert calls[-1][0] == calls[-1][1] == copy.stat().st_size
    assert all(a[0] <= b[0] for a, b in itertools.pairwise(calls))


async def test_progress_bar_renders_without_a_terminal(
    catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    report = await import_snapshot(SAMPLE, catalogue, progress=True)
    assert report.imported == 14
    err = capsys.readouterr().err
    assert "importing arxiv_snapshot_0704" in err and "14 records" in err


async def test_empty_file_and_bad_batch_size(catalogue: Catalogue, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    report = await import_snapshot(empty, catalogue, progress=False)
    assert (report.read, report.imported, report.bad) == (0, 0, 0)
    with pytest.raises(ValueError):
        await import_snapshot(empty, catalogue, batch_size=0)


async def test_missing_file_raises(catalogue: Catalogue, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await import_snapshot(tmp_path / "absent.jsonl", catalogue, progress=False)


@given(st.text(alphabet=st.sampled_from(list("ab .\n\t\r\x0b\x0c\x1c\x1f\x85\xa0é\u2009\u3000")), max_size=60))
def test_whitespace_collapse_matches_split_join(text: str) -> None:
    assert _collapse(text) == " ".join(text.split())


_NAME_PARTS = st.one_of(
    st.text(alphabet=st.sampled_from(list("ab. -\n\t\r\x0b\x1c\x85\xa0é\u2009\u00ad")), max_size=8),
    st.none(),
    st.integers(0, 3),
)


@given(st.lists(st.lists(_NAME_PARTS, min_size=1, max_size=5), max_size=6))
def test_authors_fast_path_matches_the_exact_rule(parsed: list[list[object]]) -> None:
    expected = tuple(name for name in (_author_name(entry) for entry in parsed) if name)
    assert _authors_from_parsed(parsed) == expected


async def test_switch_interval_and_collector_are_restored(catalogue: Catalogue, tmp_path: Path) -> None:
    before = sys.getswitchinterval()
    thresholds = gc.get_threshold()
    collecting: list[bool] = []
    await import_snapshot(
        SAMPLE, catalogue, progress=lambda *_: collecting.append(gc.isenabled()), switch_interval=0.001, batch_size=2
    )
    assert collecting and not any(collecting)  # paused while batches are written ...
    assert gc.isenabled()  # ... and running again afterwards
    assert sys.getswitchinterval() == before
    assert gc.get_threshold() == thresholds
    gc.disable()
    try:  # an interpreter whose collector was off keeps it off
        await import_snapshot(SAMPLE, catalogue, progress=False)
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(FileNotFoundError):
        await import_snapshot(tmp_path / "absent", catalogue, progress=False, switch_interval=0.001)
    assert sys.getswitchinterval() == before


async def test_the_database_file_holds_every_paper_when_the_import_returns(tmp_path: Path) -> None:
    """The import lets SQLite's WAL grow while batches arrive, and checkpoints it before returning: the main
    database file alone (read with the WAL ignored) already has every paper."""
    path = tmp_path / "catalogue.db"
    async with await open_catalogue(path) as catalogue:
        report = await import_snapshot(SAMPLE, catalogue, progress=False, batch_size=3)
        on_disk = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            assert on_disk.execute("SELECT count(*) FROM papers").fetchone() == (report.imported,)
        finally:
            on_disk.close()
        # The connection is back to SQLite's default checkpointing for the writes that follow.
        await catalogue.upsert_papers([Paper(id="2401.99999", title="Written after the import")])
        assert (await catalogue.get("2401.99999")) is not None
