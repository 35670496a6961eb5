"""When a subscription posts, which list it shows, and whether a post is still owed — pure functions of time.

The posting rules live here and nowhere else, so the scheduler's trigger, the owed-post check at start-up
and `/paper digest list` can never disagree:
- the post for local date L is at the subscription's local time on L; a time that does not exist that day
  (spring-forward gap) posts at the next valid minute; a time that occurs twice (fall-back) posts once, at its
  first occurrence;
- it shows list day D = (UTC date of the post instant) − 1 — the latest UTC day that had ended;
- it is owed from its instant until the earlier of the end of local day L and instant + grace, and only if the
  subscription existed at the instant. The grace is never shorter than `ON_TIME`, the minute of the posting
  time itself: `grace_hours = 0` means "post on time or skip the day", and a scheduler always wakes a few
  milliseconds after the instant, so an empty window would mean "never post". A bot that was down through
  that minute makes no late post (the start-up and 10-minute catch-up runs come too late).

A weekly subscription (`cadence = "weekly"`) has a post only on the local dates that fall on its `weekday`
(Monday = 0); every rule above holds for those dates unchanged — when it posts, whether it is owed, the grace
— and its list day D is the last of the 7 list days its recap shows (`week_of`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.models import Subscription

UTC = dt.UTC
_MINUTE = dt.timedelta(minutes=1)
#: The shortest owed window: post times have minute resolution, so a post anywhere in its minute is on time.
ON_TIME = _MINUTE
# The longest clock jump on record (Samoa skipped 30 Dec 2011 entirely) is 24 h; never search beyond that.
_MAX_GAP_MINUTES = 24 * 60 + 1


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """Return the IANA zone `name`; raise ValueError for an unknown name (callers validate input with it)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def _exists(local: dt.datetime) -> bool:
    """Whether a naive-in-zone wall time exists (round-trips through UTC unchanged)."""
    back = local.astimezone(UTC).astimezone(local.tzinfo)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None)


def local_instant(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """Return the UTC instant of wall time `at` on `day` in `tz`, by the contract's DST rules."""
    wall = dt.datetime.combine(day, at.replace(second=0, microsecond=0, tzinfo=None))
    local = wall.replace(tzinfo=tz, fold=0)  # fold=0: the first of two repeated times
    if _exists(local):
        return local.astimezone(UTC)
    # A spring-forward gap: walk forward minute by minute to the first wall time that exists.
    for minutes in range(1, _MAX_GAP_MINUTES):
        candidate = (wall + minutes * _MINUTE).replace(tzinfo=tz, fold=0)
        if _exists(candidate):
            return candidate.astimezone(UTC)
    return local.astimezone(UTC)  # unreachable for real tz data; a defined answer beats an exception


def list_day_for(instant: dt.datetime) -> dt.date:
    """The list a post at `instant` shows: the latest UTC day that had ended (UTC date − 1)."""
    return instant.astimezone(UTC).date() - dt.timedelta(days=1)


def posts_on(sub: Subscription, local_date: dt.date) -> bool:
    """Whether `sub` has a post on `local_date`: every day, or only on its weekday when weekly."""
    return sub.cadence != "weekly" or local_date.weekday() == sub.weekday


def week_of(list_day: dt.date) -> tuple[dt.date, dt.date]:
    """The 7 list days a weekly recap showing `list_day` covers: (first, last = list_day)."""
    return list_day - dt.timedelta(days=6), list_day


@dataclass(frozen=True, slots=True)
class Slot:
    """One day's post of one subscription: local date, when (UTC), until when it is owed, and which list."""

    local_date: dt.date
    instant: dt.datetime
    deadline: dt.datetime
    list_day: dt.date


def slot(sub: Subscription, local_date: dt.date, grace_hours: float) -> Slot:
    """The post of `sub` for `local_date`, owed for `grace_hours` (at least `ON_TIME`) up to local midnight."""
    tz = zone(sub.timezone)
    instant = local_instant(local_date, sub.time, tz)
    end_of_day = local_instant(local_date + dt.timedelta(days=1), dt.time(0, 0), tz)
    deadline = min(end_of_day, instant + max(dt.timedelta(hours=grace_hours), ON_TIME))
    return Slot(local_date=local_date, instant=instant, deadline=deadline, list_day=list_day_for(instant))


def owed_slot(sub: Subscription, now: dt.datetime, grace_hours: float) -> Slot | None:
    """The post `sub` owes at `now`, if any (it may already have been made: check the post records)."""
    if sub.created_at is None:
        return None
    today = now.astimezone(zone(sub.timezone)).date()
    for local_date in (today, today - dt.timedelta(days=1)):
        if not posts_on(sub, local_date):
            continue
        candidate = slot(sub, local_date, grace_hours)
        if candidate.instant <= now < candidate.deadline and sub.created_at <= candidate.instant:
            return candidate
    return None


def next_instant(sub: Subscription, after: dt.datetime, *, inclusive: bool = False) -> dt.datetime:
    """The first post instant of `sub` after `after` (or at it, when `inclusive`)."""
    today = after.astimezone(zone(sub.timezone)).date()
    for offset in range(-1, 10):
        local_date = today + dt.timedelta(days=offset)
        if not posts_on(sub, local_date):
            continue
        instant = local_instant(local_date, sub.time, zone(sub.timezone))
        if instant > after or (inclusive and instant == after):
            return instant
    raise AssertionError("a weekly time always recurs within ten days")  # pragma: no cover


def next_slot(sub: Subscription, now: dt.datetime, grace_hours: float) -> Slot:
    """The next post of `sub` strictly after `now` (what `/paper digest list` shows)."""
    instant = next_instant(sub, now)
    local_date = instant.astimezone(zone(sub.timezone)).date()
    # The gap rule can move an instant past local midnight only in theory; take the local date it was for.
    for candidate_date in (local_date, local_date - dt.timedelta(days=1)):
        if not posts_on(sub, candidate_date):
            continue
        candidate = slot(sub, candidate_date, grace_hours)
        if candidate.instant == instant:
            return candidate
    return slot(sub, local_date, grace_hours)  # pragma: no cover
