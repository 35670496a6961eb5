"""The writer lease of a local index folder: at most one process at a time applies the change log to it.

Lucene-family indexes (tantivy among them) allow one writer per directory; two processes each holding an
`IndexWriter` is what corrupted the index before. The lease is a `ProcessLock` on `<folder>/writer.lease`:
released by the kernel when the holder exits, however it exits, so a dead holder never blocks the next one.
"""

from __future__ import annotations

from pathlib import Path

from bot.process_lock import ProcessLock

__all__ = ["LEASE_FILE", "Lease"]

LEASE_FILE = "writer.lease"


class Lease(ProcessLock):
    """The writer lease of one index folder."""

    def __init__(self, folder: Path, *, role: str) -> None:
        super().__init__(folder / LEASE_FILE, role=role)
        self.folder = folder
