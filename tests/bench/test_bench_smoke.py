"""The benchmark at a tiny size: it runs end to end and its table and JSON have the promised shape.

Nothing here is timed or compared: CI machines are noisy; the numbers come from `python -m bench` by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import corpus
from bench.__main__ import run
from bench.queries import QUERIES, id_sample
from bench.report import CLASSES
from bot.models import Paper
from bot.sources.arxiv_snapshot import read_snapshot


def test_corpus_is_deterministic_prefix_stable_and_parseable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpus, "CHUNK", 100)
    small, generated = corpus.ensure_snapshot(tmp_path / "a", 250, seed=7, workers=1)
    assert generated
    again, generated_again = corpus.ensure_snapshot(tmp_path / "a", 250, seed=7, workers=1)
    assert (again, generated_again) == (small, False)  # cached, not regenerated
    parallel, _ = corpus.ensure_snapshot(tmp_path / "b", 250, seed=7, workers=2)
    assert parallel.read_bytes() == small.read_bytes()  # same bytes whatever the worker count
    bigger, _ = corpus.ensure_snapshot(tmp_path / "c", 400, seed=7, workers=1)
    assert bigger.read_bytes().startswith(small.read_bytes())  # a smaller corpus is a prefix of a bigger one
    other, _ = corpus.ensure_snapshot(tmp_path / "d", 250, seed=8, workers=1)
    assert other.read_bytes() != small.read_bytes()
    papers = list(read_snapshot(small))
    assert len(papers) == 250 and all(isinstance(p, Paper) for p in papers)
    assert len({p.id for p in papers if isinstance(p, Paper)}) == 250
    assert all(isinstance(p, Paper) and p.abstract and p.authors and p.published for p in papers)


def test_tail_words_are_fixed_and_distinct() -> None:
    words = [corpus.tail_word(rank) for rank in range(1, 5000)]
    assert len(set(words)) == len(words)
    assert corpus.tail_word(2_000) == corpus.tail_word(2_000)
    assert all(w.isalpha() and w.islower() for w in words)


def test_id_sample_exists_in_the_corpus() -> None:
    ids = id_sample(1000, count=50)
    assert len(ids) == 50
    assert set(ids) <= {corpus.paper_id(i) for i in range(1000)}


def test_bench_smoke_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = run(300, smoke=True, cache_dir=tmp_path / "cache", results_dir=tmp_path / "results", naive_max=300)
    phases = results["phases"]
    assert set(phases) == {
        "floor",
        "import-current",
        "import-beside-bot",
        "tantivy-build",
        "serve-current",
        "serve-fts5",
        "serve-tantivy",
        "serve-naive",
        "vectors-fill",
        "serve-hybrid",
    } | ({"import-postgres", "serve-postgres"} if results["postgres_skipped"] is None else set())
    for name in ("floor", "import-current", "import-beside-bot", "tantivy-build"):
        assert phases[name]["records"] == 300
        assert phases[name]["rate"] > 0 and phases[name]["rss_peak_mb"] > 0
    beside = phases["import-beside-bot"]  # the bot's index caught up with everything the import wrote
    assert 0 < beside["seconds"] <= beside["searchable_seconds"]
    for name in ("serve-current", "serve-fts5", "serve-tantivy", "serve-naive"):
        search = phases[name]["search"]
        assert search["all"]["n"] == len(QUERIES)  # one repetition in smoke mode
        assert set(search["classes"]) == set(CLASSES)
        assert 0 <= search["all"]["p50"] <= search["all"]["p95"] <= search["all"]["p99"] <= search["all"]["max"]
    for name in ("serve-current",):
        assert phases[name]["ids_found"] == 20  # abstract-by-id lookups hit real papers
        assert phases[name]["model_matched"] == "all" and phases[name]["model_hits"] == 10
        assert phases[name]["autocomplete"]["n"] > 0 and phases[name]["abstract_by_id"]["n"] > 0
    if results["postgres_skipped"] is None:  # the PostgreSQL phases ran on a throwaway server (else: why not)
        assert phases["import-postgres"]["records"] == 300 and phases["import-postgres"]["rate"] > 0
        assert phases["serve-postgres"]["search"]["all"]["n"] == len(QUERIES)
    hybrid = phases["serve-hybrid"]
    assert phases["vectors-fill"]["vectors"] == 300 and hybrid["embedded"] == 300
    for mode in ("hybrid", "keyword", "semantic"):
        assert hybrid[mode]["all"]["n"] == len(QUERIES)
    assert hybrid["hybrid_ranked_by"] == "hybrid" and hybrid["hybrid_hits"] > 0
    assert hybrid["embed_query"]["wall"]["n"] == len(QUERIES) and hybrid["rss_peak_mb"] > 0
    assert [t["met"] in (True, False) for t in results["speed_targets"]] == [True] * 6
    targets = results["targets"]
    current = [t for t in targets if t["variant"] == "current"]
    assert len(current) == 6 and {t["variant"] for t in targets} <= {"current", "postgres"}
    assert all(t["met"] in (True, False) for t in targets)
    written = json.loads(Path(results["json_path"]).read_text(encoding="utf-8"))
    assert written["papers"] == 300 and written["targets"] == targets
    assert (tmp_path / "results" / "latest-n300.json").exists()
    out = capsys.readouterr().out
    for heading in (
        "import",
        "search, top 10 (ms)",
        "search p95 by query class",
        "lookups (ms)",
        "target (issues 5, 9)",
        "target (issues 9, 11)",
    ):
        assert heading in out
    assert "vs floor" in out and "vs tantivy" in out and "SMOKE" in out
    assert "import vs floor" in out and "hybrid mode" in out and "target (issues 9, 11)" in out
