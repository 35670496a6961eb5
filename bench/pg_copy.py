"""`python -m bench.pg_copy --rows 1000000`: asyncpg against psycopg 3 (async) for the PostgreSQL catalogue.

Starts its own throwaway PostgreSQL (`tests/postgres_server.py`, the same server the tests use), loads the
same synthetic arXiv snapshot the main benchmark uses (`bench/corpus.py`, cached in `bench/.cache/`) with each
driver, and in the same run imports it into SQLite through the public `bot.importer.import_snapshot` as the
baseline. Prints one table:

* **import**: snapshot → papers, parsing overlapped with writing exactly as the importer does (the next batch
  is parsed in a worker thread while the previous one is written). Each batch: COPY into a temp staging table,
  then one `INSERT … SELECT … ON CONFLICT (id) DO UPDATE … WHERE <values differ>` with the catalogue's merge
  rule (arXiv owns title/abstract/authors/date/categories, a NULL never erases a value, an unchanged row is not
  rewritten), whose changed ids go into a change log table in the same statement — the design issue 9 asks
  for. Then the same file again: nothing may change (checked), which times the "all unchanged" path.
* **lookups**: a paper by id (`SELECT * … WHERE id = $1`, the abstract command) and a 10-row query, one
  connection, sequential, warm; p50/p95 in µs. SQLite's figure is `Catalogue.get` in the same run.
* **pool**: 16 tasks sharing a pool of 4 connections, 4,000 lookups: throughput and p95.
* **LISTEN/NOTIFY**: commit of a change-log row with `pg_notify` → the listening connection's wake-up.
* **install**: the installed size of each driver's distributions (files on disk, no bytecode caches).

The numbers and the choice are written up in `bench/postgres_driver.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.metadata
import importlib.util
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.corpus import ensure_snapshot, paper_id
from bot.catalogue import open_catalogue
from bot.importer import import_snapshot
from bot.models import Paper
from bot.sources.arxiv_snapshot import BadLine, SnapshotReader
from tests.postgres_server import ThrowawayPostgres, running, with_database

HERE = Path(__file__).resolve().parent
SEED = 20260101  # the main benchmark's corpus seed: the cached snapshot is shared

SCHEMA = """
CREATE TABLE papers (
    pk            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            text NOT NULL UNIQUE,
    title         text NOT NULL,
    title_key     text NOT NULL,
    abstract      text,
    authors       text,
    published     date,
    upvotes       integer,
    num_comments  integer,
    github_repo   text,
    github_stars  integer,
    project_page  text,
    organization  text,
    thumbnail     text,
    ai_summary    text,
    ai_keywords   text,
    withdrawn     boolean,
    categories    text,
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL
);
CREATE INDEX papers_title_key ON papers (title_key);
CREATE INDEX papers_upvotes ON papers (upvotes DESC, id);
CREATE INDEX papers_published ON papers (published DESC, id);
CREATE TABLE changes (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    paper_id  text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
"""
STAGING_COLUMNS = ("id", "title", "title_key", "abstract", "authors", "published", "categories")
STAGING_TYPES = ("text", "text", "text", "text", "text", "date", "text")
STAGING = (
    "CREATE TEMP TABLE staging (id text, title text, title_key text, abstract text, authors text, "
    "published date, categories text) ON COMMIT DELETE ROWS"
)
# The merge rule of bot/catalogue/_bulk.py, in PostgreSQL: IS DISTINCT FROM is SQLite's IS NOT.
MERGE = """
WITH changed AS (
    INSERT INTO papers AS p (id, title, title_key, abstract, authors, published, categories, first_seen, last_seen)
    SELECT id, title, title_key, abstract, authors, published, categories, {seen}, {seen} FROM staging
    ON CONFLICT (id) DO UPDATE SET
        title = excluded.title,
        title_key = excluded.title_key,
        abstract = coalesce(excluded.abstract, p.abstract),
        authors = coalesce(excluded.authors, p.authors),
        published = coalesce(excluded.published, p.published),
        categories = coalesce(excluded.categories, p.categories),
        last_seen = excluded.last_seen
    WHERE excluded.title IS DISTINCT FROM p.title
        OR coalesce(excluded.abstract, p.abstract) IS DISTINCT FROM p.abstract
        OR coalesce(excluded.authors, p.authors) IS DISTINCT FROM p.authors
        OR coalesce(excluded.published, p.published) IS DISTINCT FROM p.published
        OR coalesce(excluded.categories, p.categories) IS DISTINCT FROM p.categories
    RETURNING p.id
)
INSERT INTO changes (paper_id) SELECT id FROM changed
"""
LOOKUP = "SELECT * FROM papers WHERE id = {0}"
NEWEST = "SELECT id, title, published FROM papers ORDER BY published DESC, id LIMIT 10"
NOTIFY = (
    "WITH c AS (INSERT INTO changes (paper_id) VALUES ({0}) RETURNING seq)\n"
    "SELECT pg_notify('changes', seq::text) FROM c"
)

Row = tuple[str, str, str, str | None, str | None, dt.date | None, str | None]


# ------------------------------------------------------------------------------------------ snapshot → rows


def _json_list(values: Sequence[str] | None) -> str | None:
    return json.dumps(list(values), ensure_ascii=False) if values else None


def to_row(paper: Paper) -> Row:
    """The staging row for one arXiv paper: the same normalisation as the SQLite bulk import."""
    title = " ".join(paper.title.split())
    return (
        paper.id,
        title,
        title.casefold(),
        paper.abstract,
        _json_list(paper.authors),
        paper.published,
        _json_list(paper.categories),
    )


class Batches:
    """The snapshot cut into row batches, deduplicated by id (ON CONFLICT may touch a row once per statement)."""

    def __init__(self, path: Path, size: int) -> None:
        self._reader = SnapshotReader(path)
        self._items = iter(self._reader)
        self._size = size

    def next(self) -> list[Row]:
        rows: dict[str, Row] = {}
        for item in self._items:
            if not isinstance(item, BadLine):
                rows[item.id] = to_row(item)
                if len(rows) >= self._size:
                    break
        return list(rows.values())

    def close(self) -> None:
        self._reader.close()


async def pipelined(path: Path, size: int, write: Callable[[list[Row]], Awaitable[int]]) -> tuple[int, int]:
    """Parse batch n+1 in a thread while batch n is written, as bot/importer.py does. Returns (rows, changed)."""
    batches = Batches(path, size)
    rows = changed = 0
    try:
        batch = await asyncio.to_thread(batches.next)
        while batch:
            writing = asyncio.ensure_future(write(batch))
            following = await asyncio.to_thread(batches.next)
            changed += await writing
            rows += len(batch)
            batch = following
    finally:
        batches.close()
    return rows, changed


# ------------------------------------------------------------------------------------------ the drivers


class Driver(Protocol):
    name: str

    async def open(self, url: str) -> None: ...
    def backend_pid(self) -> int: ...
    async def close(self) -> None: ...
    async def execute(self, sql: str) -> None: ...
    async def load(self, rows: list[Row], seen: dt.datetime) -> int: ...
    async def lookup(self, paper: str) -> object: ...
    async def newest(self) -> list[Any]: ...
    async def pool_lookups(self, url: str, ids: list[str], tasks: int, size: int) -> list[float]: ...
    async def notify_latencies(self, url: str, count: int) -> list[float]: ...


def _count(status: str) -> int:
    """Rows affected, from a command status such as 'INSERT 0 42'."""
    return int(status.rsplit(" ", 1)[-1])


class Asyncpg:
    name = "asyncpg"

    async def open(self, url: str) -> None:
        import asyncpg

        self.conn = await asyncpg.connect(url)
        self._merge = MERGE.format(seen="$1")
        self._lookup = LOOKUP.format("$1")

    def backend_pid(self) -> int:
        return int(self.conn.get_server_pid())

    async def close(self) -> None:
        await self.conn.close()

    async def execute(self, sql: str) -> None:
        await self.conn.execute(sql)

    async def load(self, rows: list[Row], seen: dt.datetime) -> int:
        async with self.conn.transaction():
            await self.conn.execute(STAGING.replace("CREATE TEMP TABLE", "CREATE TEMP TABLE IF NOT EXISTS"))
            await self.conn.copy_records_to_table("staging", records=rows, columns=STAGING_COLUMNS)
            return _count(await self.conn.execute(self._merge, seen))

    async def lookup(self, paper: str) -> object:
        return await self.conn.fetchrow(self._lookup, paper)

    async def newest(self) -> list[Any]:
        return list(await self.conn.fetch(NEWEST))

    async def pool_lookups(self, url: str, ids: list[str], tasks: int, size: int) -> list[float]:
        import asyncpg

        async with asyncpg.create_pool(url, min_size=size, max_size=size) as pool:

            async def one(paper: str) -> None:
                async with pool.acquire() as conn:
                    await conn.fetchrow(self._lookup, paper)

            return await _concurrently(one, ids, tasks)

    async def notify_latencies(self, url: str, count: int) -> list[float]:
        import asyncpg

        listener = await asyncpg.connect(url)
        writer = await asyncpg.connect(url)
        woke: asyncio.Queue[float] = asyncio.Queue()
        await listener.add_listener("changes", lambda *_: woke.put_nowait(time.perf_counter()))
        try:
            return [await _one_notify(lambda: writer.execute(NOTIFY.format("$1"), "x"), woke) for _ in range(count)]
        finally:
            await listener.close()
            await writer.close()


class Psycopg:
    """psycopg 3, async. `binary` picks COPY's binary format (with declared types) over the text format."""

    def __init__(self, *, binary: bool) -> None:
        self.binary = binary
        self.name = "psycopg (binary COPY)" if binary else "psycopg (text COPY)"

    async def open(self, url: str) -> None:
        import psycopg

        self.conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        self._merge = MERGE.format(seen="%(seen)s")
        self._lookup = LOOKUP.format("%s")
        fmt = " (FORMAT BINARY)" if self.binary else ""
        self._copy = f"COPY staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN{fmt}"

    def backend_pid(self) -> int:
        return int(self.conn.info.backend_pid)

    async def close(self) -> None:
        await self.conn.close()

    async def execute(self, sql: str) -> None:
        await self.conn.execute(sql)  # type: ignore[arg-type]  # bench SQL is a trusted constant

    async def load(self, rows: list[Row], seen: dt.datetime) -> int:
        async with self.conn.transaction():
            cur = self.conn.cursor()
            await cur.execute(STAGING.replace("CREATE TEMP TABLE", "CREATE TEMP TABLE IF NOT EXISTS"))  # type: ignore[arg-type]
            async with cur.copy(self._copy) as copy:  # type: ignore[arg-type]
                if self.binary:
                    copy.set_types(list(STAGING_TYPES))
                for row in rows:
                    await copy.write_row(row)
            await cur.execute(self._merge, {"seen": seen})  # type: ignore[arg-type]
            return cur.rowcount

    async def lookup(self, paper: str) -> object:
        cur = await self.conn.execute(self._lookup, (paper,))  # type: ignore[arg-type]
        return await cur.fetchone()

    async def newest(self) -> list[Any]:
        cur = await self.conn.execute(NEWEST)  # type: ignore[arg-type]
        return await cur.fetchall()

    async def pool_lookups(self, url: str, ids: list[str], tasks: int, size: int) -> list[float]:
        from psycopg_pool import AsyncConnectionPool

        async with AsyncConnectionPool(url, min_size=size, max_size=size, open=False) as pool:
            await pool.wait()

            async def one(paper: str) -> None:
                async with pool.connection() as conn:
                    cur = await conn.execute(self._lookup, (paper,))  # type: ignore[arg-type]
                    await cur.fetchone()

            return await _concurrently(one, ids, tasks)

    async def notify_latencies(self, url: str, count: int) -> list[float]:
        import psycopg

        listener = await psycopg.AsyncConnection.connect(url, autocommit=True)
        writer = await psycopg.AsyncConnection.connect(url, autocommit=True)
        woke: asyncio.Queue[float] = asyncio.Queue()
        await listener.execute("LISTEN changes")

        async def listen() -> None:
            async for _ in listener.notifies():
                woke.put_nowait(time.perf_counter())

        task = asyncio.create_task(listen())
        try:
            return [
                await _one_notify(lambda: writer.execute(NOTIFY.format("%s"), ("x",)), woke)  # type: ignore[arg-type]
                for _ in range(count)
            ]
        finally:
            task.cancel()
            await listener.close()
            await writer.close()


async def _one_notify(commit: Callable[[], Awaitable[object]], woke: asyncio.Queue[float]) -> float:
    started = time.perf_counter()
    await commit()
    return await asyncio.wait_for(woke.get(), 10) - started


async def _concurrently(one: Callable[[str], Awaitable[None]], ids: list[str], tasks: int) -> list[float]:
    latencies: list[float] = []
    queue = iter(ids)

    async def worker() -> None:
        for paper in queue:
            started = time.perf_counter()
            await one(paper)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    latencies.append(-(time.perf_counter() - started))  # the last entry: total wall time, negated
    return latencies


# ------------------------------------------------------------------------------------------ measuring


@dataclass
class Result:
    name: str
    figures: dict[str, str] = field(default_factory=dict)


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _us(samples: list[float]) -> str:
    return f"{_pct(samples, 0.5) * 1e6:,.0f} / {_pct(samples, 0.95) * 1e6:,.0f}"


async def _timed(call: Callable[[], Awaitable[object]], reps: int) -> list[float]:
    await call()  # warm
    out = []
    for _ in range(reps):
        started = time.perf_counter()
        await call()
        out.append(time.perf_counter() - started)
    return out


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc: the server backend's share of the work."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Wall time, this process's CPU (all threads) and optionally a server backend's CPU, over a block.

    On a shared machine wall times swing with the load; CPU seconds barely do, so both are reported.
    """

    def __init__(self, backend_pid: int | None = None) -> None:
        self.backend_pid = backend_pid

    def __enter__(self) -> CpuMeter:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._server = _process_cpu(self.backend_pid) if self.backend_pid else 0.0
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.client = time.process_time() - self._cpu
        self.server = (_process_cpu(self.backend_pid) - self._server) if self.backend_pid else 0.0


def _sample_ids(rows: int, count: int) -> list[str]:
    rng = random.Random(SEED)
    return [paper_id(rng.randrange(rows)) for _ in range(count)]


async def measure_driver(driver: Driver, server: ThrowawayPostgres, snapshot: Path, rows: int, batch: int) -> Result:
    result = Result(driver.name)
    admin = Psycopg(binary=False)
    await admin.open(server.url())
    database = "bench_" + "".join(ch for ch in driver.name.lower() if ch.isalnum())
    await admin.execute(f"DROP DATABASE IF EXISTS {database}")
    await admin.execute(f"CREATE DATABASE {database} TEMPLATE template0")
    await admin.close()
    url = with_database(server.url(), database)
    await driver.open(url)
    try:
        await driver.execute(SCHEMA)
        seen = dt.datetime.now(dt.UTC)
        with CpuMeter(driver.backend_pid()) as meter:
            loaded, changed = await pipelined(snapshot, batch, lambda chunk: driver.load(chunk, seen))
        result.figures["import rows/s"] = f"{loaded / meter.wall:,.0f}"
        result.figures["import s"] = f"{meter.wall:.1f}"
        result.figures["import CPU s client+server"] = f"{meter.client:.1f} + {meter.server:.1f}"
        assert changed == loaded, (changed, loaded)
        await driver.execute("VACUUM ANALYZE papers")
        with CpuMeter(driver.backend_pid()) as meter:
            _, unchanged = await pipelined(snapshot, batch, lambda chunk: driver.load(chunk, seen + dt.timedelta(1)))
        result.figures["re-import s (0 changed)"] = f"{meter.wall:.1f}"
        result.figures["re-import CPU s client+server"] = f"{meter.client:.1f} + {meter.server:.1f}"
        assert unchanged == 0, f"{driver.name}: re-import changed {unchanged} rows"
        ids = _sample_ids(rows, 2000)
        picks = iter(ids * 2)
        with CpuMeter() as meter:
            result.figures["by id p50/p95 µs"] = _us(await _timed(lambda: driver.lookup(next(picks)), 2000))
        result.figures["by id client CPU µs"] = f"{meter.client / 2001 * 1e6:,.0f}"
        result.figures["10 newest p50/p95 µs"] = _us(await _timed(driver.newest, 1000))
        with CpuMeter() as meter:
            pooled = await driver.pool_lookups(url, _sample_ids(rows, 4000), tasks=16, size=4)
        wall = -pooled.pop()
        result.figures["pool client CPU µs/lookup"] = f"{meter.client / len(pooled) * 1e6:,.0f}"
        result.figures["pool(4)×16 tasks lookups/s"] = f"{len(pooled) / wall:,.0f}"
        result.figures["pool p95 µs"] = f"{_pct(pooled, 0.95) * 1e6:,.0f}"
        result.figures["NOTIFY→wake p50/p95 µs"] = _us(await driver.notify_latencies(url, 300))
    finally:
        await driver.close()
    return result


async def measure_sqlite(snapshot: Path, rows: int) -> Result:
    # Rows and change log, as `paperbot import` writes them; the keyword index follows the log separately.
    result = Result("SQLite (import_snapshot)")
    with tempfile.TemporaryDirectory(prefix="paperbot-bench-") as tmp:
        catalogue = await open_catalogue(Path(tmp) / "papers.db")
        async with catalogue:
            with CpuMeter() as meter:
                report = await import_snapshot(snapshot, catalogue, progress=False)
            result.figures["import rows/s"] = f"{report.rate:,.0f}"
            result.figures["import s"] = f"{report.seconds:.1f}"
            result.figures["import CPU s client+server"] = f"{meter.client:.1f} (in process)"
            with CpuMeter() as meter:
                again = await import_snapshot(snapshot, catalogue, progress=False)
            assert again.changed == 0
            result.figures["re-import s (0 changed)"] = f"{again.seconds:.1f}"
            result.figures["re-import CPU s client+server"] = f"{meter.client:.1f} (in process)"
            picks = iter(_sample_ids(rows, 2000) * 2)
            with CpuMeter() as meter:
                result.figures["by id p50/p95 µs"] = _us(await _timed(lambda: catalogue.get(next(picks)), 2000))
            result.figures["by id client CPU µs"] = f"{meter.client / 2001 * 1e6:,.0f}"
    return result


def parse_only(snapshot: Path, batch: int) -> float:
    """Rows per CPU second of reading + parsing + row building alone: the ceiling no driver can beat."""
    batches = Batches(snapshot, batch)
    total = 0
    with CpuMeter() as meter:
        try:
            while chunk := batches.next():
                total += len(chunk)
        finally:
            batches.close()
    return total / meter.client


def installed_mb(*dists: str) -> str:
    total = 0
    for name in dists:
        try:
            files = importlib.metadata.distribution(name).files or []
        except importlib.metadata.PackageNotFoundError:
            return "not installed"
        for file in files:
            path = Path(str(file.locate()))
            if "__pycache__" not in path.parts and path.is_file():
                total += path.stat().st_size
    return f"{total / 2**20:.1f} MB"


def render(results: list[Result], extra: dict[str, str]) -> str:
    keys: list[str] = []
    for result in results:
        keys.extend(k for k in result.figures if k not in keys)
    width = max(len(k) for k in keys) + 2
    cols = [max(len(r.name), *(len(v) for v in r.figures.values())) + 2 for r in results]
    lines = ["".ljust(width) + "".join(r.name.rjust(c) for r, c in zip(results, cols, strict=True))]
    for key in keys:
        cells = "".join(r.figures.get(key, "—").rjust(c) for r, c in zip(results, cols, strict=True))
        lines.append(key.ljust(width) + cells)
    lines.extend(f"{k}: {v}" for k, v in extra.items())
    return "\n".join(lines)


DRIVERS: dict[str, Callable[[], Driver]] = {
    "asyncpg": Asyncpg,
    "psycopg": lambda: Psycopg(binary=True),
    "psycopg-text": lambda: Psycopg(binary=False),
}


async def main_async(args: argparse.Namespace) -> None:
    snapshot, generated = ensure_snapshot(HERE / ".cache", args.rows, SEED)
    print(f"snapshot: {snapshot.name}{' (generated now)' if generated else ''}", file=sys.stderr)
    extra = {"load average (1 min) at start": f"{os.getloadavg()[0]:.2f}"}
    extra["parse only, rows per CPU second (ceiling)"] = f"{parse_only(snapshot, args.batch):,.0f}"
    results: list[Result] = []
    with running() as server:
        for name in args.drivers.split(","):
            module = "asyncpg" if name == "asyncpg" else "psycopg"
            if importlib.util.find_spec(module) is None:  # asyncpg is not a dependency: `pip install asyncpg`
                print(f"skipping {name}: `pip install {module}` to compare it", file=sys.stderr)
                continue
            print(f"measuring {name} …", file=sys.stderr, flush=True)
            results.append(await measure_driver(DRIVERS[name](), server, snapshot, args.rows, args.batch))
    if not args.no_sqlite:
        print("measuring SQLite …", file=sys.stderr, flush=True)
        results.append(await measure_sqlite(snapshot, args.rows))
    extra["install asyncpg"] = installed_mb("asyncpg")
    extra["install psycopg + psycopg-binary + psycopg-pool"] = installed_mb("psycopg", "psycopg-binary", "psycopg-pool")
    extra["load average (1 min) at end"] = f"{os.getloadavg()[0]:.2f}"
    print(f"\n{args.rows:,} papers, batches of {args.batch:,}\n")
    print(render(results, extra))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pg_copy", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="papers in the synthetic snapshot")
    parser.add_argument("--batch", type=int, default=20_000, help="papers per COPY + merge transaction")
    parser.add_argument("--drivers", default="asyncpg,psycopg,psycopg-text", help=f"of {', '.join(DRIVERS)}")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite baseline")
    asyncio.run(main_async(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
