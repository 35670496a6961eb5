"""Benchmark phases, each run in its own process so its peak RSS is its own: `python -m bench.phases NAME ARGS`.

Every phase prints one JSON object on its last stdout line: its measurements plus `rss` (peak resident set,
`ru_maxrss`) and, for serving phases, the anonymous/file-backed split at the end (`/proc/self/status`), because
a memory-mapped index's resident pages count in RSS but are reclaimable page cache.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from bench.baselines import Fts5Raw, NaiveScan, TantivyBaseline, floor_import
from bench.pg_phases import phase_import_postgres, phase_serve_postgres
from bench.queries import AUTOCOMPLETE, QUERIES, id_sample
from bot.catalogue import Catalogue, open_catalogue
from bot.importer import DEFAULT_BATCH_SIZE, import_snapshot
from bot.search import SearchService, open_search

MB = 1024 * 1024


class _RssSampler:
    """Samples /proc/self/status every 20 ms: the kernel keeps a peak for total RSS only (VmHWM), and a
    memory-mapped index's file pages inflate it; the anonymous peak is what the process itself holds.

    One descriptor read with `os.pread` and two byte regexes per sample: the sampler shares the interpreter
    lock with the phase it measures, and the pathlib-and-split version held it ~2 s of a 1M import (py-spy)."""

    _ANON = re.compile(rb"RssAnon:\s+(\d+)")
    _FILE = re.compile(rb"RssFile:\s+(\d+)")

    def __init__(self) -> None:
        self.peak_anon_kb = 0
        self.peak_file_kb = 0
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()

    def _run(self) -> None:
        try:
            fd = os.open("/proc/self/status", os.O_RDONLY)
        except OSError:
            return
        while True:
            try:
                status = os.pread(fd, 8192, 0)
            except OSError:
                return
            anon, file = self._ANON.search(status), self._FILE.search(status)
            if anon:
                self.peak_anon_kb = max(self.peak_anon_kb, int(anon.group(1)))
            if file:
                self.peak_file_kb = max(self.peak_file_kb, int(file.group(1)))
            time.sleep(0.02)


_SAMPLER: _RssSampler | None = None


def _memory() -> dict[str, float]:
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child would report its parent's peak.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # CPU seconds (all threads) next to wall time: on a shared machine the work done is the steadier figure.
    out = {"rss_peak_mb": usage.ru_maxrss / 1024, "cpu_seconds": usage.ru_utime + usage.ru_stime}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "VmRSS", "VmHWM"):
                out[f"{key.lower()}_mb"] = int(value.split()[0]) / 1024
        out["rss_peak_mb"] = out.pop("vmhwm_mb", out["rss_peak_mb"])
        if _SAMPLER is not None:
            out["rss_anon_peak_mb"] = _SAMPLER.peak_anon_kb / 1024
            out["rss_file_peak_mb"] = _SAMPLER.peak_file_kb / 1024
    except OSError:
        pass
    return out


def _size(*paths: Path) -> int:
    total = 0
    for path in paths:
        if path.is_dir():
            total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        elif path.exists():
            total += path.stat().st_size
    return total


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))] * 1000

    return {
        "n": len(ordered),
        "p50": statistics.median(ordered) * 1000,
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": ordered[-1] * 1000,
    }


def _time_sync(
    call: Callable[[str], Any], inputs: Iterable[tuple[str, str]], reps: int, *, warm: bool = True
) -> dict[str, Any]:
    """Warm once, then time `reps` rounds of every input; return overall and per-class percentiles."""
    inputs = list(inputs)
    for _, text in inputs if warm else ():
        call(text)
    samples: dict[str, list[float]] = {}
    for _ in range(reps):
        for cls, text in inputs:
            started = time.perf_counter()
            call(text)
            samples.setdefault(cls, []).append(time.perf_counter() - started)
    return _summarise(samples)


async def _time_async(
    call: Callable[[str], Awaitable[Any]], inputs: Iterable[tuple[str, str]], reps: int
) -> dict[str, Any]:
    inputs = list(inputs)
    for _, text in inputs:
        await call(text)
    samples: dict[str, list[float]] = {}
    for _ in range(reps):
        for cls, text in inputs:
            started = time.perf_counter()
            await call(text)
            samples.setdefault(cls, []).append(time.perf_counter() - started)
    return _summarise(samples)


def _summarise(samples: dict[str, list[float]]) -> dict[str, Any]:
    everything = [s for values in samples.values() for s in values]
    return {"all": _percentiles(everything), "classes": {k: _percentiles(v) for k, v in samples.items()}}


# ---- import phases ------------------------------------------------------------------------------------------


def phase_floor(args: dict[str, Any]) -> dict[str, Any]:
    """The floor: read+parse, executemany into one FTS5 table, one transaction."""
    db = Path(args["work"]) / "floor.db"
    result = floor_import(Path(args["snapshot"]), db)
    return {**result, "db_bytes": _size(db), **_memory()}


def _reset(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if candidate.is_file():
                candidate.unlink()


def index_directory(db: Path) -> Path:
    """The search views' folder beside an SQLite catalogue (as `bot.stores.index_folder` puts it)."""
    return db.with_name(db.name + ".index")


def phase_import_current(args: dict[str, Any]) -> dict[str, Any]:
    """paperbot's importer, as `paperbot import` runs it: catalogue rows plus the change log, with this
    process holding the index lease, so the keyword index follows the log beside the import."""
    db = Path(args["work"]) / "catalogue.db"
    _reset(db, index_directory(db))

    async def run() -> dict[str, Any]:
        catalogue = await open_catalogue(db)
        async with catalogue, open_search(catalogue, index_directory(db), role="cli") as search:
            started = time.perf_counter()
            report = await import_snapshot(
                args["snapshot"],
                catalogue,
                progress=False,
                batch_size=int(args.get("batch_size", DEFAULT_BATCH_SIZE)),
            )
            await search.sync()
            searchable = time.perf_counter() - started
        return {
            "records": report.read,
            "imported": report.imported,
            "bad": report.bad,
            "seconds": report.seconds,
            "rate": report.rate,
            "searchable_seconds": searchable,
        }

    result = asyncio.run(run())
    return {**result, "db_bytes": _size(db), "index_bytes": _size(index_directory(db)), **_memory()}


async def _until_indexed(search: SearchService, *, timeout_s: float) -> None:
    """Poll (another process writes the index) until the index read here covers every change-log entry."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await search.index_lag() <= 0:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the bot's index did not catch up within {timeout_s:.0f} s")
        await asyncio.sleep(0.1)


def phase_import_beside_bot(args: dict[str, Any]) -> dict[str, Any]:
    """The same import while a bot process holds the index lease (the deployment issue 9 describes): the import
    writes the catalogue and its change log only; the bot follows the log into its keyword index. Timed until
    the import returns, and until the index this process reads covers everything (the bot's commits, seen
    through the index folder: up to `RELOAD_EVERY_S` late)."""
    db = Path(args["work"]) / "beside-bot.db"
    _reset(db, index_directory(db))
    holder = subprocess.Popen(
        [sys.executable, "-m", "bench._index_holder", str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        if holder.stdout.readline().strip() != "ready":
            raise SystemExit("the index holder did not start")

        async def run() -> dict[str, Any]:
            catalogue = await open_catalogue(db)
            async with catalogue, open_search(catalogue, index_directory(db), role="cli", mode="keyword") as search:
                if search.follower.lease.held:
                    raise SystemExit("the import took the lease the bot should hold")
                started = time.perf_counter()
                batch_size = int(args.get("batch_size", DEFAULT_BATCH_SIZE))
                report = await import_snapshot(args["snapshot"], catalogue, progress=False, batch_size=batch_size)
                returned = time.perf_counter() - started
                await _until_indexed(search, timeout_s=1800.0)
                return {
                    "records": report.read,
                    "seconds": returned,
                    "rate": report.rate,
                    "searchable_seconds": time.perf_counter() - started,
                }

        result = asyncio.run(run())
    finally:
        holder.stdin.close()
        holder.wait(timeout=600)
    return {**result, **_memory()}


def phase_tantivy_build(args: dict[str, Any]) -> dict[str, Any]:
    """Build the tantivy-py baseline index (timed for information only)."""
    index_dir = Path(args["work"]) / "index-baseline"
    result = TantivyBaseline.build(Path(args["snapshot"]), index_dir)
    return {**result, "index_bytes": _size(index_dir), **_memory()}


# ---- serving phases -----------------------------------------------------------------------------------------


def _serve_catalogue(
    catalogue_factory: Callable[[], Awaitable[Catalogue]], index: Path, args: dict[str, Any]
) -> dict[str, Any]:
    reps = int(args["reps"])
    ids = id_sample(int(args["papers"]))

    async def run() -> dict[str, Any]:
        store = await catalogue_factory()
        try:
            async with open_search(store, index, role="cli") as catalogue:
                return await measure(store, catalogue)
        finally:
            await store.close()

    async def measure(store: Catalogue, catalogue: SearchService) -> dict[str, Any]:
        if True:
            search = await _time_async(lambda q: catalogue.search(q, limit=10), QUERIES, reps)
            common = [(c, q) for c, q in QUERIES if c == "common"]
            newest = await _time_async(lambda q: catalogue.search(q, limit=10, sort="newest"), common, 1)
            auto = await _time_async(
                lambda t: catalogue.autocomplete(t), [("autocomplete", t) for t in AUTOCOMPLETE], reps
            )
            by_id = await _time_async(lambda i: store.get(i), [("abstract", i) for i in ids], 1)
            found = sum([await store.get(i) is not None for i in ids[:20]])
            page = await catalogue.search("model", limit=10)
        return {
            "search": search,
            "search_newest_common": newest["all"],
            "autocomplete": auto["all"],
            "abstract_by_id": by_id["all"],
            "ids_found": found,
            "model_matched": page.matched,
            "model_hits": len(page.papers),
        }

    return {**asyncio.run(run()), **_memory()}


def phase_serve_current(args: dict[str, Any]) -> dict[str, Any]:
    """The slash command's code path: `SearchService.search` / `.autocomplete`, `Catalogue.get`."""
    db = Path(args["work"]) / "catalogue.db"
    result = _serve_catalogue(lambda: open_catalogue(db), index_directory(db), args)
    return {**result, "db_bytes": _size(db), "index_bytes": _size(index_directory(db))}


def phase_serve_fts5(args: dict[str, Any]) -> dict[str, Any]:
    """Raw FTS5 BM25 on the floor's table."""
    fts = Fts5Raw(Path(args["work"]) / "floor.db")
    try:
        search = _time_sync(fts.search, QUERIES, int(args["reps"]))
    finally:
        fts.close()
    return {"search": search, **_memory()}


def phase_serve_tantivy(args: dict[str, Any]) -> dict[str, Any]:
    """tantivy-py (query parser, default tokenizer) on the same corpus."""
    baseline = TantivyBaseline(Path(args["work"]) / "index-baseline")
    return {"search": _time_sync(baseline.search, QUERIES, int(args["reps"])), **_memory()}


def phase_serve_naive(args: dict[str, Any]) -> dict[str, Any]:
    """arxiv-sanity-lite-style linear scan, on at most `naive_max` papers."""
    scan = NaiveScan(Path(args["snapshot"]), int(args["naive_max"]))
    return {
        "papers": len(scan.papers),
        "search": _time_sync(scan.search, QUERIES, int(args["reps"]), warm=False),
        **_memory(),
    }


PHASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "floor": phase_floor,
    "import-current": phase_import_current,
    "import-beside-bot": phase_import_beside_bot,
    "tantivy-build": phase_tantivy_build,
    "serve-current": phase_serve_current,
    "serve-fts5": phase_serve_fts5,
    "serve-tantivy": phase_serve_tantivy,
    "serve-naive": phase_serve_naive,
    # The same import and serving code paths with the catalogue on PostgreSQL (bench/pg_phases.py).
    "import-postgres": lambda args: phase_import_postgres(args, _memory),
    "serve-postgres": lambda args: {**phase_serve_postgres(args, _serve_catalogue)},
}


def main(argv: list[str]) -> None:
    """Run one phase: `python -m bench.phases NAME '{json args}'`."""
    global _SAMPLER
    name, raw = argv[0], argv[1]
    _SAMPLER = _RssSampler()
    result = PHASES[name](json.loads(raw))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown of big structures; the result is already written


if __name__ == "__main__":
    main(sys.argv[1:])
