"""`python -m bench.load`: a burst of slash commands against a large catalogue, through the real bot.

The production runtime (`paperbot run`'s `run_bot`) serves a catalogue of `--papers` synthetic papers (built
once and cached under `bench/.cache/`, not timed) on the loopback fake Discord; `--interactions` slash-command
interactions (search, abstract, title autocomplete, trending) arrive over the gateway within `--seconds`.
Discord requires each interaction to be answered or deferred within 3 s; the benchmark prints the
distribution of that first-response latency and of the time to the final answer, and writes every outcome
as JSON under `bench/results/`. Exit status 1 if any interaction was lost or answered after 3 s.

    python -m bench.load                       # 500 interactions in 2.5 s on 50 000 papers
    python -m bench.load --papers 2000 --interactions 50 --seconds 0.5   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench._load_world import DEADLINE_S, build_catalogue, run_load

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
    args = parser.parse_args(argv)

    template = _cached_catalogue(args.papers, args.seed)
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
