"""Many processes, one catalogue: a bulk import, cron ingests and CLI reads at once, with and without a bot.

Every process is real (`python -m bot …` subprocesses against a real SQLite file or PostgreSQL database and
the loopback Hugging Face server); the "bot" is this test process holding the index lease with a real
`SearchService`, as `paperbot run` does. On PostgreSQL a second bot runs as a process of its own with its own
index folder (as a second machine or shard would): its own replica of the index, with its own cursor into
the shared change log. What must hold: none fails, none waits without bound, nothing is lost, and every
committed paper becomes searchable in every process within seconds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.models import Paper
from bot.search import SearchService, keyword_view, open_search
from tests.fixture_server import FixtureServer
from tests.robustness._proc import Finished, clean_env, run_bot_cli
from tests.stores import BACKENDS, catalogue_target

REPO = Path(__file__).resolve().parents[2]
IMPORTED = 6_000
INGEST_DAYS = (dt.date(2024, 3, 13), dt.date(2024, 3, 15), dt.date(2024, 5, 31))
SEARCHABLE_WITHIN_S = 30.0


def _write_snapshot(path: Path, count: int) -> None:
    """A snapshot in the public arXiv format, each paper findable by a word only it has (`zqNNNNN`)."""
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            record = {
                "id": f"2301.{n:05d}",
                "title": f"Sparse routing study zq{n:05d}",
                "abstract": f"We study sparse routing in mixture of experts, case zq{n:05d}.",
                "authors_parsed": [["Doe", "Jane", ""]],
                "categories": "cs.LG",
                "versions": [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}],
                "update_date": "2023-01-02",
            }
            out.write(json.dumps(record) + "\n")


@dataclass(frozen=True)
class Shared:
    """One catalogue the processes share: where it is, their environment, and the index folder that the
    processes on this machine (the CLI commands and the first bot) share."""

    backend: str
    target: str
    env: dict[str, str]
    index: Path


@pytest.fixture(params=BACKENDS)
async def shared(request: pytest.FixtureRequest, tmp_path: Path, fixture_server: FixtureServer) -> Shared:
    target = await catalogue_target(request.param, tmp_path, request)
    if request.param == "sqlite":
        env = fixture_server.environ() | {"PAPERBOT_DATABASE__PATH": target}
        return Shared("sqlite", target, env, Path(target + ".index"))
    env = fixture_server.environ() | {"PAPERBOT_DATABASE__URL": target}
    return Shared(request.param, target, env, tmp_path / "data" / "search-index")  # the default folder


# A bot-like process of its own (what `paperbot run` does with its catalogue and search, without Discord): it
# follows the shared log into its own index folder, and when told how many papers to expect, waits (bounded)
# until its index holds them all and answers the given searches.
_SECOND_BOT = """
import asyncio, json, sys
from pathlib import Path
from bot.catalogue import open_catalogue
from bot.search import open_search

async def main(target, folder):
    catalogue = await open_catalogue(target)
    try:
        async with open_search(catalogue, folder, role="bot") as search:
            print(json.dumps({"lease": search.follower.holds_lease}), flush=True)
            request = json.loads(await asyncio.to_thread(sys.stdin.readline))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + request["within_s"]
            while True:
                index = await search.keyword.readable()
                if index is not None and index.num_docs == request["papers"]:
                    break
                if loop.time() > deadline:
                    print(json.dumps({"error": f"index holds {index and index.num_docs} papers"}), flush=True)
                    return
                await catalogue.wait_for_changes(search.keyword.cursor, max_wait_s=0.5)
            found = {q: [p.id for p in (await search.search(q, limit=20)).papers] for q in request["queries"]}
            print(json.dumps({"found": found}), flush=True)
    finally:
        await catalogue.close()

asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
"""


@pytest.fixture
async def second_bot(shared: Shared, tmp_path: Path) -> AsyncIterator[asyncio.subprocess.Process | None]:
    """On PostgreSQL, another bot process with an index folder of its own; on SQLite none (one bot per file)."""
    if shared.backend == "sqlite":
        yield None
        return
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _SECOND_BOT, shared.target, str(tmp_path / "second-bot-index"),
        env=clean_env({}), cwd=REPO,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None and process.stderr is not None
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        assert line, (await process.stderr.read()).decode()
        started = json.loads(line)
        assert started == {"lease": True}  # its folder is its own: it writes its own replica
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _ask_second_bot(process: asyncio.subprocess.Process, papers: int, queries: list[str]) -> dict[str, list[str]]:
    assert process.stdin is not None and process.stdout is not None
    request = {"papers": papers, "queries": queries, "within_s": SEARCHABLE_WITHIN_S}
    process.stdin.write((json.dumps(request) + "\n").encode())
    await process.stdin.drain()
    line = await asyncio.wait_for(process.stdout.readline(), SEARCHABLE_WITHIN_S + 60)
    assert line, (await process.stderr.read()).decode() if process.stderr else "no answer"
    answer = json.loads(line)
    assert "found" in answer, answer
    found: dict[str, list[str]] = answer["found"]
    return found


async def _run_all(env: dict[str, str], cwd: Path, snapshot: Path) -> list[Finished]:
    """The import, three cron-like ingests and two searches, all started together."""
    runs = [run_bot_cli("import", "arxiv-snapshot", str(snapshot), env=env, cwd=cwd, limit_s=600)]
    runs += [run_bot_cli("ingest", "--date", day.isoformat(), env=env, cwd=cwd, limit_s=600) for day in INGEST_DAYS]
    runs += [run_bot_cli("search", "sparse routing", "--json", env=env, cwd=cwd, limit_s=600) for _ in range(2)]
    return list(await asyncio.gather(*runs))


def _assert_all_succeeded(results: Sequence[Finished]) -> None:
    for result in results:
        assert result.code == 0, result.err
        assert "Traceback" not in result.err
    assert f"imported {IMPORTED:,} papers" in results[0].err


async def _cli_search_ids(env: dict[str, str], cwd: Path, query: str) -> list[str]:
    result = await run_bot_cli("search", query, "--json", env=env, cwd=cwd)
    assert result.code == 0, result.err
    return [paper["id"] for paper in json.loads(result.out)]


async def _expected_ids(fixture_server: FixtureServer) -> tuple[list[str], list[str]]:
    ingested = sorted({item["paper"]["id"] for day in INGEST_DAYS for item in fixture_server.day_items(day)})
    imported = [f"2301.{n:05d}" for n in (0, IMPORTED // 2, IMPORTED - 1)]
    return imported, ingested


async def _index_holds_everything(search: SearchService) -> bool:
    index = await search.keyword.readable()
    return index is not None and index.num_docs == await search.catalogue.count_papers()


async def test_a_bot_import_ingests_and_reads_at_once_lose_nothing(
    fixture_server: FixtureServer,
    tmp_path: Path,
    shared: Shared,
    second_bot: asyncio.subprocess.Process | None,
) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    _write_snapshot(snapshot, IMPORTED)
    env = shared.env
    catalogue = await open_catalogue(shared.target)
    try:
        async with open_search(catalogue, shared.index, role="bot") as bot_search:
            assert bot_search.follower.holds_lease  # the bot writes the index; the CLI commands must not
            results = await _run_all(env, tmp_path, snapshot)
            _assert_all_succeeded(results)
            stats = await catalogue.stats()
            imported, ingested = await _expected_ids(fixture_server)
            assert stats.papers == IMPORTED + len(ingested)
            if second_bot is not None:  # the other bot, on its own replica, sees every paper too
                queries = [f"zq{paper_id[-5:]}" for paper_id in imported]
                found = await _ask_second_bot(second_bot, stats.papers, queries)
                assert [found[q] for q in queries] == [[paper_id] for paper_id in imported]
            # Within seconds the bot's index holds every committed paper...
            deadline = asyncio.get_running_loop().time() + SEARCHABLE_WITHIN_S
            while not await _index_holds_everything(bot_search):
                assert asyncio.get_running_loop().time() < deadline, "the bot's index did not catch up"
                await catalogue.wait_for_changes(bot_search.keyword.cursor, max_wait_s=0.5)
            for paper_id in imported:
                found = await bot_search.search(f"zq{paper_id[-5:]}")
                assert [p.id for p in found.papers] == [paper_id]
            for paper_id in ingested:
                paper = await catalogue.get(paper_id)
                assert paper is not None
                found = await bot_search.search(f'"{paper.title}"', limit=20)
                assert paper_id in [p.id for p in found.papers], paper.title
            # ... and a CLI process, which reads the bot's index as it stands, sees them too.
            assert await _cli_search_ids(env, tmp_path, f"zq{IMPORTED - 1:05d}") == [imported[-1]]
    finally:
        await catalogue.close()


async def test_without_a_bot_the_processes_share_the_index_between_them(
    fixture_server: FixtureServer, tmp_path: Path, shared: Shared
) -> None:
    snapshot = tmp_path / "snapshot.jsonl"
    _write_snapshot(snapshot, IMPORTED)
    env = shared.env
    _assert_all_succeeded(await _run_all(env, tmp_path, snapshot))
    imported, ingested = await _expected_ids(fixture_server)
    # Whichever process held the lease last handed over cleanly: the next command finds everything.
    for paper_id in imported:
        assert await _cli_search_ids(env, tmp_path, f"zq{paper_id[-5:]}") == [paper_id]
    catalogue = await open_catalogue(shared.target)
    try:
        async with open_search(catalogue, shared.index, role="cli") as search:
            assert await _index_holds_everything(search)
            for paper_id in ingested[:5]:
                paper = await catalogue.get(paper_id)
                assert paper is not None
                assert paper_id in [p.id for p in (await search.search(f'"{paper.title}"', limit=20)).papers]
    finally:
        await catalogue.close()


async def test_a_paper_written_by_another_process_is_searchable_in_the_bot_within_seconds(
    fixture_server: FixtureServer, tmp_path: Path, shared: Shared
) -> None:
    env = shared.env
    catalogue = await open_catalogue(shared.target)
    try:
        async with open_search(catalogue, shared.index, role="bot") as bot_search:
            result = await run_bot_cli("ingest", "--date", "2024-03-15", env=env, cwd=tmp_path)
            assert result.code == 0, result.err
            [item, *_] = fixture_server.day_items(dt.date(2024, 3, 15))
            title = item["paper"]["title"]

            async def found() -> bool:
                return item["paper"]["id"] in [p.id for p in (await bot_search.search(f'"{title}"')).papers]

            deadline = asyncio.get_running_loop().time() + SEARCHABLE_WITHIN_S
            while not await found():
                assert asyncio.get_running_loop().time() < deadline
                await catalogue.wait_for_changes(bot_search.keyword.cursor, max_wait_s=0.5)
    finally:
        await catalogue.close()


async def test_a_reader_sees_the_writers_commits(
    catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two views of one folder (as two processes have): the one without the lease reloads what the holder
    commits. Reloads are throttled to one a second in production; here every search may reload."""
    monkeypatch.setattr(keyword_view, "RELOAD_EVERY_S", 0.0)
    async with (
        open_search(catalogue, tmp_path / "idx", role="cli") as writer,
        open_search(catalogue, tmp_path / "idx", role="cli") as reader,
    ):
        assert writer.follower.holds_lease and not reader.follower.holds_lease
        await catalogue.upsert_papers([Paper(id="2401.00001", title="Quokka locomotion")])
        await writer.sync()
        assert [p.id for p in (await reader.search("quokka")).papers] == ["2401.00001"]


async def test_a_readers_index_lag_counts_the_writers_commits(
    catalogue: Catalogue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`index_lag` (the paperbot_index_lag_entries gauge, the benchmark's "searchable" wait) in a process that
    only reads the index: it reloads the folder first, or another process's commits would never show."""
    monkeypatch.setattr(keyword_view, "RELOAD_EVERY_S", 0.0)
    async with (
        open_search(catalogue, tmp_path / "idx", role="cli") as writer,
        open_search(catalogue, tmp_path / "idx", role="cli") as reader,
    ):
        assert writer.follower.holds_lease and not reader.follower.holds_lease
        await catalogue.upsert_papers([Paper(id=f"2401.0000{n}", title=f"Quokka gait {n}") for n in range(3)])
        assert await reader.index_lag() == 3  # committed to the catalogue, not indexed yet
        await writer.sync()
        assert await reader.index_lag() == 0
