"""The catalogue's interface: what the layers above may ask of it, whichever backend stores it.

The catalogue is the source of truth: papers, the Daily Papers lists, digest subscriptions and post records.
It is split by concern so a use case can say exactly what it needs (the digest asks for `DailyLists` and a
`DigestStore`, the search views for a `ChangeLog` and a `PaperReader`); `Catalogue` is all of them together
and is what `open_catalogue` returns.

Rules every backend keeps (the shared test suite in tests/catalogue runs against each one):
- one public write method = one transaction; a failure leaves nothing half-written;
- a None from a source never erases a known value, and a write that changes nothing rewrites no row;
- every write that changes a paper appends that paper's id to the change log in the same transaction; the
  log's sequence numbers grow in commit order, and entries are never deleted by reading them (only pruned
  by age, which `LogPosition.pruned_through` reports);
- many processes may use one catalogue at once: a write waits for another process's write for a bounded
  time, and never fails only because another process is writing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Protocol

from bot.catalogue.types import Backend, ChangeBatch, ChannelState, DayChange, LogPosition, PostRecord, PostState
from bot.models import CatalogueStats, DailyEntry, Paper, Subscription, Trending, TrendingPeriod

__all__ = [
    "Catalogue",
    "ChangeLog",
    "DailyLists",
    "DigestStore",
    "PaperReader",
    "PaperWriter",
]


class PaperReader(Protocol):
    """Read papers by id or title."""

    async def get(self, paper_id: str) -> Paper | None:
        """The paper with this unversioned arXiv id, if stored."""
        ...

    async def get_many(self, paper_ids: Sequence[str]) -> list[Paper]:
        """The stored papers among `paper_ids`, in the given order (unknown ids are left out)."""
        ...

    async def find_title(self, text: str) -> Paper | None:
        """The paper whose title is exactly `text`, ignoring case and spacing (the most upvoted of equals)."""
        ...

    async def titles_starting_with(self, text: str, *, limit: int) -> list[tuple[str, str]]:
        """Up to `limit` (id, title) pairs whose normalised title starts with the normalised `text`.

        An empty `text` gives the most upvoted papers. Served from an index on the normalised title, so it
        answers in milliseconds at millions of papers (autocomplete runs it on every keystroke).
        """
        ...

    async def titles_by_id(self, paper_ids: Sequence[str]) -> dict[str, str]:
        """The titles of these papers by id, on the same fast path as `titles_starting_with`."""
        ...

    async def titles_containing(self, words: Sequence[str], *, limit: int) -> list[Paper]:
        """Papers whose title contains every word (case-insensitive), most upvoted first.

        A slow scan, meant only for answering while a search index is being rebuilt.
        """
        ...

    def stream_papers(self, *, batch_size: int = 5_000) -> AsyncIterator[list[Paper]]:
        """Every stored paper, in batches (for rebuilding a derived view from scratch)."""
        ...

    async def count_papers(self) -> int:
        """How many papers are stored."""
        ...


class PaperWriter(Protocol):
    """Store papers from the sources."""

    async def upsert_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Insert or update papers; return how many rows actually changed."""
        ...

    async def import_papers(self, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None) -> int:
        """Bulk-merge one batch of an arXiv snapshot; return how many rows changed.

        arXiv is authoritative for title, abstract, authors, categories and the first-version date; every
        other field (upvotes, GitHub, AI summary, …) is left as stored. Built for throughput: one
        transaction per call, sized by the caller (thousands of papers).
        """
        ...

    async def restore_papers(self, papers: Sequence[Paper]) -> int:
        """Make these papers exactly as given (every field, first/last seen included): `db copy`'s write.

        Unlike a source's upsert, the given values win, None included; rows already equal are not
        rewritten (and not logged). Returns how many rows changed.
        """
        ...


class DailyLists(Protocol):
    """The Daily Papers lists: what trended on which day."""

    async def record_day(
        self, day: dt.date, entries: Sequence[DailyEntry], *, fetched_at: dt.datetime | None = None
    ) -> DayChange:
        """Store one day's list (its papers too), refresh upvotes, re-rank the day, remember the fetch."""
        ...

    async def fetched_days(self, since: dt.date, until: dt.date) -> dict[dt.date, dt.datetime]:
        """When each day from `since` to `until` was last fetched (days with an empty list included).

        Once a day's list is settled (`LIST_SETTLED_AFTER`), the time of the first settled fetch is kept: a
        later fetch that lists the same number of papers writes nothing."""
        ...

    async def day_entries(self, day: dt.date) -> list[DailyEntry]:
        """The stored list for `day` as entries: each paper with the upvotes its list showed, by rank."""
        ...

    async def latest_day(self) -> dt.date | None:
        """The most recent day with a stored list."""
        ...

    async def day_papers(self, day: dt.date) -> list[Paper]:
        """The stored list for `day`, by latest upvotes (ties by id)."""
        ...

    async def trending(self, period: TrendingPeriod, *, limit: int = 10) -> Trending:
        """Distinct papers listed in the window ending at the latest stored day, by latest upvotes."""
        ...


class ChangeLog(Protocol):
    """The log of changed papers that feeds the derived views (keyword index, vectors)."""

    async def log_position(self) -> LogPosition:
        """The newest sequence number and the newest pruned one."""
        ...

    async def changes_after(self, seq: int, *, limit: int) -> ChangeBatch:
        """Up to `limit` log entries after `seq`, resolved to the papers' current state."""
        ...

    async def wait_for_changes(self, after: int, *, max_wait_s: float) -> bool:
        """Wait until the log has an entry after `after`, at most `max_wait_s` seconds; say whether it has."""
        ...

    async def prune_changes(self, older_than: dt.datetime) -> int:
        """Delete log entries written before `older_than`; return how many (followers that had not read them
        rebuild). Only the newest entry is always kept, so the sequence never restarts."""
        ...


class DigestStore(Protocol):
    """Digest subscriptions made with slash commands, per-channel state and the exactly-once post records."""

    async def subscriptions(self) -> list[Subscription]:
        """Every slash-command subscription by channel id, with its failing state."""
        ...

    async def subscription(self, channel_id: int) -> Subscription | None:
        """The slash-command subscription of a channel, if any."""
        ...

    async def subscribe(self, sub: Subscription, *, now: dt.datetime) -> Subscription:
        """Create or update a subscription (a new one is owed posts from `now`); clears a failing state."""
        ...

    async def unsubscribe(self, channel_id: int) -> bool:
        """Delete a channel's slash-command subscription; return whether there was one."""
        ...

    async def see_channels(self, channel_ids: Iterable[int], *, now: dt.datetime) -> dict[int, dt.datetime]:
        """Record `now` as first-seen for config channels not seen before; forget channels no longer given;
        return every given channel's first-seen time."""
        ...

    async def channel_states(self) -> dict[int, ChannelState]:
        """Every channel's digest state, by channel id."""
        ...

    async def mark_failing(self, channel_id: int, reason: str, *, now: dt.datetime) -> None:
        """Mark a channel as failing (kept until cleared), keeping the first failure's time."""
        ...

    async def clear_failing(self, channel_id: int) -> None:
        """Clear a channel's failing state."""
        ...

    async def post(self, channel_id: int, local_date: dt.date) -> PostRecord | None:
        """The post record of a channel for a local date."""
        ...

    async def posts_in_state(self, state: PostState) -> list[PostRecord]:
        """Every post record in `state`."""
        ...

    async def last_posts(self) -> dict[int, PostRecord]:
        """Each channel's most recent post record."""
        ...

    async def begin_post(
        self,
        channel_id: int,
        local_date: dt.date,
        list_day: dt.date,
        *,
        state: PostState = "posting",
        payload: str = "[]",
        now: dt.datetime,
    ) -> bool:
        """Claim a post: write its record unless one that is not 'posting' exists; say whether it was written."""
        ...

    async def post_progress(self, channel_id: int, local_date: dt.date, part: int, message_id: int) -> None:
        """Remember that part `part` of a 'posting' post was sent as `message_id`."""
        ...

    async def finish_post(
        self,
        channel_id: int,
        local_date: dt.date,
        state: PostState,
        *,
        message_ids: dict[int, int] | None = None,
        error: str | None = None,
        now: dt.datetime,
    ) -> None:
        """Close a post record: 'posted' with its message ids, or 'failed'/'skipped' with the reason."""
        ...


class Catalogue(PaperReader, PaperWriter, DailyLists, ChangeLog, Protocol):
    """The whole catalogue, as `open_catalogue` returns it."""

    @property
    def backend(self) -> Backend:
        """Which backend stores it."""
        ...

    @property
    def identity(self) -> str:
        """A random id fixed when the catalogue was created: a derived view built from another catalogue
        (a copied file, a different database) is recognised and rebuilt."""
        ...

    @property
    def location(self) -> str:
        """Where it lives, safe to print: a file path, or a URL with the password hidden."""
        ...

    @property
    def digests(self) -> DigestStore:
        """The digest's subscriptions and post records."""
        ...

    async def stats(self) -> CatalogueStats:
        """Paper count, days covered and the storage size."""
        ...

    async def marker(self, name: str) -> str | None:
        """A small named value the catalogue keeps about itself (e.g. how far a copy from another got)."""
        ...

    async def set_marker(self, name: str, value: str) -> None:
        """Set a named marker (one short transaction)."""
        ...

    async def close(self) -> None:
        """Close every connection (idempotent)."""
        ...

    async def __aenter__(self) -> Catalogue: ...

    async def __aexit__(self, *exc_info: object) -> None: ...
