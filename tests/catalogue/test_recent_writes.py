"""SQLite: an importing process's follower takes the rows it just wrote from memory — and sees exactly what
reading them back from the file gives, whoever else writes meanwhile."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from bot.catalogue import open_catalogue
from bot.catalogue.sqlite._recent import RecentWrites
from bot.importer import import_snapshot
from bot.models import Paper

SAMPLE = next((Path(__file__).parent.parent / "fixtures" / "arxiv-snapshot").glob("*.jsonl"))
SEEN = dt.datetime(2026, 12, 4, 12, 30, 15, 123456, tzinfo=dt.UTC)


def _snapshot(tmp_path: Path, *records: dict[str, object]) -> Path:
    path = tmp_path / "snapshot.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _record(arxiv_id: str, title: str, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {"id": arxiv_id, "title": title, "abstract": f"About {title}."}
    return record | {"authors_parsed": [["Lee", "A.", ""]]} | extra


async def _read_back(path: Path, after: int = 0) -> tuple[tuple[Paper, ...], tuple[str, ...]]:
    """What a follower in another process (nothing remembered) reads from the file."""
    async with await open_catalogue(path) as other:
        batch = await other.changes_after(after, limit=10_000)
    return batch.papers, batch.gone


async def test_remembered_rows_equal_the_rows_read_back(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    async with await open_catalogue(path) as catalogue:
        report = await import_snapshot(SAMPLE, catalogue, progress=False, batch_size=4)
        assert report.imported == 14
        here = await catalogue.changes_after(0, limit=10_000)
    assert len(here.papers) == 14
    assert (here.papers, here.gone) == await _read_back(path)


async def test_a_later_write_by_another_process_wins(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    snapshot = _snapshot(tmp_path, _record("2401.00001", "First"), _record("2401.00002", "Second"))
    async with await open_catalogue(path) as importer:
        await import_snapshot(snapshot, importer, progress=False)
        async with await open_catalogue(path) as cron:  # e.g. `paperbot ingest` beside the import
            await cron.upsert_papers([Paper(id="2401.00001", title="First, revised", upvotes=7)])
        batch = await importer.changes_after(0, limit=10_000)
    revised = next(p for p in batch.papers if p.id == "2401.00001")
    assert revised.title == "First, revised" and revised.upvotes == 7
    assert (batch.papers, batch.gone) == await _read_back(path)


async def test_a_paper_named_twice_in_a_batch_is_read_back(tmp_path: Path) -> None:
    path = tmp_path / "papers.db"
    snapshot = _snapshot(
        tmp_path,
        _record("2401.00001", "Draft", categories="cs.LG"),
        _record("2401.00001", "Final"),  # no categories: the stored row keeps the first line's
    )
    async with await open_catalogue(path) as catalogue:
        await import_snapshot(snapshot, catalogue, progress=False)
        batch = await catalogue.changes_after(0, limit=10_000)
    (paper,) = batch.papers
    assert paper.title == "Final" and paper.categories == ("cs.LG",)
    assert (batch.papers, batch.gone) == await _read_back(path)


def _paper(n: int) -> Paper:
    return Paper(id=f"2401.{n:05d}", title=f"Paper {n}")


def test_recent_writes_are_bounded_and_checked_by_id_and_stamp() -> None:
    recent = RecentWrites(capacity=5)
    recent.remember([(1, _paper(1)), (2, _paper(2)), (3, _paper(3))], "t1")
    recent.remember([(4, _paper(4)), (5, _paper(5)), (6, _paper(6))], "t2")
    assert len(recent) == 3 and recent.newest == 6  # the oldest batch went to stay within 5
    assert recent.get(2, "2401.00002", "t1") is None
    assert recent.get(5, "2401.00005", "t2") == _paper(5)
    assert recent.get(5, "2401.00004", "t2") is None  # an entry naming another paper is never answered from memory
    assert recent.get(5, "2401.00005", "t3") is None  # nor one written by another transaction (a reused number)
    recent.forget_through(6)
    assert len(recent) == 0 and recent.get(5, "2401.00005", "t2") is None


def test_a_transaction_that_did_not_commit_is_forgotten() -> None:
    recent = RecentWrites()
    recent.remember([(1, _paper(1))], "t1")
    recent.remember([(2, _paper(2)), (3, _paper(3))], "t2")
    recent.forget([2, 3])
    assert len(recent) == 1 and recent.newest == 1 and recent.get(2, "2401.00002", "t2") is None


async def test_papers_not_in_the_stored_form_are_remembered_as_stored(tmp_path: Path) -> None:
    """`import_papers` takes any Paper: the ones the snapshot reader did not shape (a wrapped title, lists,
    Hugging Face fields the import does not write, another time zone, no sightings) are remembered as their
    rows read back, not as handed over."""
    path = tmp_path / "papers.db"
    elsewhere = SEEN.astimezone(dt.timezone(dt.timedelta(hours=2)))
    papers = [
        Paper(id="2401.00011", title="  Wrapped\n title ", first_seen=SEEN, last_seen=SEEN),
        Paper(id="2401.00012", title="Upvoted", upvotes=4, first_seen=SEEN, last_seen=SEEN),
        Paper(id="2401.00013", title="Listed", authors=["A. Lee"], categories=[], first_seen=SEEN),  # type: ignore[arg-type]
        Paper(id="2401.00014", title="Zoned", first_seen=elsewhere, last_seen=elsewhere),
        Paper(id="2401.00015", title="Plain", first_seen=SEEN, last_seen=SEEN),
    ]
    async with await open_catalogue(path) as catalogue:
        await catalogue.import_papers(papers, seen_at=SEEN)
        here = await catalogue.changes_after(0, limit=10_000)
    assert [p.title for p in here.papers] == ["Wrapped title", "Upvoted", "Listed", "Zoned", "Plain"]
    assert here.papers[1].upvotes is None and here.papers[2].authors == ("A. Lee",)
    assert here.papers[2].categories is None and here.papers[3].first_seen.tzinfo is dt.UTC  # type: ignore[union-attr]
    assert (here.papers, here.gone) == await _read_back(path)
    assert here.papers[4] is papers[4]  # already in the stored form: handed on as it is
