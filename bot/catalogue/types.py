"""Value types the catalogue's protocols return, shared by every backend (no I/O here).

Rows never leave a backend: each one turns its rows into these frozen values (and `bot.models`' Paper,
Subscription, …) at its boundary, so the layers above cannot tell SQLite from PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from bot.models import Paper

__all__ = [
    "LIST_SETTLED_AFTER",
    "Backend",
    "ChangeBatch",
    "ChannelState",
    "DayChange",
    "LogPosition",
    "PostRecord",
    "PostState",
]

Backend = Literal["sqlite", "postgresql"]

# A day's list is taken as settled once it was fetched this long after its UTC day began (the day has ended,
# plus a day for late additions): the fetch record keeps that fetch's time, so a re-run of a backfill can
# skip the day, and an identical later fetch writes nothing at all.
LIST_SETTLED_AFTER = dt.timedelta(days=2)
PostState = Literal["posting", "posted", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class DayChange:
    """What recording one day's list changed: new list entries, and papers whose stored data changed."""

    day: dt.date
    listed: int
    added: int
    papers_changed: int


@dataclass(frozen=True, slots=True)
class LogPosition:
    """Where the change log stands: the newest sequence number, and the newest one pruned away.

    A follower whose cursor is below `pruned_through` has missed entries that no longer exist and must
    rebuild its view from the papers themselves.
    """

    last_seq: int
    pruned_through: int


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Change-log entries after a cursor, resolved to the papers' current state.

    `papers` are the changed papers as stored now (each once, whatever the number of entries naming it);
    `gone` are ids the log names that the catalogue no longer has. A follower applies both, then moves its
    cursor to `last_seq`; applying a batch twice changes nothing, so a crash before the cursor is saved is
    repaired by replaying.
    """

    last_seq: int
    papers: tuple[Paper, ...]
    gone: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the batch holds no entries at all."""
        return not self.papers and not self.gone


@dataclass(frozen=True, slots=True)
class PostRecord:
    """The record of one channel's post for one local date."""

    channel_id: int
    local_date: dt.date
    list_day: dt.date
    state: PostState
    payload: str = "[]"
    message_ids: dict[int, int] = field(default_factory=dict)  # part -> Discord message id
    error: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelState:
    """First-seen time (config channels) and failing state of a digest channel."""

    channel_id: int
    first_seen: dt.datetime | None = None
    failing_reason: str | None = None
    failing_since: dt.datetime | None = None
