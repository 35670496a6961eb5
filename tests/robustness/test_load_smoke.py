"""Smoke test of `python -m bench.load`'s scenario: a small burst through the real bot, none lost (not timed).

The benchmark itself (500 interactions on 50 000 papers, latency distribution) is `python -m bench.load`;
this keeps its code working in CI and checks the property that matters under load — every interaction gets
an initial response and a final answer, nothing is rejected by the fake Discord — without asserting times.
"""

from __future__ import annotations

from pathlib import Path

from bench._load_world import build_catalogue, run_load


async def test_burst_of_interactions_all_answered(tmp_path: Path) -> None:
    db = tmp_path / "papers.db"
    await build_catalogue(db, papers=600, seed=3)

    report = await run_load(db, papers=600, interactions=60, burst_seconds=0.3, seed=3, answer_timeout=20)

    summary = report.summary()
    print(f"load smoke: {summary}")
    assert summary["answered"] == 60 and summary["lost"] == 0, summary["errors"]
    assert set(summary["kinds"]) == {"search", "abstract", "autocomplete", "trending"}
    assert all(o.response_type in (4, 5, 8) for o in report.outcomes)
