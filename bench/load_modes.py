"""Issue 11 through the real bot: slash commands while it embeds in the background, and the round trip.

Both scenarios run `python -m bot run` (hybrid mode, the default) against the loopback fake Discord on a copy of
the load benchmark's catalogue (`bench.load`), with its keyword index built beforehand and a vector view of
synthetic vectors (`bench.serve_hybrid.fill_vectors`: the vectors' content does not matter for speed, and
embedding 50,000 real papers first would take half an hour):

* **embedding vs idle** — the same burst (`bench._load_world.burst`) twice per round, in ABBA order so drift in
  the machine's load falls on both: *idle*, every paper has a vector (nothing to do in the background);
  *embedding*, the first `backlog` papers have none, so the bot's background job embeds them with the real
  model during the burst, exactly as after a bulk import. Reports both latency distributions, the ratio of
  their p95s (target ≤ 2), the bot's CPU seconds during each burst and how many papers it embedded.
* **embedding rate** — the shipped model embedding real catalogue texts the way the background job does
  (`VectorView`'s batch size), alone in this process: documents per wall second and per CPU second, and the
  time 1M papers would take.
* **round trip** — one interaction at a time (no queueing), alternating a bare reply (`/paper search` with a
  blank query, answered at once with a friendly line before any search) and a real `/paper search` in hybrid
  mode: p50/p95 of the time until the user sees the answer, and the difference of the p95s (target ≤ 25 ms).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench._load_world import Command, Outcome, burst, distribution, one_by_one, plan_commands, sample_papers, serving
from bench.phases import index_directory
from bench.serve_hybrid import fill_vectors, vector_count
from bot.catalogue import open_catalogue
from bot.search import open_search
from bot.search.vector_view import EMBED_BATCH
from bot.semantic import OnnxEmbedder, document_text

MODES = ("idle", "embedding")
RATE_DOCS = 240
SETTLE_S = 8.0  # seconds between the bot being ready and the burst, in both modes


async def build_keyword_index(db: Path) -> None:
    """The keyword view beside `db`, built once (a copied catalogue keeps its identity, so copies trust it)."""
    catalogue = await open_catalogue(db)
    async with catalogue, open_search(catalogue, index_directory(db), role="cli", mode="keyword") as search:
        await search.sync()


def copy_world(template: Path, folder: Path) -> Path:
    """A copy of the template catalogue and its keyword index (not its vectors) in `folder`."""
    db = folder / "papers.db"
    shutil.copyfile(template, db)
    source, target = index_directory(template), index_directory(db)
    target.mkdir()
    for entry in source.iterdir():
        if entry.name.startswith("keyword"):
            if entry.is_dir():
                shutil.copytree(entry, target / entry.name)
            else:
                shutil.copyfile(entry, target / entry.name)
    return db


def _summary(outcomes: list[Outcome]) -> dict[str, Any]:
    answered = [o.answered_s for o in outcomes if o.answered_s is not None]
    first = [o.first_response_s for o in outcomes if o.first_response_s is not None]
    return {
        "interactions": len(outcomes),
        "answered": len(answered),
        "lost": sum(o.error is not None for o in outcomes),
        "late": sum(o.first_response_s is not None and o.first_response_s > 3.0 for o in outcomes),
        "throttled": sum(o.throttled for o in outcomes),
        "answered_s": distribution(answered),
        "first_response_s": distribution(first),
    }


async def embedding_burst(
    template: Path,
    mode: str,
    *,
    papers: int,
    interactions: int,
    burst_seconds: float,
    backlog: int,
    seed: int,
    answer_timeout: float,
    settle_seconds: float = SETTLE_S,
) -> dict[str, Any]:
    """One burst with the bot idle (every paper has a vector) or embedding `backlog` papers meanwhile.

    The burst starts `settle_seconds` after the bot is ready, in both modes: the background job needs that long
    to load the model and get going (without it a 2.5 s burst on a busy machine can end before the first
    document is embedded, and the comparison measures nothing). The bot's CPU seconds over the settle period
    are reported, so a run shows whether the job was running when the burst began."""
    with tempfile.TemporaryDirectory(prefix="paperbot-load-") as tmp:
        db = copy_world(template, Path(tmp))
        await asyncio.to_thread(fill_vectors, db, missing_first=backlog if mode == "embedding" else 0)
        before = await asyncio.to_thread(vector_count, db)
        rng = random.Random(seed)
        plan = plan_commands(interactions, await sample_papers(db, papers, rng), rng)
        load = [os.getloadavg()[0]]
        started = time.perf_counter()
        async with serving(db, members=interactions // 2) as session:
            settle_cpu_before = session.bot.cpu_seconds()
            await asyncio.sleep(settle_seconds)  # pacing: let the background job start (see the docstring)
            settle_cpu_after = session.bot.cpu_seconds()
            cpu_before, burst_started = session.bot.cpu_seconds(), time.perf_counter()
            outcomes = await burst(session, plan, burst_seconds, answer_timeout)
            burst_wall = time.perf_counter() - burst_started
            cpu_after = session.bot.cpu_seconds()
            peak_rss = session.bot.peak_rss_mb()
        lifetime = time.perf_counter() - started
        load.append(os.getloadavg()[0])
        after = await asyncio.to_thread(vector_count, db)  # the bot commits what it embedded when it stops
    cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
    settle_cpu = (
        settle_cpu_after - settle_cpu_before if settle_cpu_after is not None and settle_cpu_before is not None else None
    )
    return {
        "mode": mode,
        **_summary(outcomes),
        "burst_wall_s": burst_wall,
        "settle_s": settle_seconds,
        "settle_cpu_s": settle_cpu,
        "bot_cpu_s": cpu,
        "bot_peak_rss_mb": peak_rss,
        "embedded": after - before,
        "bot_lifetime_s": lifetime,
        "loadavg_1m": load,
    }


def embedding_rate(db: Path, docs: int = RATE_DOCS) -> dict[str, Any]:
    """The shipped model on real catalogue texts, batched like the background job, alone in this process."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT title, abstract FROM papers ORDER BY pk LIMIT ?", (docs,)).fetchall()
    finally:
        connection.close()
    texts = [document_text(title, abstract) for title, abstract in rows]
    embedder = OnnxEmbedder()
    embedder.load()
    embedder.embed_documents(texts[:EMBED_BATCH])  # warm
    load = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.thread_time()
    for start in range(0, len(texts), EMBED_BATCH):
        embedder.embed_documents(texts[start : start + EMBED_BATCH])
    wall, cpu = time.perf_counter() - started, time.thread_time() - cpu_started
    return {
        "docs": len(texts),
        "docs_per_s": len(texts) / wall,
        "docs_per_cpu_s": len(texts) / cpu,
        "hours_for_1m_wall": 1_000_000 / (len(texts) / wall) / 3600,
        "hours_for_1m_cpu": 1_000_000 / (len(texts) / cpu) / 3600,
        "loadavg_1m": load,
    }


async def compare_embedding(
    template: Path,
    *,
    papers: int,
    interactions: int,
    burst_seconds: float,
    backlog: int,
    rounds: int,
    seed: int,
    answer_timeout: float,
    settle_seconds: float = SETTLE_S,
) -> dict[str, Any]:
    """`rounds` × (idle, embedding) in ABBA order; the pooled distributions, the p95 ratio, the embedding rate."""
    runs: list[dict[str, Any]] = []
    for round_no in range(rounds):
        for mode in MODES if round_no % 2 == 0 else tuple(reversed(MODES)):
            runs.append(
                await embedding_burst(
                    template,
                    mode,
                    papers=papers,
                    interactions=interactions,
                    burst_seconds=burst_seconds,
                    backlog=backlog,
                    seed=seed + round_no,
                    answer_timeout=answer_timeout,
                    settle_seconds=settle_seconds,
                )
            )
    pooled: dict[str, Any] = {}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        pooled[mode] = {
            "answered_p95_s": statistics.median(r["answered_s"]["p95"] or 0.0 for r in mine),
            "first_response_p95_s": statistics.median(r["first_response_s"]["p95"] or 0.0 for r in mine),
            "bot_cpu_s": statistics.median(r["bot_cpu_s"] or 0.0 for r in mine),
            "embedded": sum(r["embedded"] for r in mine),
        }
    idle, busy = pooled["idle"]["answered_p95_s"], pooled["embedding"]["answered_p95_s"]
    rate = await asyncio.to_thread(embedding_rate, template)
    embedding_runs = [r for r in runs if r["mode"] == "embedding"]
    in_bot = sum(r["embedded"] for r in embedding_runs) / max(1e-9, sum(r["bot_lifetime_s"] for r in embedding_runs))
    return {
        "runs": runs,
        "pooled": pooled,
        "p95_ratio": busy / idle if idle else None,
        "rate": rate,
        "in_bot_docs_per_s": in_bot,
    }


async def round_trip(template: Path, *, papers: int, count: int, seed: int, answer_timeout: float) -> dict[str, Any]:
    """`count` bare replies and `count` hybrid searches, one at a time, alternating (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="paperbot-roundtrip-") as tmp:
        db = copy_world(template, Path(tmp))
        await asyncio.to_thread(fill_vectors, db)
        rng = random.Random(seed)
        stored = await sample_papers(db, papers, rng)
        plan: list[Command] = []
        for _ in range(count):
            words = rng.choice(stored)[1].lower().split()
            plan.append(("bare", "paper search", {"query": " "}))
            plan.append(("search", "paper search", {"query": " ".join(rng.sample(words, min(len(words), 2)))}))
        load = [os.getloadavg()[0]]
        async with serving(db, members=len(plan) + 10) as session:
            # Warm-up (model load, first index reads), on users the measured plan does not use.
            warm: list[Command] = [("search", "paper search", {"query": "language model"})] * 3
            await one_by_one(session, warm, answer_timeout, first_user=len(plan))
            outcomes = await one_by_one(session, plan, answer_timeout)
        load.append(os.getloadavg()[0])
    out: dict[str, Any] = {"count": count, "loadavg_1m": load}
    for kind in ("bare", "search"):
        mine = [o for o in outcomes if o.kind == kind]
        out[kind] = _summary(mine) | {"response_types": sorted({o.response_type or 0 for o in mine})}
    bare_p95, search_p95 = out["bare"]["answered_s"]["p95"], out["search"]["answered_s"]["p95"]
    out["p95_difference_s"] = search_p95 - bare_p95 if bare_p95 is not None and search_p95 is not None else None
    return out
