"""Where follow DMs go: the `FollowSink` protocol the service delivers through, the DM it hands over, and the error.

The service never talks to Discord and never renders: it decides who gets which papers and guarantees one DM
per member per day; the sink (Discord in production, a recording fake in tests) turns a `FollowDM` into
messages and sends them to the user.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from bot.errors import PaperbotError
from bot.follows.matching import FollowedPaper

__all__ = ["DmError", "FollowDM", "FollowSink"]


class DmError(PaperbotError):
    """A DM could not be sent (or the DM channel not read).

    `dms_closed`: the member does not accept DMs from the bot (Discord 50007, or no server shared any more) —
    permanent, so their follows are paused with `reason` until they follow again. `permanent` without
    `dms_closed`: this DM will fail the same way if retried (e.g. Discord refused its content); it is given up
    for the day without pausing the member. Otherwise the failure is transient (5xx, 429, network) and the DM
    is retried later the same day, a bounded number of times.
    """

    def __init__(self, reason: str, *, dms_closed: bool = False, permanent: bool = False, status: int | None = None):
        self.reason = reason
        self.dms_closed = dms_closed
        self.permanent = permanent or dms_closed
        self.status = status
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class FollowDM:
    """One member's DM for one UTC date: the papers that entered the lists since their last DM and matched.

    `papers` are best first (most upvoted), each with its list day and the follows that matched it
    (`FollowHit.labels` says why in plain words). `previous_dm_at` is when their previous DM went out (None
    for their first). A DM is never empty: with nothing new, there is no DM.
    """

    user_id: int
    dm_date: dt.date
    papers: tuple[FollowedPaper, ...]
    previous_dm_at: dt.datetime | None = None

    @property
    def first_day(self) -> dt.date:
        """The oldest list day among the papers."""
        return min(p.list_day for p in self.papers)

    @property
    def last_day(self) -> dt.date:
        """The newest list day among the papers."""
        return max(p.list_day for p in self.papers)


class FollowSink(Protocol):
    """Sends a member their follow DM, and tells whether a DM already reached them."""

    async def send_dm(self, dm: FollowDM) -> None:
        """Render and send the DM to user `dm.user_id`; raise DmError on failure.

        A DM of several messages must be safe to send again after a failure part-way (the service retries a
        DM that may be half sent): each message goes with a nonce derived from (user, date, part), and parts
        already in the DM channel are not sent again.
        """
        ...

    async def delivered(self, dm: FollowDM) -> bool:
        """Whether the DM for (`dm.user_id`, `dm.dm_date`) is already, completely, in the member's DM channel
        (read from the bot's recent messages there, e.g. by a marker carrying the date). Asked before a DM is
        sent again by another process or after a restart, so a crash between sending and recording it does not
        send it twice. Raise DmError when the channel cannot be read."""
        ...
