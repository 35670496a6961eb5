"""At most one bot process per SQLite catalogue: the lock a second `paperbot run` on the same file refuses on.

Why: on SQLite the bot is one process (PostgreSQL is for several); two bots on one file would both schedule
every digest and ingest. The post claims would still keep a post from being made twice at once, but a bot
restarted after a crash could only finish its own half-made post once the dead process's lease ran out — so
the one bot on a file takes a stable owner name (`sole_owner`) and may resume its own posts at once, which is
safe only if no second bot can exist. This lock is that guarantee.

The lock is an exclusive `flock` on `<database>.bot.lock` beside the file. The kernel releases it when the
holder exits however it exits (kill -9 included), so a dead bot never leaves a stale lock behind. The file
carries the holder's pid and host, so the refused process can say which bot holds it. (The search index's
`Lease` is the same mechanism for a folder; this one is named after the database file it guards.)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from pathlib import Path

__all__ = ["SoleBotLock", "sole_owner"]


def sole_owner(database: Path) -> str:
    """The post-claim owner of the one bot on an SQLite file: the same across restarts on this host."""
    return f"{socket.gethostname()}:sole bot of {database.resolve()}"


class SoleBotLock:
    """A non-blocking exclusive lock held by the one bot process of an SQLite catalogue."""

    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".bot.lock")
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._fd is not None

    def acquire(self) -> str | None:
        """Take the lock; None when taken, else who holds it ("pid N on host H", or "another process")."""
        if self._fd is not None:
            return None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return self._holder()
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode())
        self._fd = fd
        return None

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: deleting a lock file lets two processes lock two files."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _holder(self) -> str:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return "another process"
        if not isinstance(data, dict) or "pid" not in data:
            return "another process"
        return f"pid {data['pid']} on host {data.get('host', '?')}"
