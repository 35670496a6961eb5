"""`python -m bench.semantic [--papers 100000,1000000] [--skip-scale]`: semantic search, measured.

Prints four tables, each against a baseline from the same run:

1. Model — the shipped model measured live (load, query p50/p95 one at a time, documents/s for title +
   abstract, RSS added, install size of its packages), beside the candidates recorded in throwaway venvs
   (`bench/data/model_candidates.json`, made by `bench/model_candidates.py`).
2. Relevance — MRR@10 of the known-item sets (bench/data/relevance: keyword, one-typo, paraphrase; tuning
   and reporting splits) for today's keyword search (the keyword index over a real catalogue holding every
   fixture paper), semantic only, reciprocal-rank fusion (k=60) and paperbot's hybrid (`bench/hybrid.py`).
3. Fusion — a small grid on the TUNING split only (weighted shares, RRF k and weight), best of each family,
   and the chosen weights on the reporting split.
4. Vector store — `bench/vector_scale.py` at each --papers size (synthetic vectors), against exact numpy.

Then the issue-11 targets, met or not. Writes the same as JSON to bench/results/semantic-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import bot.semantic
from bench.hybrid import DEPTH, open_hybrid
from bench.relevance import FORMS, KnownItem, load_set, mrr
from bot.semantic import OnnxEmbedder, document_text
from bot.semantic.fusion import FusionWeights, fuse, reciprocal_rank_fusion

HERE = Path(__file__).resolve().parent
# The keyword-only bot's serving peak RSS at 1M papers (`python -m bench --papers 1000000`, README "Benchmarks").
KEYWORD_BOT_RSS_MB = 178
SPLITS = ("tuning", "reporting")
_MODEL_PACKAGES = (
    "onnxruntime",
    "tokenizers",
    "huggingface-hub",
    "hf-xet",
    "flatbuffers",
    "protobuf",
)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _installed_mb(packages: tuple[str, ...]) -> float:
    total = 0
    for name in packages:
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        for file in distribution.files or ():
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def measure_model(papers: list[Any], queries: list[str]) -> tuple[dict[str, float], OnnxEmbedder, np.ndarray]:
    """The shipped model, live."""
    before = _rss_mb()
    embedder = OnnxEmbedder()
    started = time.perf_counter()
    embedder.load()
    figures = {"load_s": time.perf_counter() - started}
    # Wall time and the calling thread's CPU time: with one intra-op thread onnxruntime computes on the caller's
    # thread, so CPU time is what the model costs on a free core, whatever else the machine is running.
    latencies, cpu = [], []
    for query in queries:
        started, started_cpu = time.perf_counter(), time.thread_time()
        embedder.embed_query(query)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    figures["query_p50_ms"], figures["query_p95_ms"] = _percentiles(latencies)
    figures["query_cpu_p50_ms"], figures["query_cpu_p95_ms"] = _percentiles(cpu)
    texts = [document_text(p.title, p.abstract) for p in papers]
    started, started_cpu = time.perf_counter(), time.thread_time()
    vectors = embedder.embed_documents(texts)
    figures["docs_per_s"] = len(papers) / (time.perf_counter() - started)
    figures["docs_per_cpu_s"] = len(papers) / (time.thread_time() - started_cpu)
    figures["hours_to_embed_1m"] = 1_000_000 / figures["docs_per_cpu_s"] / 3600
    figures["rss_added_mb"] = _rss_mb() - before
    bundled = Path(bot.semantic.__file__).parent / "model"
    figures["install_mb"] = _installed_mb(_MODEL_PACKAGES) + sum(f.stat().st_size for f in bundled.iterdir()) / 1e6
    return figures, embedder, vectors


async def relevance(embedder: OnnxEmbedder, vectors: np.ndarray) -> dict[str, Any]:
    """Every system's MRR@10 per form and split, and the fusion grid on the tuning split."""
    with tempfile.TemporaryDirectory(prefix="paperbot-semantic-") as tmp:
        async with open_hybrid(Path(tmp), embedder, vectors) as search:
            items = {form: load_set(form) for form in FORMS}
            rankings = {form: {i.query: await search.rank(i.query) for i in items[form]} for form in FORMS}
            table: dict[str, dict[str, float]] = {}
            for form in FORMS:
                for split in SPLITS:
                    chosen = [i for i in items[form] if i.split == split]
                    table[f"{form}/{split}"] = {
                        system: mrr(chosen, {q: getattr(r, system) for q, r in rankings[form].items()})
                        for system in ("baseline", "semantic", "rrf", "hybrid")
                    }
            # Fusion grid: keyword and semantic inputs computed once per query, fused many ways.
            inputs = {}
            for item in items["paraphrase"] + items["keyword"]:
                keyword = await search.service.search(item.query, limit=DEPTH, mode="keyword")
                semantic = await search.semantic_pairs(item.query)
                inputs[item.query] = ([p.id for p in keyword.papers], keyword.matched, semantic)
            grid = fusion_grid(items, inputs)
            return {"table": table, "grid": grid}


def fusion_grid(items: dict[str, list[KnownItem]], inputs: dict[str, Any]) -> dict[str, Any]:
    """Best weighted and best RRF settings on the tuning split; both then scored on reporting."""

    def scores(rank: Any, split: str) -> tuple[float, float]:
        return tuple(  # type: ignore[return-value]
            mrr(
                [i for i in items[form] if i.split == split],
                {q: rank(*inputs[q]) for q in (i.query for i in items[form])},
            )
            for form in ("paraphrase", "keyword")
        )

    weighted = []
    for share_all, share_any, decay in itertools.product((0.5, 0.7, 0.9), (0.1, 0.2, 0.3, 0.4, 0.5), (0.8, 0.9, 0.95)):
        weights = FusionWeights(keyword_share_all=share_all, keyword_share_any=share_any, keyword_decay=decay)

        def rank(
            keyword: list[str], matched: Any, semantic: list[tuple[str, float]], w: FusionWeights = weights
        ) -> list[str]:
            return fuse(keyword, matched, semantic, weights=w)

        weighted.append((scores(rank, "tuning"), weights, rank))
    rrf = []
    for k, semantic_weight in itertools.product((5, 10, 20, 60), (1.0, 2.0, 3.0)):

        def rank_rrf(
            keyword: list[str], _m: Any, semantic: list[tuple[str, float]], k: int = k, w: float = semantic_weight
        ) -> list[str]:
            return reciprocal_rank_fusion([keyword, [i for i, _s in semantic]], k=k, weights=[1.0, w])

        rrf.append((scores(rank_rrf, "tuning"), f"k={k} semantic weight={semantic_weight}", rank_rrf))
    # Best paraphrase score among settings that keep keyword queries at ≥ 0.99 on tuning.
    best_weighted = max(weighted, key=lambda r: (r[0][1] >= 0.99, r[0][0]))
    best_rrf = max(rrf, key=lambda r: (r[0][1] >= 0.99, r[0][0]))
    chosen = next(r for r in weighted if r[1] == FusionWeights())
    return {
        "weighted_best": {
            "settings": repr(best_weighted[1]),
            "tuning": best_weighted[0],
            "reporting": scores(best_weighted[2], "reporting"),
        },
        "rrf_best": {"settings": best_rrf[1], "tuning": best_rrf[0], "reporting": scores(best_rrf[2], "reporting")},
        "chosen": {"settings": repr(FusionWeights()), "tuning": chosen[0], "reporting": scores(chosen[2], "reporting")},
    }


def vector_scale(sizes: list[int]) -> list[dict[str, Any]]:
    results = []
    for n in sizes:
        run = subprocess.run(
            [sys.executable, "-m", "bench.vector_scale", str(n)], capture_output=True, text=True, check=True
        )
        results.append(json.loads(run.stdout.strip().splitlines()[-1]))
    return results


def render(model: dict[str, float], quality: dict[str, Any], scale: list[dict[str, Any]]) -> str:
    lines = ["", "== 1. Embedding model (shipped, measured now; candidates recorded) =="]
    lines.append(
        f"{'model':62} {'para MRR sem/hyb (rep)':>22} {'docs/s':>8} {'q p50/p95 ms':>13} {'install MB':>10}"
        f" {'RSS MB':>7}"
    )
    para = quality["table"]["paraphrase/reporting"]
    lines.append(
        f"{'shipped: all-MiniLM-L6-v2 int8, onnxruntime (live)':62} {para['semantic']:>10.3f}/{para['hybrid']:<11.3f}"
        f" {model['docs_per_s']:>8.1f} {model['query_p50_ms']:>6.1f}/{model['query_p95_ms']:<6.1f}"
        f" {model['install_mb']:>10.0f} {model['rss_added_mb']:>7.0f}"
    )
    recorded = json.loads((HERE / "data" / "model_candidates.json").read_text())["candidates"]
    for row in recorded:

        def f(v: Any, fmt: str) -> str:
            return "—" if v is None else format(v, fmt)

        lines.append(
            f"{row['model'][:62]:62} {f(row['semantic_reporting'], '.3f'):>10}/{f(row['hybrid_reporting'], '.3f'):<11}"
            f" {f(row['docs_per_s'], '.1f'):>8}"
            f" {f(row['query_p50_ms'], '.1f'):>6}/{f(row['query_p95_ms'], '.1f'):<6}"
            f" {f(row['install_mb'], '.0f'):>10} {f(row['rss_added_mb'], '.0f'):>7}"
        )
    lines.append(
        f"time to embed 1M papers at {model['docs_per_s']:.1f} docs/s (one core): {model['hours_to_embed_1m']:.1f} h"
    )
    lines += ["", "== 2. Relevance, MRR@10 (fixture catalogue, every paper competing) =="]
    lines.append(f"{'set/split':22} {'keyword today':>13} {'semantic':>9} {'RRF k=60':>9} {'hybrid':>8}")
    for key, row in quality["table"].items():
        lines.append(
            f"{key:22} {row['baseline']:>13.3f} {row['semantic']:>9.3f} {row['rrf']:>9.3f} {row['hybrid']:>8.3f}"
        )
    lines += ["", "== 3. Fusion, chosen on the tuning split (paraphrase, keyword MRR@10) =="]
    for name, row in quality["grid"].items():
        lines.append(
            f"{name:14} {row['settings'][:90]:90} tuning {row['tuning'][0]:.3f}/{row['tuning'][1]:.3f}  reporting"
            f" {row['reporting'][0]:.3f}/{row['reporting'][1]:.3f}"
        )
    lines += ["", "== 4. Vector store (synthetic 384-dim vectors), against exact numpy =="]
    lines.append(
        f"{'papers':>9} {'fill s':>7} {'MB disk':>8} {'search p50/p95 ms':>18} {'CPU p50/p95 ms':>15}"
        f" {'recall@10 i8/f32':>17}"
        f" {'reader RSS MB':>13} {'numpy f32 p50':>13} {'numpy i8 p50':>12}"
    )
    for row in scale:
        lines.append(
            f"{row['papers']:>9} {row['fill_s']:>7.1f} {row['folder_mb']:>8.0f}"
            f" {row['search_p50_ms']:>8.1f}/{row['search_p95_ms']:<9.1f}"
            f" {row['search_cpu_p50_ms']:>7.1f}/{row['search_cpu_p95_ms']:<7.1f}"
            f" {row['recall_at_10_vs_exact_int8']:>8.2f}/{row['recall_at_10_vs_exact_float32']:<8.2f}"
            f" {row['reader_rss_after_queries_mb']:>13.0f}"
            f" {row['numpy_float32_p50_ms']:>13.1f} {row['numpy_int8_chunked_p50_ms']:>12.1f}"
        )
    lines += ["", "== Targets (issue 11) =="]
    table = quality["table"]
    biggest = scale[-1] if scale else None
    checks = [
        (
            "paraphrase MRR@10 ≥ 0.80 (hybrid, reporting)",
            table["paraphrase/reporting"]["hybrid"] >= 0.80,
            f"{table['paraphrase/reporting']['hybrid']:.3f}",
        ),
        (
            "keyword MRR@10 ≥ 0.95 (hybrid, reporting)",
            table["keyword/reporting"]["hybrid"] >= 0.95,
            f"{table['keyword/reporting']['hybrid']:.3f}",
        ),
        (
            "one-typo MRR@10 ≥ 0.95 (hybrid, reporting)",
            table["typo/reporting"]["hybrid"] >= 0.95,
            f"{table['typo/reporting']['hybrid']:.3f}",
        ),
        (
            "query embedding p95 ≤ 15 ms (CPU time; wall time in the table)",
            model["query_cpu_p95_ms"] <= 15,
            f"{model['query_cpu_p95_ms']:.1f} ms CPU, {model['query_p95_ms']:.1f} ms wall",
        ),
    ]
    if biggest is not None:
        semantic_path = model["query_cpu_p95_ms"] + biggest["search_cpu_p95_ms"]
        checks.append(
            (
                f"semantic path p95 at {biggest['papers']:,} (CPU: embed + vector search, beside keyword's)",
                semantic_path <= 80,
                f"{semantic_path:.1f} ms",
            )
        )
        serving = model["rss_added_mb"] + biggest["reader_rss_after_queries_mb"] + KEYWORD_BOT_RSS_MB
        checks.append(
            (
                f"serving RSS at {biggest['papers']:,} ≤ 400 MB (keyword-only bot {KEYWORD_BOT_RSS_MB} MB"
                " + model + vectors)",
                serving <= 400,
                f"{serving:.0f} MB",
            )
        )
    for label, ok, value in checks:
        lines.append(f"  {'met ' if ok else 'NO  '} {label}: {value}")
    lines.append(
        f"(1-minute load average now {os.getloadavg()[0]:.1f} on"
        f" {os.cpu_count()} cores: figures taken beside other work are pessimistic)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", default="100000,1000000", help="vector store sizes, comma-separated")
    parser.add_argument("--skip-scale", action="store_true", help="skip the vector store table")
    args = parser.parse_args()
    from bench.fixture_papers import load_corpus

    papers = load_corpus().papers
    ordered = [papers[i] for i in sorted(papers)]
    queries = sorted({i.query for form in FORMS for i in load_set(form)})
    model, embedder, vectors = measure_model(ordered, queries)
    quality = asyncio.run(relevance(embedder, vectors))
    scale = [] if args.skip_scale else vector_scale([int(n) for n in args.papers.split(",") if n])
    print(render(model, quality, scale))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    (results / f"semantic-{stamp}.json").write_text(
        json.dumps({"model": model, "quality": quality, "scale": scale}, indent=1, default=str)
    )


if __name__ == "__main__":
    main()
