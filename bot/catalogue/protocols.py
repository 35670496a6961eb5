"""The catalogue's interface: what the layers above may ask of it, whichever backend stores it.

The catalogue is the source of truth: papers, the Daily Papers lists, digest subscriptions and post records.
It is split by concern so a use case can say exactly what it needs (the digest asks for `DailyLists` and a
`DigestStore`, the search views for a `ChangeLog` and a `PaperReader`); `Catalogue` is all of them together
and is what `open_catalogue` returns. Members' follows and their DM records are a `FollowStore`.

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

from bot.catalogue.follow_types import (
    FOLLOW_LIMIT,
    DmState,
    FollowAdded,
    FollowDMClaim,
    FollowDMRecord,
    Follower,
    ListEntry,
    NewFollow,
    NewFollowDM,
)
from bot.catalogue.types import (
    Backend,
    ChangeBatch,
    ChannelState,
    DayChange,
    EditState,
    LogPosition,
    NewPost,
    PostClaim,
    PostEdit,
    PostEditClaim,
    PostRecord,
    PostState,
)
from bot.models import CatalogueStats, DailyEntry, Paper, Subscription, Trending, TrendingPeriod

__all__ = [
    "Catalogue",
    "ChangeLog",
    "DailyLists",
    "DigestStore",
    "FollowStore",
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

    async def finish_import(self) -> None:
        """Called once after an import's last batch, and after a failed one: the backend may defer work
        while batches arrive (SQLite: WAL checkpoints) and does it here. Safe to call at any time."""
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
    """Digest subscriptions made with slash commands, per-channel state, the exactly-once post records, and the
    scheduler's once-only slot claims.

    Several bot processes may share one catalogue (shards on PostgreSQL). Every decision two of them could race
    on is one atomic step here — a claim is one transaction that reads the record under a lock (a row lock, or
    SQLite's single writer) and writes it — so whichever process gets there first wins and the other learns it
    lost. Lease times are the callers' clocks (`now`, `lease_until`): processes on different machines must keep
    their clocks in sync (NTP), with leases long against their skew.
    """

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

    async def claim_post(
        self,
        channel_id: int,
        local_date: dt.date,
        *,
        owner: str,
        lease_until: dt.datetime,
        now: dt.datetime,
        new: NewPost | None = None,
    ) -> PostClaim | None:
        """Claim the (channel, local date) post for `owner` until `lease_until`; None when it cannot be claimed.

        - no record: with `new`, write a 'posting' record from it (started `now`, its parts' nonces, no part
          sent) and return it with `created=True`; without `new`, None;
        - a 'posting' record whose lease has expired (`lease_until <= now`) or that `owner` already holds: take
          it over — owner and lease change, everything else (payload, nonces, sent parts, start time) stays and
          `new` is ignored: a post is finished as it was begun;
        - a 'posting' record another owner holds with a live lease, or a closed record: None.
        """
        ...

    async def renew_post(self, channel_id: int, local_date: dt.date, *, owner: str, lease_until: dt.datetime) -> bool:
        """Extend `owner`'s lease on its 'posting' record; False when it no longer holds it (taken over, closed)."""
        ...

    async def record_part(
        self, channel_id: int, local_date: dt.date, part: int, message_id: int, *, owner: str, now: dt.datetime
    ) -> bool:
        """Remember that part `part` was sent as `message_id`; only the holder of the 'posting' record may.

        False, and nothing written, when `owner` no longer holds it: a stale owner learns it lost the lease and
        must stop sending. Recording a part again keeps the first message id.
        """
        ...

    async def finish_post(
        self,
        channel_id: int,
        local_date: dt.date,
        state: PostState,
        *,
        owner: str,
        error: str | None = None,
        now: dt.datetime,
        edit_at: dt.datetime | None = None,
    ) -> bool:
        """Close `owner`'s 'posting' record as 'posted', 'failed' or 'skipped' (with the reason); the lease ends.

        With `edit_at` (a 'posted' post of a subscription with settled upvotes), the post's one edit is written
        'due' at that time in the same transaction, so a post is never closed without its edit. False, and
        nothing written, when `owner` does not hold it.
        """
        ...

    async def record_thread(
        self, channel_id: int, local_date: dt.date, *, owner: str, thread_id: int | None, error: str | None = None
    ) -> bool:
        """Remember the post's discussion thread (`thread_id`) or why it could not be started (`error`); only the
        holder of the 'posting' record may. False, and nothing written, when `owner` no longer holds it."""
        ...

    async def edits_open(self) -> list[PostEdit]:
        """Every settled-upvotes edit still to make ('due') or being made ('editing'), by due time."""
        ...

    async def edit(self, channel_id: int, local_date: dt.date) -> PostEdit | None:
        """The settled-upvotes edit of one post, if it has one."""
        ...

    async def claim_edit(
        self,
        channel_id: int,
        local_date: dt.date,
        *,
        owner: str,
        lease_until: dt.datetime,
        now: dt.datetime,
        payload: str | None = None,
    ) -> PostEditClaim | None:
        """Claim the post's edit for `owner` until `lease_until`; None when it cannot be claimed.

        - 'due' and `due_at <= now`: with `payload` (the edited messages), it becomes 'editing' with that payload
          (`created=True`); without, None;
        - 'editing' whose lease has run out, or that `owner` holds: taken over, payload and edited parts kept,
          `payload` ignored (`created=False`);
        - not yet due, held by another owner with a live lease, closed, or no edit: None.
        """
        ...

    async def record_edit(
        self, channel_id: int, local_date: dt.date, part: int, *, owner: str, now: dt.datetime
    ) -> bool:
        """Remember that part `part` was edited; only the holder of the 'editing' edit may (else False)."""
        ...

    async def finish_edit(
        self,
        channel_id: int,
        local_date: dt.date,
        state: EditState,
        *,
        owner: str,
        now: dt.datetime,
        error: str | None = None,
    ) -> bool:
        """Close `owner`'s 'editing' edit as 'edited' or 'failed' (with `error`); False when it does not hold it."""
        ...

    async def skip_post(self, channel_id: int, local_date: dt.date, list_day: dt.date, *, now: dt.datetime) -> bool:
        """Write a closed 'skipped' record (nothing to post that day) unless a record exists; say whether written."""
        ...

    async def all_posts(self) -> list[PostRecord]:
        """Every post record, oldest first (for `db copy`)."""
        ...

    async def restore_post(self, record: PostRecord) -> bool:
        """Make a post record and its parts exactly as given (`db copy`); say whether anything changed."""
        ...

    async def all_edits(self) -> list[PostEdit]:
        """Every settled-upvotes edit in any state, by post (local date, then channel) (for `db copy`)."""
        ...

    async def restore_edit(self, edit: PostEdit) -> bool:
        """Make a post's edit exactly as given (`db copy`; its post is restored first, and the parts it edited
        come with the post's `edited_at`); say whether anything changed."""
        ...

    async def restore_channel_state(self, state: ChannelState) -> bool:
        """Make a channel's digest state exactly as given (`db copy`); say whether anything changed."""
        ...

    async def claim_slot(self, job: str, slot_time: dt.datetime, *, owner: str, now: dt.datetime) -> bool:
        """Claim one run of a scheduled job (e.g. the ingest cron's firing at `slot_time`) for `owner`.

        True for the first claimer only, across every process on the catalogue, so each slot runs once. Claims of
        slots more than a week before `now` are deleted on the way.
        """
        ...


class FollowStore(Protocol):
    """Members' personal follows, the Daily Papers list entries they are matched against, and the exactly-once
    records of their daily DMs.

    A member is a Discord user: follows are theirs whichever server they were made in, and every method that
    reads or changes follows takes the user id and touches only that user's rows. Several bot processes may
    share one catalogue; every decision two of them could race on (the cap on follows, claiming a DM, closing
    it and moving the member's position) is one transaction that reads what it decides on under a lock (a row
    lock or INSERT ... ON CONFLICT, or SQLite's single writer) and writes. Lease times are the callers' clocks.
    """

    async def add_follow(
        self, user_id: int, new: NewFollow, *, guild_id: int | None, now: dt.datetime, limit: int = FOLLOW_LIMIT
    ) -> FollowAdded:
        """Add a follow for `user_id`, unless they already have one with `new.key` ('exists') or have `limit`
        follows ('limit'). When they had no follows, or were paused, following (re)starts at `now`: their
        position moves to the newest list entry (a DM never reaches back before they followed) and the pause is
        cleared. Atomic against concurrent adds by the same member: the cap holds."""
        ...

    async def restore_follows(self, followers: Sequence[Follower], *, now: dt.datetime) -> int:
        """`db copy`'s write: give each member the follows given (by terms: ones they have are kept, their
        creation time too) and the pause state and last DM time given; return how many follows were added.

        List positions belong to one catalogue, so they are not copied: a member new to this catalogue starts at
        its newest list entry (active since `now`), one it has keeps its own position. The cap is not applied:
        the copy is of follows that were within it. Running it again adds nothing."""
        ...

    async def remove_follow(self, user_id: int, follow_id: int) -> bool:
        """Delete `follow_id` if it is `user_id`'s; say whether it was."""
        ...

    async def follower(self, user_id: int) -> Follower | None:
        """`user_id`'s follows (oldest first) and DM state; None when they follow nothing."""
        ...

    async def followers(self) -> list[Follower]:
        """Every member with at least one follow, paused ones included, by user id."""
        ...

    async def list_position(self) -> int:
        """The newest list entry's position (0 when no paper was ever listed)."""
        ...

    async def list_entries(self, after: int, until: int, *, since_day: dt.date) -> list[ListEntry]:
        """The list entries with `after` < position <= `until` whose list day is `since_day` or later, by
        position, each with its paper as stored now. A paper enters the lists once, at its first listing;
        positions grow in commit order, so an entry never appears below a position already read."""
        ...

    async def dm(self, user_id: int, dm_date: dt.date) -> FollowDMRecord | None:
        """The DM record of a member for a UTC date."""
        ...

    async def dms_in_state(self, state: DmState) -> list[FollowDMRecord]:
        """Every DM record in `state`, by date then user ('sending' ones may be half made)."""
        ...

    async def claim_dm(
        self,
        user_id: int,
        dm_date: dt.date,
        *,
        owner: str,
        lease_until: dt.datetime,
        now: dt.datetime,
        new: NewFollowDM | None = None,
    ) -> FollowDMClaim | None:
        """Claim the (member, date) DM for `owner` until `lease_until`; None when it cannot be claimed.

        - no record: with `new`, write a 'sending' record from it (started `now`) and return it with
          `created=True`; without `new`, None;
        - a 'sending' record whose lease has run out (`lease_until <= now`) or that `owner` already holds:
          take it over (owner and lease change; content, attempts and start time stay; `new` is ignored);
        - a 'sending' record another owner holds with a live lease, one waiting for its retry time, or a
          closed record: None.
        """
        ...

    async def release_dm(
        self, user_id: int, dm_date: dt.date, *, owner: str, retry_at: dt.datetime, error: str
    ) -> bool:
        """Give up `owner`'s 'sending' record after a transient failure: no owner, claimable again from
        `retry_at`, one more attempt counted, `error` kept. False, nothing written, if `owner` does not hold it."""
        ...

    async def finish_dm(
        self,
        user_id: int,
        dm_date: dt.date,
        state: DmState,
        *,
        owner: str,
        now: dt.datetime,
        error: str | None = None,
        pause: bool = False,
    ) -> bool:
        """Close `owner`'s 'sending' record as 'sent', 'skipped' or 'failed' (with `error`), in one transaction
        with its effect on the member: 'sent' and 'skipped' move their position up to the record's
        `to_position` ('sent' also sets their last DM time); with `pause`, the member is paused with `error` as
        the reason — unless they (re)started following after the record was created. False, and nothing
        written, when `owner` does not hold the record."""
        ...

    async def skip_dm(self, user_id: int, dm_date: dt.date, *, to_position: int, now: dt.datetime) -> bool:
        """Nothing to send that day: write a closed 'skipped' record and move the member's position up to
        `to_position`, unless a record for that day exists (then nothing changes); say whether written."""
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

    @property
    def follows(self) -> FollowStore:
        """Members' follows, the list entries and the follow DM records."""
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
