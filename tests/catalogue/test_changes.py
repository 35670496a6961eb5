"""The change log on every backend: appended in the write's transaction, ordered, resolved, never drained."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from bot.catalogue import Catalogue
from bot.models import DailyEntry, Paper

D1 = dt.date(2024, 3, 13)


def _paper(pid: str, **fields: object) -> Paper:
    base: dict[str, object] = {"id": pid, "title": f"Paper {pid}", "abstract": "An abstract."}
    base.update(fields)
    return Paper(**base)  # type: ignore[arg-type]


async def _all_changes(catalogue: Catalogue, after: int = 0) -> list[str]:
    batch = await catalogue.changes_after(after, limit=10_000)
    return [p.id for p in batch.papers] + list(batch.gone)


async def test_every_change_is_logged_once_and_nothing_for_no_change(catalogue: Catalogue) -> None:
    start = await catalogue.log_position()
    assert start.last_seq == 0
    await catalogue.upsert_papers([_paper("2401.00001"), _paper("2401.00002")])
    first = await catalogue.log_position()
    assert first.last_seq > start.last_seq
    assert sorted(await _all_changes(catalogue)) == ["2401.00001", "2401.00002"]
    # The same papers again: no row changes, so no entry — no view redoes work for an identical response.
    await catalogue.upsert_papers([_paper("2401.00001"), _paper("2401.00002")])
    assert await catalogue.log_position() == first
    # A day list that only changes upvotes logs that paper (the keyword index sorts by upvotes).
    await catalogue.record_day(D1, [DailyEntry(D1, _paper("2401.00002", upvotes=9), 9)])
    assert await _all_changes(catalogue, first.last_seq) == ["2401.00002"]


async def test_a_batch_resolves_to_current_papers_each_once(catalogue: Catalogue) -> None:
    await catalogue.upsert_papers([_paper("2401.00001", title="Old title")])
    await catalogue.upsert_papers([_paper("2401.00001", title="New title")])
    await catalogue.upsert_papers([_paper("2401.00002")])
    batch = await catalogue.changes_after(0, limit=100)
    assert [p.id for p in batch.papers] == ["2401.00001", "2401.00002"]
    assert batch.papers[0].title == "New title"  # the paper as stored now, not as it was logged
    assert batch.last_seq == (await catalogue.log_position()).last_seq
    assert not batch.empty
    # Reading is not consuming: the same entries are there for the next follower.
    again = await catalogue.changes_after(0, limit=100)
    assert again == batch
    assert (await catalogue.changes_after(batch.last_seq, limit=100)).empty


async def test_limit_pages_through_the_log_in_order(catalogue: Catalogue) -> None:
    for n in range(1, 8):
        await catalogue.upsert_papers([_paper(f"2401.{n:05d}")])
    seen: list[str] = []
    cursor = 0
    while not (batch := await catalogue.changes_after(cursor, limit=3)).empty:
        assert batch.last_seq > cursor
        seen += [p.id for p in batch.papers]
        cursor = batch.last_seq
    assert seen == [f"2401.{n:05d}" for n in range(1, 8)]


async def test_bulk_import_logs_new_and_changed_papers_only(catalogue: Catalogue) -> None:
    papers = [_paper(f"2401.{n:05d}", authors=("A",)) for n in range(1, 6)]
    assert await catalogue.import_papers(papers) == 5
    mark = await catalogue.log_position()
    assert sorted(await _all_changes(catalogue)) == [p.id for p in papers]
    assert await catalogue.import_papers(papers) == 0  # a re-run changes and logs nothing
    assert await catalogue.log_position() == mark
    changed = [dataclasses.replace(papers[1], abstract="A better abstract."), _paper("2401.00009")]
    assert await catalogue.import_papers(changed + papers[2:]) == 2
    assert sorted(await _all_changes(catalogue, mark.last_seq)) == ["2401.00002", "2401.00009"]


async def test_waiting_wakes_on_a_commit_and_times_out_without_one(catalogue: Catalogue) -> None:
    position = await catalogue.log_position()
    assert await catalogue.wait_for_changes(position.last_seq, max_wait_s=0.05) is False
    waiter = asyncio.create_task(catalogue.wait_for_changes(position.last_seq, max_wait_s=30))
    await catalogue.upsert_papers([_paper("2401.00001")])
    assert await asyncio.wait_for(waiter, 30) is True


async def test_pruning_keeps_the_newest_and_reports_how_far_it_went(catalogue: Catalogue) -> None:
    for n in range(1, 4):
        await catalogue.upsert_papers([_paper(f"2401.{n:05d}")])
    last = (await catalogue.log_position()).last_seq
    assert await catalogue.prune_changes(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)) == 0
    pruned = await catalogue.prune_changes(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
    assert pruned == 2  # everything older, except the newest entry
    position = await catalogue.log_position()
    assert position.last_seq == last
    assert position.pruned_through == last - 1
    assert [p.id for p in (await catalogue.changes_after(0, limit=10)).papers] == ["2401.00003"]
    # The sequence never restarts after pruning.
    await catalogue.upsert_papers([_paper("2401.00004")])
    assert (await catalogue.log_position()).last_seq > last


@pytest.mark.parametrize("rounds", [3])
async def test_concurrent_writers_in_one_process_all_land_in_the_log(catalogue: Catalogue, rounds: int) -> None:
    async def writer(prefix: int) -> None:
        for n in range(rounds):
            await catalogue.upsert_papers([_paper(f"24{prefix:02d}.{n:05d}")])

    await asyncio.gather(*(writer(prefix) for prefix in range(1, 6)))
    assert len(await _all_changes(catalogue)) == 5 * rounds


async def test_a_large_import_batch_with_repeated_ids_merges_each_paper_once(catalogue: Catalogue) -> None:
    """A batch bigger than one statement (SQLite writes 1,000 rows per upsert), naming some ids twice — inside
    one statement's rows and across two statements': each id is stored once, as its last row left it (a None
    from a later row never erases an earlier row's value), and logged once; a re-run changes nothing."""
    papers = [_paper(f"2401.{n:05d}", authors=(f"Author {n}",)) for n in range(2_500)]
    repeats = [
        dataclasses.replace(papers[10], title="Second title, same statement"),
        dataclasses.replace(papers[20], abstract=None, authors=(), title="Second title, abstract kept"),
    ]
    # papers[5] again after row 1,000 (another statement), and papers[1_995] again after row 2,000.
    batch = [*papers[:30], *repeats, *papers[30:1_200], dataclasses.replace(papers[5], title="Crossed a statement")]
    batch += [*papers[1_200:2_100], dataclasses.replace(papers[1_995], title="Crossed again"), *papers[2_100:]]
    changed = await catalogue.import_papers(batch)
    assert changed >= 2_500  # every new paper; a repeated row that changed its paper counts again
    stored = await catalogue.get_many([p.id for p in papers])
    assert len(stored) == 2_500
    by_id = {p.id: p for p in stored}
    assert by_id["2401.00010"].title == "Second title, same statement"
    assert by_id["2401.00020"].title == "Second title, abstract kept"
    assert by_id["2401.00020"].abstract == "An abstract."
    assert by_id["2401.00020"].authors == ("Author 20",)
    assert by_id["2401.00005"].title == "Crossed a statement"
    assert by_id["2401.01995"].title == "Crossed again"
    logged = await _all_changes(catalogue)
    assert sorted(set(logged)) == sorted(p.id for p in papers) and len(logged) == 2_500
    mark = await catalogue.log_position()
    assert await catalogue.import_papers(batch) <= 8  # only the repeated ids flip (twice each) and back
    final = {p.id: p for p in await catalogue.get_many([p.id for p in papers])}
    assert final["2401.00005"].title == "Crossed a statement"
    assert (await catalogue.log_position()).last_seq - mark.last_seq <= 4
