"""Hybrid search at scale (issue 11): the import phase's catalogue with a complete vector view, served by the
production `SearchService` in a fresh process.

Two phases, each in its own process (`python -m bench.serve_hybrid NAME ARGS`, run by `python -m bench`):

  vectors-fill  — gives every paper of `work/catalogue.db` a vector: synthetic clustered 384-dim unit vectors
                  (`bench.vector_scale.synthetic`: speed and memory only, quality is measured on real papers
                  in `bench.semantic`), written through `VectorStore` into a new generation of the index
                  folder's vector view, with its cursor at the log's end, marked complete and made current —
                  exactly the state the bot's background embedding leaves once it has finished. Cached: a
                  current, complete generation with every paper is reused.
  serve-hybrid  — opens the catalogue and `open_search(..., role="bot", mode="hybrid")` as the bot does, then
                  times the query set (`bench.queries`) in hybrid, keyword and semantic mode through
                  `SearchService.search` (the `/paper search` path), the query embedding alone, and reports the
                  process's peak RSS (model and vectors loaded) and its CPU seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import phases
from bench.queries import QUERIES
from bench.vector_scale import synthetic_chunks
from bot.catalogue import open_catalogue
from bot.search import open_search
from bot.search.folder import ViewFolder, ViewState
from bot.search.vector_view import NAME as VECTORS
from bot.search.vector_view import VECTORS_FORMAT
from bot.semantic import OnnxEmbedder, VectorStore

DIM = 384
FILL_COMMIT = 100_000
MODES = ("hybrid", "keyword", "semantic")


def _catalogue_facts(db: Path) -> tuple[str, int, list[str]]:
    """(identity, last change-log entry, every paper id in key order), read directly: 1M `Paper` objects
    through the catalogue API would take longer than the fill itself."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        identity = connection.execute("SELECT value FROM meta WHERE key = 'catalogue_id'").fetchone()[0]
        last_seq = connection.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
        ids = [row[0] for row in connection.execute("SELECT id FROM papers ORDER BY pk")]
    finally:
        connection.close()
    return str(identity), int(last_seq), ids


def fill_vectors(db: Path, *, missing_first: int = 0) -> dict[str, Any]:
    """Make a new generation of synthetic paper vectors current for the catalogue at `db` (see the module
    docstring); `missing_first` papers (in key order, where the bot's backfill starts) get none, and then the
    generation is not marked complete: the bot embeds them in the background, as after an import."""
    folder = ViewFolder(phases.index_directory(db), VECTORS)
    model = OnnxEmbedder().name
    identity, last_seq, ids = _catalogue_facts(db)
    state = folder.state()
    started = time.perf_counter()
    generation = (state.generation if state else 0) + 1
    folder.remove_generations(keep=set())
    wanted = ids[missing_first:]
    with VectorStore.open(folder.generation_dir(generation), model=model, dim=DIM, writable=True) as store:
        start = 0
        for vectors in synthetic_chunks(len(wanted), chunk=FILL_COMMIT):
            store.upsert(wanted[start : start + len(vectors)], vectors)
            store.commit()
            start += len(vectors)
        store.compact()
        count = store.count
    folder.save_cursor(generation, last_seq)
    if not missing_first:
        folder.root.joinpath(f"{VECTORS}-{generation}.complete").touch()
    folder.switch_to(ViewState(generation, VECTORS_FORMAT, model, identity))
    size = sum(p.stat().st_size for p in folder.generation_dir(generation).iterdir() if p.is_file())
    return {"papers": len(ids), "vectors": count, "seconds": time.perf_counter() - started, "folder_bytes": size}


def vector_count(db: Path) -> int:
    """Papers with a vector in the current generation beside `db` (0 when there is none)."""
    folder = ViewFolder(phases.index_directory(db), VECTORS)
    state = folder.state()
    if state is None:
        return 0
    with VectorStore.open(folder.generation_dir(state.generation), model=state.engine, dim=DIM) as store:
        return store.count


def phase_vectors_fill(args: dict[str, Any]) -> dict[str, Any]:
    """Make a complete vector view current for the catalogue in `work` (reused when one already is)."""
    db = Path(args["work"]) / "catalogue.db"
    folder = ViewFolder(phases.index_directory(db), VECTORS)
    identity, last_seq, ids = _catalogue_facts(db)
    state = folder.state()
    if (
        state is not None
        and state == ViewState(state.generation, VECTORS_FORMAT, OnnxEmbedder().name, identity)
        and folder.cursor(state.generation) == last_seq
        and folder.root.joinpath(f"{VECTORS}-{state.generation}.complete").exists()
        and vector_count(db) == len(ids)
    ):
        return {"papers": len(ids), "vectors": len(ids), "cached": True, "seconds": 0.0, **phases._memory()}
    return {**fill_vectors(db), "cached": False, **phases._memory()}


def _time_embedding(embed: Callable[[str], Any], reps: int) -> dict[str, Any]:
    """Query embedding alone, wall and CPU (this thread's), over the query set's texts."""
    texts = [text for _cls, text in QUERIES]
    for text in texts:
        embed(text)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(reps):
        for text in texts:
            started, thread_started = time.perf_counter(), time.thread_time()
            embed(text)
            wall.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - thread_started)
    return {"wall": phases._percentiles(wall), "cpu": phases._percentiles(cpu)}


def phase_serve_hybrid(args: dict[str, Any]) -> dict[str, Any]:
    """The `/paper search` path in each mode, with a complete vector view (see the module docstring)."""
    db = Path(args["work"]) / "catalogue.db"
    reps = int(args["reps"])

    async def run() -> dict[str, Any]:
        catalogue = await open_catalogue(db)
        async with catalogue, open_search(catalogue, phases.index_directory(db), role="bot", mode="hybrid") as search:
            out: dict[str, Any] = {}
            cpu_started = time.process_time()
            for mode in MODES:
                out[mode] = await phases._time_async(
                    lambda q, m=mode: search.search(q, limit=10, mode=m),  # type: ignore[misc]
                    QUERIES,
                    reps,
                )
            out["search_cpu_seconds"] = time.process_time() - cpu_started
            page = await search.search("language models", limit=10)
            out["embedded"] = await search.embedded()
            out["hybrid_ranked_by"] = page.ranked_by
            out["hybrid_hits"] = len(page.papers)
            assert search.vectors is not None
            out["embed_query"] = await asyncio.to_thread(_time_embedding, search.vectors.embedder.embed_query, reps)
        return out

    return {**asyncio.run(run()), **phases._memory()}


PHASES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "vectors-fill": phase_vectors_fill,
    "serve-hybrid": phase_serve_hybrid,
}


def main(argv: list[str]) -> None:
    """Run one phase: `python -m bench.serve_hybrid NAME '{json args}'` (one JSON line on stdout)."""
    name, raw = argv[0], argv[1]
    phases._SAMPLER = phases._RssSampler()
    result = PHASES[name](json.loads(raw))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
