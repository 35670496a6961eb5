"""`python -m bench.load`: a burst of slash commands against a large catalogue, through the real bot.

The production runtime (`paperbot run`'s `run_bot`) serves a catalogue of `--papers` synthetic papers (built
once and cached under `bench/.cache/`, not timed) on the loopback fake Discord; `--interactions` slash-command
interactions (search, abstract, title autocomplete, trending) arrive over the gateway within `--seconds`.
Discord requires each interaction to be answered or deferred within 3 s; the benchmark prints the
distribution of that first-response latency and of the time to the final answer, and writes every outcome
as JSON under `bench/results/`. Exit status 1 if any interaction was lost or answered after 3 s.

    python -m bench.load                       # 500 interactions in 2.5 s on 50 000 papers
    python -m bench.load --papers 2000 --interactions 50 --seconds 0.5   # a quick look
    python -m bench.load --compare-embedding   # the same burst with the bot idle and embedding (issue 11)
    python -m bench.load --round-trip          # bare reply vs hybrid /paper search, one at a time (issue 11)

The last two are `bench.load_modes` (read its docstring for what each measures).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._load_world import DEADLINE_S, build_catalogue, run_load
from bench.load_modes import SETTLE_S, build_keyword_index, compare_embedding, round_trip
from bench.phases import index_directory

HERE = Path(__file__).resolve().parent


def _cached_catalogue(papers: int, seed: int) -> Path:
    cache = HERE / ".cache" / f"load-catalogue-n{papers}-s{seed}-g2.db"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        building = cache.with_suffix(".building.db")
        for stale in building.parent.glob(building.name + "*"):
            stale.unlink()
        print(f"building a {papers}-paper catalogue (cached at {cache})…", file=sys.stderr, flush=True)
        started = time.perf_counter()
        asyncio.run(build_catalogue(building, papers, seed))
        building.rename(cache)
        print(f"  built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return cache


def _with_keyword_index(template: Path) -> Path:
    if not index_directory(template).joinpath("keyword.json").exists():
        print(f"building the keyword index of {template.name}…", file=sys.stderr, flush=True)
        asyncio.run(build_keyword_index(template))
    return template


def _ms(seconds: float | None) -> str:
    return f"{seconds * 1000:8.1f}" if seconds is not None else "       -"


def _issue_11(args: argparse.Namespace, template: Path) -> int:
    """`--compare-embedding` and/or `--round-trip`: print their tables, write their JSON; exit 1 if any was lost."""
    template = _with_keyword_index(template)
    report: dict[str, Any] = {"papers": args.papers, "cpu_count": os.cpu_count()}
    lost = 0
    if args.compare_embedding:
        result = asyncio.run(
            compare_embedding(
                template,
                papers=args.papers,
                interactions=args.interactions,
                burst_seconds=args.seconds,
                backlog=args.backlog,
                rounds=args.rounds,
                seed=args.seed,
                answer_timeout=args.answer_timeout,
                settle_seconds=args.settle,
            )
        )
        report["embedding"] = result
        print(
            f"paperbot load, hybrid mode: {args.interactions} interactions in {args.seconds:g} s on {args.papers:,} "
            f"papers, the bot idle vs embedding {args.backlog:,} papers in the background ({args.rounds} round(s), "
            "ABBA)"
        )
        print(
            f"  {'run':<11}{'answer p50':>11}{'p95':>9}{'p99':>9}{'first p95':>10}{'lost':>6}{'late':>6}"
            f"{'bot CPU s':>10}{'settle CPU':>11}{'embedded':>9}{'load':>11}"
        )
        for run in result["runs"]:
            answered, first = run["answered_s"], run["first_response_s"]
            lost += run["lost"]
            load = "–".join(f"{x:.1f}" for x in run["loadavg_1m"])
            cpu = f"{run['bot_cpu_s']:10.1f}" if run["bot_cpu_s"] is not None else f"{'-':>10}"
            settle = f"{run['settle_cpu_s']:11.1f}" if run["settle_cpu_s"] is not None else f"{'-':>11}"
            print(
                f"  {run['mode']:<11}{_ms(answered['p50']):>11}{_ms(answered['p95']):>9}{_ms(answered['p99']):>9}"
                f"{_ms(first['p95']):>10}{run['lost']:>6}{run['late']:>6}{cpu}{settle}{run['embedded']:>9}{load:>11}"
            )
        pooled = result["pooled"]
        ratio = result["p95_ratio"]
        print(
            f"  answer p95 (median of rounds): idle {pooled['idle']['answered_p95_s'] * 1000:.1f} ms, embedding "
            f"{pooled['embedding']['answered_p95_s'] * 1000:.1f} ms → ratio {ratio:.2f}× (target ≤ 2×)"
            if ratio is not None
            else "  ratio: -"
        )
        rate = result["rate"]
        print(
            f"  embedding rate (shipped model, {rate['docs']} catalogue papers, batches as the background job): "
            f"{rate['docs_per_s']:.1f} docs/s wall, {rate['docs_per_cpu_s']:.1f} docs per CPU-second → 1M papers "
            f"≈ {rate['hours_for_1m_wall']:.1f} h wall, {rate['hours_for_1m_cpu']:.1f} h of one core "
            f"(load {rate['loadavg_1m']:.1f}); in the bot during these runs: {result['in_bot_docs_per_s']:.1f} docs/s"
        )
    if args.round_trip:
        trip = asyncio.run(
            round_trip(template, papers=args.papers, count=args.round_trips, seed=args.seed, answer_timeout=30.0)
        )
        report["round_trip"] = trip
        print(
            f"paperbot round trip through the fake Discord, one interaction at a time, {args.round_trips} of each "
            f"on {args.papers:,} papers (load {trip['loadavg_1m'][0]:.1f}–{trip['loadavg_1m'][1]:.1f})"
        )
        print(f"  {'kind':<34}{'p50':>9}{'p95':>9}{'p99':>9}")
        for kind, label in (("bare", "bare reply (blank query, at once)"), ("search", "/paper search, hybrid")):
            dist = trip[kind]["answered_s"]
            lost += trip[kind]["lost"]
            print(f"  {label:<34}{_ms(dist['p50'])}{_ms(dist['p95'])}{_ms(dist['p99'])}")
        diff = trip["p95_difference_s"]
        print(f"  p95 difference: {_ms(diff).strip()} ms (target ≤ 25 ms)")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / f"load-issue11-n{args.papers}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"  report: {out}")
    return 1 if lost else 0


def _row(name: str, dist: dict[str, float | None]) -> str:
    cells = " ".join(f"{k}={v * 1000:7.1f}ms" if v is not None else f"{k}=      -" for k, v in dist.items())
    return f"  {name:<16} {cells}"


def main(argv: list[str] | None = None) -> int:
    """Run the load benchmark; print the latency distribution and write the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=2.5, help="the burst's length (arrivals evenly spread)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--answer-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for each final answer before it counts as lost",
    )
    parser.add_argument("--in-process", action="store_true", help="run the bot in this process (default: subprocess)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report path (default: bench/results/…)")
    parser.add_argument(
        "--compare-embedding", action="store_true", help="the burst with the bot idle vs embedding in the background"
    )
    parser.add_argument("--backlog", type=int, default=3000, help="papers left to embed in the embedding runs")
    parser.add_argument("--rounds", type=int, default=2, help="idle+embedding pairs (ABBA order)")
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        help="seconds between the bot being ready and each burst, so the background embedding is running",
    )
    parser.add_argument("--round-trip", action="store_true", help="bare reply vs hybrid search, one at a time")
    parser.add_argument("--round-trips", type=int, default=100, help="interactions of each kind for --round-trip")
    args = parser.parse_args(argv)

    template = _cached_catalogue(args.papers, args.seed)
    if args.compare_embedding or args.round_trip:
        return _issue_11(args, template)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "papers.db"
        shutil.copyfile(template, db)
        report = asyncio.run(
            run_load(
                db,
                papers=args.papers,
                interactions=args.interactions,
                burst_seconds=args.seconds,
                seed=args.seed,
                answer_timeout=args.answer_timeout,
                subprocess=not args.in_process,
            )
        )
    summary = report.summary()
    print(
        f"paperbot load: {summary['interactions']} interactions in {args.seconds:g} s on {args.papers} papers "
        f"({summary['kinds']})"
    )
    print(_row("first response", summary["first_response_s"]))
    print(_row("final answer", summary["answered_s"]))
    print(
        f"  answered {summary['answered']}/{summary['interactions']} "
        f"({summary['throttled']} by the per-user cooldown), lost {summary['lost']}, "
        f"first response later than {DEADLINE_S:g} s: {summary['late_first_response']}"
    )
    for error in summary["errors"]:
        print(f"  error: {error}")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / f"load-n{args.papers}-i{args.interactions}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    print(f"  report: {out}")
    return 1 if summary["lost"] or summary["late_first_response"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
