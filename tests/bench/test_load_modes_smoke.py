"""`python -m bench.load --compare-embedding --round-trip` at a tiny size: both scenarios run end to end through
the real bot and the fake Discord, every interaction answered (nothing is timed or compared here)."""

from __future__ import annotations

from pathlib import Path

from bench._load_world import build_catalogue
from bench.load_modes import build_keyword_index, compare_embedding, round_trip


async def test_embedding_comparison_and_round_trip_run(tmp_path: Path) -> None:
    template = tmp_path / "template.db"
    await build_catalogue(template, papers=400, seed=5)
    await build_keyword_index(template)

    compared = await compare_embedding(
        template,
        papers=400,
        interactions=20,
        burst_seconds=0.2,
        backlog=100,
        rounds=1,
        seed=5,
        answer_timeout=30,
        settle_seconds=0.5,
    )
    assert [run["mode"] for run in compared["runs"]] == ["idle", "embedding"]
    for run in compared["runs"]:
        assert run["answered"] == 20 and run["lost"] == 0 and run["bot_cpu_s"] is not None
    assert compared["runs"][0]["embedded"] == 0  # idle: every paper already had a vector
    assert compared["p95_ratio"] is not None and compared["rate"]["docs_per_s"] > 0

    trip = await round_trip(template, papers=400, count=5, seed=5, answer_timeout=30)
    assert trip["bare"]["answered"] == 5 and trip["search"]["answered"] == 5
    assert trip["bare"]["lost"] == 0 and trip["search"]["lost"] == 0
    assert trip["bare"]["response_types"] == [4]  # answered at once, with the "type a query" line
    assert trip["search"]["response_types"] == [5]  # deferred, then the results
    assert trip["p95_difference_s"] is not None
