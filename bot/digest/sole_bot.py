"""At most one bot process per SQLite catalogue: the lock a second `paperbot run` on the same file refuses on.

Why: on SQLite the bot is one process (PostgreSQL is for several); two bots on one file would both schedule
every digest and ingest. The post claims would still keep a post from being made twice at once, but a bot
restarted after a crash could only finish its own half-made post once the dead process's lease ran out — so
the one bot on a file takes a stable owner name (`sole_owner`) and may resume its own posts at once, which is
safe only if no second bot can exist. This lock is that guarantee.

The lock is a `ProcessLock` (`bot.process_lock`: an exclusive `flock`, released by the kernel however the
holder exits) on `<database>.bot.lock` beside the file; the refused process can say which bot holds it.
"""

from __future__ import annotations

import socket
from pathlib import Path

from bot.process_lock import ProcessLock

__all__ = ["SoleBotLock", "sole_owner"]


def sole_owner(database: Path) -> str:
    """The post-claim owner of the one bot on an SQLite file: the same across restarts on this host."""
    return f"{socket.gethostname()}:sole bot of {database.resolve()}"


class SoleBotLock:
    """The lock held by the one bot process of an SQLite catalogue (`<database>.bot.lock`)."""

    def __init__(self, database: Path) -> None:
        self._lock = ProcessLock(database.with_name(database.name + ".bot.lock"), role="paperbot run")
        self.path = self._lock.path

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._lock.held

    def acquire(self) -> str | None:
        """Take the lock; None when taken, else who holds it."""
        if self._lock.try_acquire():
            return None
        return self._lock.holder(with_role=False) or "another process"

    def release(self) -> None:
        """Give the lock up (idempotent)."""
        self._lock.release()
