"""An exclusive lock one process holds on a file: the kernel's `flock`, released however the holder exits.

Used wherever "at most one process at a time" must hold across processes: the writer of a search-index folder
(`bot.search.lease`), the one bot on an SQLite catalogue (`bot.digest.sole_bot`). `flock` is released by the
kernel when the holder's file descriptor closes — a clean exit, a crash or kill -9 alike — so a dead holder
never leaves a stale lock that somebody has to judge. The file keeps the holder's pid, host and role, so a
refused process can say who holds it. The file itself is never deleted: deleting a lock file lets two
processes lock two different files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from pathlib import Path

__all__ = ["ProcessLock"]


class ProcessLock:
    """A non-blocking, process-wide exclusive lock on one file."""

    def __init__(self, path: Path, *, role: str) -> None:
        self.path = path
        self.role = role
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never blocks. Returns whether it is held now."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "role": self.role}).encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self, *, with_role: bool = True) -> str | None:
        """Who holds the lock, as "role (pid N on host H)" (or just "pid N on host H"); None when unknown."""
        if self._fd is not None:
            return f"{self.role} (pid {os.getpid()}, this process)" if with_role else f"pid {os.getpid()}"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or "pid" not in data:
            return None
        where = f"pid {data['pid']} on host {data.get('host', '?')}"
        return f"{data.get('role', 'paperbot')} ({where})" if with_role else where
