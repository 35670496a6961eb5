"""The keyword index as a derived view: fed by the change log, one writer per folder, rebuilt when untrusted."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import time
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.models import Paper
from bot.search import SearchService, follower, keyword_view, open_search
from bot.search.folder import RebuildProgress, ViewFolder
from bot.search.lease import Lease


def _paper(pid: str, title: str, **fields: object) -> Paper:
    return Paper(id=pid, title=title, abstract="An abstract.", **fields)  # type: ignore[arg-type]


async def _ids(search: SearchService, query: str) -> list[str]:
    return [p.id for p in (await search.search(query)).papers]


def _generation(folder: Path) -> int:
    state = ViewFolder(folder, "keyword").state()
    assert state is not None
    return state.generation


async def test_the_index_follows_every_change(catalogue: Catalogue, search: SearchService) -> None:
    await catalogue.upsert_papers([_paper("2401.00001", "Quantum widgets")])
    await search.sync()
    assert await _ids(search, "widgets") == ["2401.00001"]
    await catalogue.upsert_papers([_paper("2401.00001", "Classical gadgets")])
    await search.sync()
    assert await _ids(search, "widgets") == []
    assert await _ids(search, "gadgets") == ["2401.00001"]
    assert [t for _, t in await search.autocomplete("gadg")] == ["Classical gadgets"]
    assert [t for _, t in await search.autocomplete("classical gadg")] == ["Classical gadgets"]


async def test_a_reopened_folder_catches_up_without_a_rebuild(tmp_path: Path) -> None:
    catalogue = await open_catalogue(tmp_path / "papers.db")
    folder = tmp_path / "idx"
    try:
        async with open_search(catalogue, folder, role="cli") as search:
            await catalogue.upsert_papers([_paper("2401.00001", "Quantum widgets")])
            await search.sync()
        generation = _generation(folder)
        # Written while no process followed the log (a crash between commit and indexing looks the same).
        await catalogue.upsert_papers([_paper("2401.00002", "Quantum gadgets")])
        async with open_search(catalogue, folder, role="cli") as search:
            assert sorted(await _ids(search, "quantum")) == ["2401.00001", "2401.00002"]
        assert _generation(folder) == generation  # caught up from its cursor, not rebuilt
    finally:
        await catalogue.close()


@pytest.mark.parametrize("damage", ["folder lost", "other catalogue", "older format", "cursor lost", "pruned"])
async def test_an_untrusted_index_is_rebuilt_from_the_catalogue(tmp_path: Path, damage: str) -> None:
    catalogue = await open_catalogue(tmp_path / "papers.db")
    folder = tmp_path / "idx"
    try:
        async with open_search(catalogue, folder, role="cli") as search:
            await catalogue.upsert_papers([_paper("2401.00001", "Quantum widgets")])
            await search.sync()
        generation = _generation(folder)
        state_path = folder / "keyword.json"
        state = json.loads(state_path.read_text())
        if damage == "folder lost":
            shutil.rmtree(folder)
        elif damage == "other catalogue":
            state_path.write_text(json.dumps({**state, "catalogue": "someone-else"}))
        elif damage == "older format":
            state_path.write_text(json.dumps({**state, "format": state["format"] - 1}))
        elif damage == "cursor lost":
            (folder / f"keyword-{generation}.cursor").unlink()
        else:
            # Entries the index never read are pruned away: it cannot catch up from the log any more.
            await catalogue.upsert_papers([_paper("2401.00002", "Quantum gadgets")])
            await catalogue.upsert_papers([_paper("2401.00003", "Quantum gizmos")])
            assert await catalogue.prune_changes(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)) == 2
        async with open_search(catalogue, folder, role="cli") as search:
            expected = ["2401.00001"] if damage != "pruned" else ["2401.00001", "2401.00002", "2401.00003"]
            assert sorted(await _ids(search, "quantum")) == expected
        if damage != "folder lost":
            assert _generation(folder) == generation + 1
    finally:
        await catalogue.close()


async def test_the_index_never_serves_a_paper_the_catalogue_lacks(tmp_path: Path) -> None:
    import sqlite3

    catalogue = await open_catalogue(tmp_path / "papers.db")
    try:
        async with open_search(catalogue, tmp_path / "idx", role="cli") as search:
            await catalogue.upsert_papers([_paper("2401.00001", "Quantum widgets")])
            await search.sync()
            with sqlite3.connect(tmp_path / "papers.db") as db:  # the row vanishes behind the index's back
                db.execute("DELETE FROM papers WHERE id = '2401.00001'")
            results = await search.search("widgets")
            assert results.papers == () and results.matched == "none"
            assert await search.autocomplete("quantum") == []
    finally:
        await catalogue.close()


async def test_a_reader_without_an_index_answers_from_titles_with_progress(tmp_path: Path) -> None:
    catalogue = await open_catalogue(tmp_path / "papers.db")
    folder = tmp_path / "idx"
    try:
        await catalogue.upsert_papers(
            [_paper("2401.00001", "Quantum widgets", upvotes=2), _paper("2401.00002", "Widgets at scale", upvotes=9)]
        )
        lease = Lease(folder, role="test writer")
        assert lease.try_acquire()  # another "process" holds the lease and has not built anything yet
        try:
            async with open_search(catalogue, folder, role="cli") as reader:
                assert not reader.follower.holds_lease
                first = await reader.search("widgets")
                assert [p.id for p in first.papers] == ["2401.00002", "2401.00001"]
                assert first.notice and "not ready yet" in first.notice
                now = time.time()
                ViewFolder(folder, "keyword").save_progress(RebuildProgress(1, 250, 1000, now - 30, now))
                second = await reader.search("widgets")
                assert second.notice and "25% done" in second.notice and "about 90 s left" in second.notice
        finally:
            lease.release()
    finally:
        await catalogue.close()


async def test_the_bot_waits_for_the_lease_and_takes_over_when_it_is_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(follower, "RETRY_LEASE_S", 0.01)
    catalogue = await open_catalogue(tmp_path / "papers.db")
    folder = tmp_path / "idx"
    try:
        async with open_search(catalogue, folder, role="cli") as cli, open_search(catalogue, folder, role="bot") as bot:
            assert cli.follower.holds_lease and not bot.follower.holds_lease
            await cli.close()  # the CLI command finishes and hands the lease over
            deadline = asyncio.get_running_loop().time() + 10
            while not bot.follower.holds_lease:
                assert asyncio.get_running_loop().time() < deadline, "the bot never took the lease over"
                await asyncio.sleep(0.01)  # the bot retries on its own timer: polling is all a test can do
            await catalogue.upsert_papers([_paper("2401.00001", "Quantum widgets")])
            await bot.sync()
            assert await _ids(bot, "widgets") == ["2401.00001"]
    finally:
        await catalogue.close()


async def test_a_bulk_write_is_committed_on_the_interval_not_after_every_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While an import's batches keep arriving the follower applies each one and commits on its bulk interval
    (fewer, bigger segments, fewer merges). Between batches it waits for entries after the ones it *applied*:
    waiting after the committed cursor returned at once, and the next round committed every batch it caught
    up with (a 1M-paper import became 100 commits of 10,000 papers, merged into 19 segments)."""
    monkeypatch.setattr(follower, "WAIT_S", 60.0)  # no commit on a quiet round during the test
    monkeypatch.setattr(keyword_view, "BULK_COMMIT_EVERY_S", 60.0)
    catalogue = await open_catalogue(tmp_path / "papers.db")
    try:
        async with open_search(catalogue, tmp_path / "idx", role="cli") as search:
            waited_after: list[int] = []
            waits = asyncio.Condition()
            really_wait = catalogue.wait_for_changes

            async def wait_for_changes(after: int, *, max_wait_s: float) -> bool:
                async with waits:
                    waited_after.append(after)
                    waits.notify_all()
                return await really_wait(after, max_wait_s=max_wait_s)

            monkeypatch.setattr(catalogue, "wait_for_changes", wait_for_changes)
            for batch in range(3):
                ids = [f"24{batch + 1:02d}.{n:05d}" for n in range(keyword_view.BULK_BATCH)]
                await catalogue.import_papers([_paper(pid, f"Bulk paper {pid}") for pid in ids])
                end = (await catalogue.log_position()).last_seq
                async with waits:  # the follower has applied the batch and waits for the next one
                    await asyncio.wait_for(waits.wait_for(lambda end=end: max(waited_after) >= end), 30)
                assert search.keyword.applied == end
                assert search.keyword.cursor < end  # applied, not committed: the import is still arriving
            await search.sync()  # a command waiting for the index always commits
            assert search.keyword.cursor == end
            assert len((await search.search("bulk paper", limit=10)).papers) == 10
    finally:
        await catalogue.close()
