"""The PostgreSQL phases of `python -m bench`: the same import and serving code paths as SQLite's, on a
throwaway PostgreSQL server (`tests/postgres_server.py`, the tests' server) that `bench/__main__.py` starts.

* `import-postgres` — `import_snapshot` into a `Catalogue` at a PostgreSQL URL (COPY + one merge per batch, the
  change log appended under its lock), with this process holding the index lease so the keyword index follows
  the log beside the import, exactly like `import-current`. Besides this process's CPU it reports the server's
  (every backend's, read from /proc), and what the change log's lock costs:
  - `append_ms`: per batch, taking the lock and writing the batch's log entries — the longest another writer
    can be made to wait by the import (plus the commit, which is fast);
  - `writer`: a second process that writes one paper every 50 ms (a cron ingest's kind of write) for a few
    seconds before the import and then during it: its write latencies idle vs. during the import.
* `serve-postgres` — `SearchService.search` / `.autocomplete` and `Catalogue.get` over that catalogue and the
  index the import built (the index is local, as on every bot process).

The server's URL (with its password) comes in the environment (`PAPERBOT_BENCH_POSTGRES_URL`), never on a
command line or in the results.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from bot.catalogue import open_catalogue
from bot.importer import DEFAULT_BATCH_SIZE, import_snapshot
from bot.search import open_search

URL_VARIABLE = "PAPERBOT_BENCH_POSTGRES_URL"
_WRITER_EVERY_S = 0.05
_WRITER_IDLE_S = 3.0


def index_directory(work: Path) -> Path:
    """The local search views of the PostgreSQL catalogue's bench process."""
    return work / "postgres.index"


def server_cpu_seconds(postmaster: int) -> float:
    """CPU seconds the whole server has used: the postmaster, its live children, and (through the postmaster's
    cumulative children times) every backend that has already exited."""

    def fields(pid: int | str) -> list[str]:
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()

    tick = os.sysconf("SC_CLK_TCK")
    own = fields(postmaster)
    total = sum(int(own[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            stat = fields(entry.name)
            if int(stat[1]) == postmaster:
                total += int(stat[11]) + int(stat[12])
    return total / tick


# A writer of its own (another process, as a cron ingest is): one small upsert every 50 ms until stdin closes;
# prints each write's start (Unix time) and latency (s), as JSON.
_WRITER = """
import asyncio, datetime as dt, json, os, sys, time
from bot.catalogue import open_catalogue
from bot.models import Paper

async def main():
    catalogue = await open_catalogue(os.environ["PAPERBOT_BENCH_POSTGRES_URL"])
    stop = asyncio.ensure_future(asyncio.to_thread(sys.stdin.read))
    samples, n = [], 0
    print("ready", flush=True)
    try:
        while not stop.done():
            n += 1
            paper = Paper(id=f"9999.{n:05d}", title=f"Concurrent writer probe {n}", upvotes=n)
            at, started = time.time(), time.perf_counter()
            await catalogue.upsert_papers([paper])
            samples.append((at, time.perf_counter() - started))
            await asyncio.wait({stop}, timeout=EVERY)
    finally:
        await catalogue.close()
    print(json.dumps(samples), flush=True)

asyncio.run(main())
"""


@contextlib.contextmanager
def _concurrent_writer(url: str) -> Iterator[Callable[[], list[tuple[float, float]]]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER.replace("EVERY", str(_WRITER_EVERY_S))],
        env={**os.environ, URL_VARIABLE: url},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdin is not None and proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise RuntimeError("the concurrent writer did not start")
    results: list[list[tuple[float, float]]] = []

    def finish() -> list[tuple[float, float]]:
        if not results:
            out, _ = proc.communicate(input="", timeout=120)
            results.append([tuple(pair) for pair in json.loads(out.strip().splitlines()[-1])])  # type: ignore[misc]
        return results[0]

    try:
        yield finish
    finally:
        if proc.poll() is None:
            finish()


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    if not ordered:
        return {}

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))] * 1000

    return {"n": len(ordered), "p50": pick(0.5), "p95": pick(0.95), "max": ordered[-1] * 1000}


def _timing_appends() -> list[float]:
    """Time each change-log append (lock + entries) of this process. Bench-only instrumentation: wraps the
    backend's private append function, read-only; the import itself runs unchanged."""
    from bot.catalogue.postgres import changelog  # the step this phase times

    durations: list[float] = []
    original = changelog.append

    async def timed(*args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        await original(*args, **kwargs)
        durations.append(time.perf_counter() - started)

    changelog.append = timed  # type: ignore[assignment]
    return durations


def phase_import_postgres(args: dict[str, Any], memory: Callable[[], dict[str, float]]) -> dict[str, Any]:
    """paperbot's importer into PostgreSQL, as `paperbot import` runs it with `[database] url` set."""
    url = os.environ[URL_VARIABLE]
    postmaster = int(args["postmaster"])
    index = index_directory(Path(args["work"]))
    appends = _timing_appends()

    async def run(finish_writer: Callable[[], list[tuple[float, float]]]) -> dict[str, Any]:
        catalogue = await open_catalogue(url)
        async with catalogue, open_search(catalogue, index, role="cli") as search:
            await asyncio.sleep(_WRITER_IDLE_S)  # the concurrent writer's idle baseline
            server_before = server_cpu_seconds(postmaster)
            import_began = time.time()
            started = time.perf_counter()
            report = await import_snapshot(
                args["snapshot"],
                catalogue,
                progress=False,
                batch_size=int(args.get("batch_size", DEFAULT_BATCH_SIZE)),
            )
            import_ended = time.time()
            samples = await asyncio.to_thread(finish_writer)
            await search.sync()
            searchable = time.perf_counter() - started
            server_cpu = server_cpu_seconds(postmaster) - server_before
            db_bytes = (await catalogue.stats()).db_bytes
        idle = [latency for at, latency in samples if at < import_began]
        during = [latency for at, latency in samples if import_began <= at <= import_ended]
        return {
            "records": report.read,
            "imported": report.imported,
            "bad": report.bad,
            "seconds": report.seconds,
            "rate": report.rate,
            "searchable_seconds": searchable,
            "server_cpu_seconds": server_cpu,
            "db_bytes": db_bytes,
            "append_ms": _ms(appends),
            "writer_idle_ms": _ms(idle),
            "writer_during_import_ms": _ms(during),
        }

    with _concurrent_writer(url) as finish:
        result = asyncio.run(run(finish))
    index_bytes = sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
    return {**result, "index_bytes": index_bytes, **memory()}


def phase_serve_postgres(
    args: dict[str, Any],
    serve: Callable[[Callable[[], Awaitable[Any]], Path, dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """The slash commands' code path with the catalogue on PostgreSQL and the index local."""
    url = os.environ[URL_VARIABLE]
    index = index_directory(Path(args["work"]))
    return serve(lambda: open_catalogue(url), index, args)
