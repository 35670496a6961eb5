"""`python -m bench --papers N`: paperbot's import, search, autocomplete and lookup against real peers.

Runs each phase in its own process (so each peak RSS is that phase's own), on a synthetic arXiv snapshot that
is generated once and cached under `bench/.cache/` (generation is not timed). Prints one table with ratios to
the floor and to tantivy-py, and writes the same numbers as JSON under `bench/results/`.

Systems measured on the same corpus and queries:
  current   — `SearchService` over the SQLite catalogue (`bot/search`, `bot/catalogue/sqlite`): rows, search
              and autocomplete through its tantivy index (`bot/search/keyword_index.py`) — what `/paper search` runs
  floor     — read+parse, executemany (id, title, abstract, authors) into one FTS5 table, one transaction
  fts5      — raw FTS5 BM25 top-10 on the floor's table (the naive design)
  tantivy   — tantivy-py with its query parser (what a user would pick)
  naive     — an arxiv-sanity-lite-style linear scan, at ≤ --naive-max papers
  postgres  — the same import and `SearchService` over the catalogue on PostgreSQL (a throwaway server started
              here through tests/postgres_server.py; skipped, with the reason, where none can be had)
  hybrid    — `SearchService` in hybrid, keyword and semantic mode with a complete vector view of the same
              catalogue (synthetic vectors; `bench/serve_hybrid.py`), plus the query embedding alone

A second table (`bench/report_speed.py`) holds the issue 9 and 11 speed targets: import time against the
floor's (until the import returns, and until keyword search covers everything imported), hybrid search p95,
query embedding p95 and serving RSS with vectors.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.corpus import ensure_snapshot
from bench.queries import repetitions
from bench.report import render, targets
from bench.report_speed import render_speed, speed_targets

HERE = Path(__file__).resolve().parent


def _run_phase(
    name: str,
    args: dict[str, Any],
    log: list[str],
    module: str = "bench.phases",
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    proc = subprocess.run(
        [sys.executable, "-m", module, name, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        check=False,
        env={**os.environ, **(env or {})},
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"bench phase {name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = elapsed
    # Other work on the machine skews every timing: keep the 1-minute load average beside each phase.
    result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    log.append(f"{name:<24} {elapsed:8.1f} s")
    print(f"  {name:<24} {elapsed:8.1f} s", file=sys.stderr, flush=True)
    return result


_PG_URL = "PAPERBOT_BENCH_POSTGRES_URL"


@contextlib.contextmanager
def _postgres(work: Path) -> Iterator[tuple[str, int] | str]:
    """A throwaway PostgreSQL server (the tests' own, `tests/postgres_server.py`) with an empty database for the
    PostgreSQL phases: yields (URL, postmaster pid), or the reason there is none. Stopped however the run ends."""
    import shutil

    import psycopg

    from tests.postgres_server import PostgresUnavailable, start

    try:
        server = start()
    except (PostgresUnavailable, RuntimeError) as exc:
        yield str(exc)
        return
    try:
        shutil.rmtree(work / "postgres.index", ignore_errors=True)
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute("CREATE DATABASE bench_catalogue")
        assert server.pid is not None
        yield server.url("bench_catalogue"), server.pid
    finally:
        server.stop()


def run(
    papers: int,
    *,
    seed: int = 20260101,
    smoke: bool = False,
    cache_dir: Path = HERE / ".cache",
    results_dir: Path = HERE / "results",
    naive_max: int = 100_000,
    reps: int | None = None,
) -> dict[str, Any]:
    """Run the whole benchmark; return the results dict (also written as JSON)."""
    started = time.perf_counter()
    print(f"bench: {papers:,} papers, seed {seed}", file=sys.stderr)
    gen_started = time.perf_counter()
    snapshot, generated = ensure_snapshot(cache_dir, papers, seed)
    gen_seconds = time.perf_counter() - gen_started
    print(f"  {'generate' if generated else 'cached corpus':<24} {gen_seconds:8.1f} s  {snapshot}", file=sys.stderr)
    work = cache_dir / f"work-n{papers}-s{seed}"
    work.mkdir(parents=True, exist_ok=True)
    base = {"snapshot": str(snapshot), "work": str(work), "papers": papers, "naive_max": naive_max, "reps": 1}
    log: list[str] = []
    phases: dict[str, dict[str, Any]] = {}
    phases["floor"] = _run_phase("floor", base, log)
    phases["import-current"] = _run_phase("import-current", base, log)
    phases["import-beside-bot"] = _run_phase("import-beside-bot", base, log)
    phases["tantivy-build"] = _run_phase("tantivy-build", base, log)
    for name in ("serve-current", "serve-tantivy", "serve-fts5", "serve-naive"):
        phase_reps = repetitions(name, papers, smoke=smoke, override=reps)
        phases[name] = _run_phase(name, {**base, "reps": phase_reps}, log)
        phases[name]["repetitions"] = phase_reps
    # Issue 11 at this size: the imported catalogue with a complete vector view, served in hybrid mode.
    phases["vectors-fill"] = _run_phase("vectors-fill", base, log, module="bench.serve_hybrid")
    hybrid_reps = repetitions("serve-hybrid", papers, smoke=smoke, override=reps)
    phases["serve-hybrid"] = _run_phase("serve-hybrid", {**base, "reps": hybrid_reps}, log, "bench.serve_hybrid")
    phases["serve-hybrid"]["repetitions"] = hybrid_reps
    postgres_skipped = None
    with _postgres(work) as server:
        if isinstance(server, str):
            postgres_skipped = server
            print(f"  postgres phases skipped: {server}", file=sys.stderr)
        else:
            url, postmaster = server
            pg_args = {**base, "postmaster": postmaster}
            phases["import-postgres"] = _run_phase("import-postgres", pg_args, log, env={_PG_URL: url})
            phase_reps = repetitions("serve-postgres", papers, smoke=smoke, override=reps)
            phases["serve-postgres"] = _run_phase(
                "serve-postgres", {**pg_args, "reps": phase_reps}, log, env={_PG_URL: url}
            )
            phases["serve-postgres"]["repetitions"] = phase_reps
    results: dict[str, Any] = {
        "papers": papers,
        "seed": seed,
        "smoke": smoke,
        "repetitions": {k: v["repetitions"] for k, v in phases.items() if "repetitions" in v},
        "naive_max": min(naive_max, papers),
        "generated_now": generated,
        "generation_seconds": gen_seconds,
        "snapshot_bytes": snapshot.stat().st_size,
        "cpu_count": os.cpu_count(),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "phases": phases,
        "postgres_skipped": postgres_skipped,
    }
    results["targets"] = targets(results)
    results["speed_targets"] = speed_targets(results)
    results["total_seconds"] = time.perf_counter() - started
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = results_dir / f"bench-n{papers}-{stamp}.json"
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    (results_dir / f"latest-n{papers}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    results["json_path"] = str(out)
    print(render(results))
    print(render_speed(results))
    print(f"JSON: {out}   total {results['total_seconds']:.0f} s")
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--papers", type=int, default=100_000, help="corpus size (default 100000)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--smoke", action="store_true", help="CI mode: one repetition, no timing claims")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    parser.add_argument("--naive-max", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=None, help="repetitions per query (default 5, smoke 1)")
    ns = parser.parse_args(argv)
    if ns.papers < 1:
        parser.error("--papers must be positive")
    run(
        ns.papers,
        seed=ns.seed,
        smoke=ns.smoke,
        cache_dir=ns.cache_dir,
        results_dir=ns.results_dir,
        naive_max=ns.naive_max,
        reps=ns.reps,
    )


if __name__ == "__main__":
    main()
