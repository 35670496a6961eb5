"""`python -m bench.vector_scale N`: paperbot's vector store at N papers against exact numpy baselines.

Synthetic vectors (speed and memory only; quality is measured on real papers in bench/semantic.py): 384-dim
unit vectors around 2,000 topic centres plus a shared offset, like sentence embeddings (which cluster by topic
and share a common direction). Queries are perturbed copies of stored papers.

Phases, each figure from this one run:
  fill     — N vectors upserted in commits of 100k (as the background embedding job commits), with the
             compactions those commits trigger; time and folder size.
  serve    — a fresh *reader process* opens the folder and answers 200 queries: search p50/p95 (top 10), and
             its RSS growth from opening and from the queries (what the vectors cost a serving bot).
  recall   — top-10 overlap with an exact scan of the same int8 vectors, and with exact float32.
  baseline — exact top-10 in plain numpy on the same machine: float32 matrix product (N×384×4 bytes in RAM),
             and int8 rows up-cast in chunks (the "exact over int8" design).
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.semantic.quantize import dequantize, quantize
from bot.semantic.vector_store import VectorStore

DIM = 384
COMMIT = 100_000


def synthetic_chunks(n: int, seed: int = 0, chunk: int = 100_000) -> Iterator[npt.NDArray[np.float32]]:
    """`synthetic(n, seed)` in consecutive pieces of `chunk` rows (the same vectors, a chunk's memory)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (2000, DIM)).astype(np.float32)
    centres = 0.9 * centres / np.linalg.norm(centres, axis=1, keepdims=True)
    offset = (rng.normal(0, 1, DIM) * 0.02).astype(np.float32)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        v = centres[rng.integers(0, 2000, m)] + rng.normal(0, 0.045, (m, DIM)).astype(np.float32) + offset
        unit: npt.NDArray[np.float32] = v / np.linalg.norm(v, axis=1, keepdims=True)
        yield unit


def synthetic(n: int, seed: int = 0) -> npt.NDArray[np.float32]:
    """n clustered unit vectors (deterministic for a seed and n)."""
    out = np.empty((n, DIM), dtype=np.float32)
    start = 0
    for block in synthetic_chunks(n, seed):
        out[start : start + len(block)] = block
        start += len(block)
    return out


def queries(vectors: npt.NDArray[np.float32], count: int, seed: int = 1) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    q = vectors[rng.integers(0, len(vectors), count)] + rng.normal(0, 0.03, (count, DIM)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


def fill(folder: Path, n: int) -> dict[str, float]:
    vectors = synthetic(n)
    started = time.perf_counter()
    with VectorStore.open(folder, model="synthetic", dim=DIM, writable=True) as store:
        for start in range(0, n, COMMIT):
            ids = [f"{i:07d}" for i in range(start, min(n, start + COMMIT))]
            store.upsert(ids, vectors[start : start + len(ids)])
            store.commit()
        store.compact()
    seconds = time.perf_counter() - started
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return {"fill_s": seconds, "folder_mb": size / 1e6}


def serve(folder: Path, queries_file: Path) -> dict[str, object]:
    """Runs in its own process, holding nothing but the store: the RSS figures are a reader's own."""
    qs = np.load(queries_file)
    before_open = rss_mb()
    started = time.perf_counter()
    store = VectorStore.open(folder, model="synthetic", dim=DIM)
    open_s = time.perf_counter() - started
    after_open = rss_mb()
    latencies, cpu = [], []
    found = []
    for q in qs:
        t, c = time.perf_counter(), time.thread_time()
        hits = store.search(q, 10)
        latencies.append((time.perf_counter() - t) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
        found.append([int(i) for i, _s in hits])
    after_queries = rss_mb()
    p50, p95 = percentiles(latencies)
    cpu50, cpu95 = percentiles(cpu)
    return {
        "search_cpu_p50_ms": cpu50,
        "search_cpu_p95_ms": cpu95,
        "open_s": open_s,
        "search_p50_ms": p50,
        "search_p95_ms": p95,
        "reader_rss_after_open_mb": after_open - before_open,
        "reader_rss_after_queries_mb": after_queries - before_open,
        "found": found,
    }


def baselines(n: int) -> dict[str, float]:
    vectors = synthetic(n)
    qs = queries(vectors, 30)
    float_lat = []
    for q in qs:
        t = time.perf_counter()
        np.argpartition(-(vectors @ q), 10)[:10]
        float_lat.append((time.perf_counter() - t) * 1000)
    rows = quantize(vectors)
    del vectors
    int8_lat = []
    for q in qs[:10]:
        t = time.perf_counter()
        best: list[tuple[float, int]] = []
        for start in range(0, n, 65_536):
            scores = rows[start : start + 65_536].astype(np.float32) @ q
            top = np.argpartition(-scores, 10)[:10]
            best.extend(zip(scores[top].tolist(), (top + start).tolist(), strict=True))
        sorted(best, reverse=True)[:10]
        int8_lat.append((time.perf_counter() - t) * 1000)
    f50, f95 = percentiles(float_lat)
    i50, i95 = percentiles(int8_lat)
    return {
        "numpy_float32_p50_ms": f50,
        "numpy_float32_p95_ms": f95,
        "numpy_float32_mb": n * DIM * 4 / 1e6,
        "numpy_int8_chunked_p50_ms": i50,
        "numpy_int8_chunked_p95_ms": i95,
    }


def main() -> None:
    n = int(sys.argv[1])
    if len(sys.argv) > 4 and sys.argv[2] == "--serve":
        print(json.dumps(serve(Path(sys.argv[3]), Path(sys.argv[4]))))
        return
    folder = Path(tempfile.mkdtemp(prefix="paperbot-vectors-"))
    try:
        result: dict[str, object] = {"papers": n, "load_avg_1m": os.getloadavg()[0]}
        result.update(fill(folder, n))
        vectors = synthetic(n)
        qs = queries(vectors, 200)
        np.save(folder.parent / f"{folder.name}-queries.npy", qs)
        served = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.vector_scale",
                str(n),
                "--serve",
                str(folder),
                str(folder.parent / f"{folder.name}-queries.npy"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        serving = json.loads(served.stdout)
        found = serving.pop("found")
        result.update(serving)
        stored = dequantize(quantize(vectors))
        recall_i8, recall_f32 = [], []
        for q, hits in list(zip(qs, found, strict=True))[:40]:
            exact_i8 = np.argsort(-(stored @ dequantize(quantize(q[None]))[0]))[:10].tolist()
            exact_f32 = np.argsort(-(vectors @ q))[:10].tolist()
            recall_i8.append(len(set(exact_i8) & set(hits)) / 10)
            recall_f32.append(len(set(exact_f32) & set(hits)) / 10)
        result["recall_at_10_vs_exact_int8"] = float(np.mean(recall_i8))
        result["recall_at_10_vs_exact_float32"] = float(np.mean(recall_f32))
        del vectors, stored
        result.update(baselines(n))
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(json.dumps(result))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        (folder.parent / f"{folder.name}-queries.npy").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
