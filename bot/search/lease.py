"""The writer lease of a local index folder: at most one process at a time applies the change log to it.

Lucene-family indexes (tantivy among them) allow one writer per directory; two processes each holding an
`IndexWriter` is what corrupted the index before. The lease is an exclusive `flock` on `<folder>/writer.lease`:
the kernel releases it when the holder exits, however it exits (kill -9 included), so a dead holder never
leaves a stale lease behind and nobody has to guess whether a lock file is still meant. The file also
carries the holder's pid and role, so a waiting process can say who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path

__all__ = ["Lease"]

LEASE_FILE = "writer.lease"


class Lease:
    """A non-blocking, process-wide exclusive lease on one folder."""

    def __init__(self, folder: Path, *, role: str) -> None:
        self.folder = folder
        self.role = role
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lease."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it; never blocks. Returns whether it is held now."""
        if self._fd is not None:
            return True
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / LEASE_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "role": self.role}).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lease up (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> str | None:
        """Who holds the lease, as "role (pid N)", when someone does; None when it is free or unknown."""
        if self._fd is not None:
            return f"{self.role} (pid {os.getpid()}, this process)"
        try:
            data = json.loads((self.folder / LEASE_FILE).read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or "pid" not in data:
            return None
        return f"{data.get('role', 'paperbot')} (pid {data['pid']})"
