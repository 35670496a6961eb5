"""`paperbot import arxiv-snapshot FILE`: stream the arXiv metadata snapshot into the catalogue.

Design choices:

* Flat memory: the file is read line by line (`SnapshotReader`) and written in batches of `batch_size`
  papers, one transaction each; the importer holds at most two batches (one parsing, one writing),
  whatever the file size.
* Parsing overlaps writing: the next batch is parsed in a worker thread while SQLite (its own thread, which
  releases the GIL while it steps) writes the previous one, so the import costs about max(parse, write)
  instead of their sum. The event loop only coordinates and never blocks.
* Merge rule: arXiv is authoritative for title, abstract, authors, categories and the v1 date; fields only
  Hugging Face knows (upvotes, GitHub, AI summary, …) are never touched, because the snapshot paper carries
  None for them and the catalogue's upsert never lets None erase a value. Unchanged papers are not
  rewritten, so a re-run is idempotent (`ImportReport.changed == 0`).
* A progress bar (bytes of the file on disk → ETA, plus records/s) is drawn only on a terminal.
* The backend may defer work while batches arrive (SQLite lets its WAL grow instead of checkpointing every
  few megabytes); `PaperWriter.finish_import` settles it before the import returns, so the time reported
  is the whole cost.
* The import writes the catalogue only (`PaperWriter.import_papers`): each batch also lands in the change
  log, from which whichever process holds the search index's lease indexes it — a running bot, or this
  command when nobody else does (see `bot.search.follower`) — so indexing runs beside the import, never on
  its write path.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.catalogue import PaperWriter
from bot.models import Paper
from bot.sources.arxiv_snapshot import BadLine, SnapshotReader

__all__ = ["DEFAULT_BATCH_SIZE", "ImportProgress", "ImportReport", "import_snapshot"]

DEFAULT_BATCH_SIZE = 10_000
# Parsing (pure Python) runs beside SQLite's and the index's native threads, which give the GIL back while
# they work and must win it back for every row. At the default 5 ms switch interval they wait behind the parser
# (a convoy); 0.5 ms let the overlap work: +11% records/s measured at 200k papers.
_IMPORT_SWITCH_INTERVAL = 0.0005
# The cyclic garbage collector stays off while batches are parsed and written: every batch allocates millions
# of acyclic objects (records, papers, rows), and even at a 20,000-object threshold its passes walked the
# batches in flight — ~0.5 CPU-s of 9 per 100k papers (bench/README.md, issue 9). Instead the youngest
# generation is collected every `_COLLECT_EVERY_BATCHES` batches, which frees any cycle the batches made
# (asyncio's futures, exceptions) so memory stays flat. Such cycles are rare — collecting after every batch
# found none in a 100k import — while each pass walks every object the batches in flight hold (10–25 ms,
# 2.5 CPU-s under the import's GIL at 1M papers): one pass per ten batches keeps the guard at a tenth of that.
_COLLECT_EVERY_BATCHES = 10
_BAD_LINES_KEPT = 20


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: lines read (non-blank), papers imported, bad lines skipped, rows changed, time."""

    read: int
    imported: int
    bad: int
    seconds: float
    changed: int = 0
    bad_examples: tuple[BadLine, ...] = ()

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.read / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        """One line for the CLI: what was read, imported, skipped and changed, and how fast."""
        bad = f", {self.bad:,} bad line(s) skipped" if self.bad else ""
        first = f" (first at line {self.bad_examples[0].line_no}: {self.bad_examples[0].reason})" if self.bad else ""
        return (
            f"imported {self.imported:,} papers from {self.read:,} lines{bad}{first}; "
            f"{self.changed:,} changed; {self.seconds:.1f} s, {self.rate:,.0f} records/s"
        )


# Receives progress after every batch: (bytes of the file consumed, total bytes, records read so far).
ImportProgress = Callable[[int, int, int], None]


@dataclass(slots=True)
class _Batch:
    papers: list[Paper]
    read: int
    bad: list[BadLine]
    bytes_read: int


class _BatchReader:
    """Cut the snapshot into batches; called from a worker thread, one call at a time."""

    def __init__(self, reader: SnapshotReader, batch_size: int) -> None:
        self._reader = reader
        self._records = iter(reader)
        self._size = batch_size

    def next(self) -> _Batch:
        papers: list[Paper] = []
        bad: list[BadLine] = []
        read = 0
        for item in self._records:
            read += 1
            if isinstance(item, BadLine):
                bad.append(item)
            else:
                papers.append(item)
                if len(papers) >= self._size:
                    break
        return _Batch(papers, read, bad, self._reader.bytes_read)


async def import_snapshot(
    path: Path | str,
    catalogue: PaperWriter,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | ImportProgress | None = None,
    switch_interval: float | None = _IMPORT_SWITCH_INTERVAL,
) -> ImportReport:
    """Stream-import the snapshot at `path` (JSON Lines, plain or gzip) into `catalogue`.

    `progress`: None draws a rich progress bar only when stderr is a terminal; True forces it, False hides
    it; a callable receives (bytes_read, total_bytes, records) after every batch instead.
    `switch_interval`: the interpreter's thread switch interval during the import (restored afterwards);
    None leaves it alone. Automatic garbage collection pauses for the import (see `_import`) and resumes.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    previous_interval = sys.getswitchinterval()
    collecting = gc.isenabled()
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    gc.disable()
    try:
        return await _import(path, catalogue, batch_size, progress)
    finally:
        sys.setswitchinterval(previous_interval)
        if collecting:
            gc.enable()


async def _import(
    path: Path | str, catalogue: PaperWriter, batch_size: int, progress: bool | ImportProgress | None
) -> ImportReport:
    started = time.perf_counter()
    seen_at = dt.datetime.now(dt.UTC)
    read = imported = changed = batches_written = 0
    bad_examples: list[BadLine] = []
    bad = 0
    with SnapshotReader(path, seen_at=seen_at) as reader:
        batches = _BatchReader(reader, batch_size)
        report_progress, finish = _progress_sink(progress, reader.total_bytes, _short(Path(path).name))
        try:
            batch = await asyncio.to_thread(batches.next)
            while batch.read:
                write = asyncio.ensure_future(catalogue.import_papers(batch.papers, seen_at=seen_at))
                try:
                    following = await asyncio.to_thread(batches.next)
                finally:
                    changed += await write
                read += batch.read
                imported += len(batch.papers)
                bad += len(batch.bad)
                bad_examples.extend(batch.bad[: _BAD_LINES_KEPT - len(bad_examples)])
                report_progress(batch.bytes_read, reader.total_bytes, read)
                batch = following
                batches_written += 1
                if batches_written % _COLLECT_EVERY_BATCHES == 0:
                    gc.collect(0)
        except BaseException:
            # The batches that did commit are settled too; the import's own error is the one reported.
            with contextlib.suppress(Exception):
                await asyncio.shield(catalogue.finish_import())
            raise
        else:
            await catalogue.finish_import()
        finally:
            finish()
    return ImportReport(
        read=read,
        imported=imported,
        bad=bad,
        seconds=time.perf_counter() - started,
        changed=changed,
        bad_examples=tuple(bad_examples),
    )


def _short(name: str, width: int = 24) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _progress_sink(
    progress: bool | ImportProgress | None, total_bytes: int, label: str
) -> tuple[ImportProgress, Callable[[], None]]:
    """Return (update, finish) for the requested kind of progress reporting."""
    if callable(progress):
        return progress, lambda: None
    show = sys.stderr.isatty() if progress is None else progress
    if not show:
        return (lambda bytes_read, total, records: None), lambda: None

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    started = time.perf_counter()
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[records]:>12,} records  {task.fields[rate]:>9,.0f}/s"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    task = bar.add_task(f"importing {label}", total=total_bytes, records=0, rate=0.0)
    bar.start()

    def update(bytes_read: int, total: int, records: int) -> None:
        elapsed = max(time.perf_counter() - started, 1e-9)
        bar.update(task, completed=bytes_read, total=total, records=records, rate=records / elapsed)

    return update, bar.stop
