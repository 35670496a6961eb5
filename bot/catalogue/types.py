"""Value types the catalogue's protocols return, shared by every backend (no I/O here).

Rows never leave a backend: each one turns its rows into these frozen values (and `bot.models`' Paper,
Subscription, …) at its boundary, so the layers above cannot tell SQLite from PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.models import Paper

__all__ = [
    "LIST_SETTLED_AFTER",
    "Backend",
    "ChangeBatch",
    "ChannelState",
    "DayChange",
    "EditState",
    "LogPosition",
    "NewPost",
    "PostClaim",
    "PostEdit",
    "PostEditClaim",
    "PostRecord",
    "PostState",
]

Backend = Literal["sqlite", "postgresql"]

# A day's list is taken as settled once it was fetched this long after its UTC day began (the day has ended,
# plus a day for late additions): the fetch record keeps that fetch's time, so a re-run of a backfill can
# skip the day, and an identical later fetch writes nothing at all.
LIST_SETTLED_AFTER = dt.timedelta(days=2)
PostState = Literal["posting", "posted", "skipped", "failed"]
EditState = Literal["due", "editing", "edited", "failed"]


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
    """The record of one channel's post for one local date: the exactly-once guard of that post.

    While 'posting' it is held by one process, `owner`, until `lease_until`; the owner renews the lease while it
    posts, and only the owner may record parts or close the record. A process that dies leaves a lease that
    expires, and another process then claims the record and finishes the same post from `payload` (the rendered
    messages), never sending a part that `message_ids` lists. `nonces` are each part's deterministic message
    nonce (sending a part again with it makes Discord return the message it already created, within its dedupe
    window); `started_at` is when the first claim was made, so the channel can be searched from there for a
    part that was sent but not recorded. `edited_at` lists the parts already edited with settled upvotes (see
    `PostEdit`), so a copied record keeps them.
    """

    channel_id: int
    local_date: dt.date
    list_day: dt.date
    state: PostState
    payload: str = "[]"
    message_ids: dict[int, int] = field(default_factory=dict)  # part -> Discord message id, for sent parts
    error: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    owner: str | None = None  # the process holding the claim (after closing: the one that closed it)
    lease_until: dt.datetime | None = None  # None once closed
    nonces: dict[int, str] = field(default_factory=dict)  # part -> nonce, for every part that has one
    guild_id: int | None = None  # the server of the channel, when known (for a link to the post)
    thread_id: int | None = None  # the post's discussion thread, once started
    thread_error: str | None = None  # why its thread could not be started
    edited_at: dict[int, dt.datetime] = field(default_factory=dict)  # part -> when its settled-upvotes edit was made


@dataclass(frozen=True, slots=True)
class NewPost:
    """What a first claim writes: the list shown, the rendered messages (JSON) and each part's nonce."""

    list_day: dt.date
    payload: str
    nonces: Mapping[int, str] = field(default_factory=dict)
    guild_id: int | None = None


@dataclass(frozen=True, slots=True)
class PostClaim:
    """A successful claim: the record as it now stands (held by the claimer), and how it was obtained.

    `created`: the record did not exist and was written from the claimer's `NewPost` — nothing can have been
    sent yet. Otherwise an existing 'posting' record was taken over (`previous_owner` held it: a dead process,
    or the claimer itself after a restart or a transient error), and parts may already be in the channel.
    """

    record: PostRecord
    created: bool
    previous_owner: str | None = None


@dataclass(frozen=True, slots=True)
class PostEdit:
    """The one settled-upvotes edit of a posted post: due at `due_at`, then claimed and made exactly once.

    'due' until a process claims it with the edited messages (`payload`, JSON like a post's); 'editing' while
    `owner` holds it until `lease_until` (a dead owner's edit is taken over after that, from the same payload);
    `edited_parts` are the parts already edited, never edited again; closed as 'edited' or 'failed' (`error`).
    """

    channel_id: int
    local_date: dt.date
    due_at: dt.datetime
    state: EditState
    payload: str | None = None
    owner: str | None = None
    lease_until: dt.datetime | None = None
    edited_parts: frozenset[int] = frozenset()
    error: str | None = None
    finished_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class PostEditClaim:
    """A successful claim of an edit: the edit as it now stands (held by the claimer), and whether the claim
    started it (`created`: nothing can have been edited yet) or took a begun one over (parts may be edited)."""

    edit: PostEdit
    created: bool


@dataclass(frozen=True, slots=True)
class ChannelState:
    """First-seen time (config channels) and failing state of a digest channel."""

    channel_id: int
    first_seen: dt.datetime | None = None
    failing_reason: str | None = None
    failing_since: dt.datetime | None = None
