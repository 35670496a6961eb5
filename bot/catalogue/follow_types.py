"""Value types of the follow store (`FollowStore`): members' follows, list entries and the daily DM records.

Kept beside `types.py` rather than in it: they belong to one feature, personal follows, and read together.
Like every catalogue value they are frozen and backend-neutral; no row leaves a backend.

Two ideas carry the feature's guarantees:

- **List entries.** Each paper gets one *position* the first time it appears on any Daily Papers list. Positions
  grow in commit order (like the change log's sequence numbers), so "the papers that entered the lists since a
  member's last DM" is "the entries after the member's position": it survives restarts, includes papers added
  late to an old day's list, and a paper listed again on another day does not enter twice.
- **One DM record per (member, UTC date)**, claimed under a lease before anything is sent, like the digest's
  post records: whichever process claims it first sends that day's DM; a process that dies leaves a lease
  that runs out, and another finishes the DM. Closing the record as 'sent' (or 'skipped') moves the member's
  position in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from bot.models import Paper

__all__ = [
    "FOLLOW_LIMIT",
    "DmState",
    "Follow",
    "FollowAdded",
    "FollowDMClaim",
    "FollowDMRecord",
    "Follower",
    "ListEntry",
    "NewFollow",
    "NewFollowDM",
]

# At most this many follows per member: enough for a research interest, few enough that `/paper unfollow`
# autocomplete (at most 25 choices) shows every one of them.
FOLLOW_LIMIT = 25

DmState = Literal["sending", "sent", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class NewFollow:
    """A follow to add: keywords (any of them), an author, or both (a paper must then match both).

    `key` identifies the follow's terms whatever their spelling (the follows layer builds it from the
    normalised keywords and author): adding a follow whose key the member already has adds nothing.
    """

    keywords: tuple[str, ...]
    author: str | None
    key: str


@dataclass(frozen=True, slots=True)
class Follow:
    """One of a member's follows, as stored."""

    follow_id: int
    user_id: int
    guild_id: int | None  # the server it was made in (DMs go to the user, whichever server)
    keywords: tuple[str, ...]
    author: str | None
    key: str
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class FollowAdded:
    """What adding a follow did: 'added' (a new follow), 'exists' (the member already had these terms, given
    back as `follow`) or 'limit' (the member has `FOLLOW_LIMIT` follows; nothing added). `count` is the
    member's number of follows afterwards. 'added' and 'exists' both resume a paused member."""

    status: Literal["added", "exists", "limit"]
    follow: Follow | None
    count: int


@dataclass(frozen=True, slots=True)
class Follower:
    """A member who follows something: their follows and where their DMs stand.

    `position` is the newest list entry their DMs have covered (or the newest entry when they started
    following): the next DM lists matching entries after it. `active_since` is when following (re)started —
    a DM is owed on a day only if it was before that day's DM time. A paused member (`paused_reason`, e.g.
    their DMs are closed) gets no DMs until they follow something again.
    """

    user_id: int
    follows: tuple[Follow, ...]
    position: int
    active_since: dt.datetime
    paused_reason: str | None = None
    paused_at: dt.datetime | None = None
    last_dm_at: dt.datetime | None = None

    @property
    def paused(self) -> bool:
        """Whether DMs to this member are paused."""
        return self.paused_reason is not None


@dataclass(frozen=True, slots=True)
class ListEntry:
    """A paper's first appearance on a Daily Papers list: its position, the list day, and the paper now."""

    position: int
    day: dt.date
    paper: Paper


@dataclass(frozen=True, slots=True)
class FollowDMRecord:
    """The record of one member's DM for one UTC date: the exactly-once guard of that DM.

    While 'sending' it is held by `owner` until `lease_until` (a DM waiting to be retried after a transient
    failure has no owner, and `lease_until` is when it may be tried again). `payload` is the DM's content as
    the follows layer decided it when the record was created (opaque here), so a DM finished by another
    process or after a restart is the same DM. It covers the list entries after `from_position` up to
    `to_position`; 'sent' and 'skipped' move the member's position to `to_position`, 'failed' does not (the
    papers come in a later DM).
    """

    user_id: int
    dm_date: dt.date
    state: DmState
    from_position: int
    to_position: int
    payload: str = "[]"
    owner: str | None = None
    lease_until: dt.datetime | None = None
    attempts: int = 0  # sends that failed transiently
    error: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class NewFollowDM:
    """What a first claim writes: the entries covered and the DM's content (JSON, opaque to the store)."""

    from_position: int
    to_position: int
    payload: str


@dataclass(frozen=True, slots=True)
class FollowDMClaim:
    """A successful claim: the record as it now stands (held by the claimer), and how it was obtained.

    `created`: the record was written from the claimer's `NewFollowDM`, so nothing can have been sent yet.
    Otherwise a 'sending' record was taken over — from `previous_owner` (a dead process, or the claimer itself
    after a restart) or, when that is None, a DM released for a retry — and it may already have been sent.
    """

    record: FollowDMRecord
    created: bool
    previous_owner: str | None = None
