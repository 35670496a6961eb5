"""The sources → catalogue use case: fetch Daily Papers lists and store them.

Called by `paperbot ingest` and by the scheduler's ingest cron. Ingest reads Hugging Face only (arXiv serves
lookups of single papers); every call is idempotent because the catalogue's upserts are. A range keeps going
past a day that fails, so one bad day never costs the others, but gives up early when the source looks down
(consecutive unreachable days), so a dead source fails fast instead of once per day.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.catalogue import DailyLists, DayChange
from bot.errors import SourceError
from bot.sources import Sources

log = logging.getLogger(__name__)

# After this many consecutive days fail with no HTTP answer or a server error, the source is taken as down.
_UNREACHABLE_DAYS_BEFORE_GIVING_UP = 2


@dataclass(frozen=True, slots=True)
class DayReport:
    """The outcome of ingesting one day: the catalogue change, or the error that stopped it."""

    day: dt.date
    change: DayChange | None = None
    error: SourceError | None = None

    @property
    def ok(self) -> bool:
        """Whether the day landed."""
        return self.error is None


@dataclass(slots=True)
class RangeReport:
    """Every day's report for a range, in date order."""

    days: list[DayReport] = field(default_factory=list)
    aborted: str | None = None

    @property
    def failed(self) -> list[DayReport]:
        """The days that did not land."""
        return [report for report in self.days if not report.ok]

    @property
    def listed(self) -> int:
        """Papers listed across all the days that landed."""
        return sum(r.change.listed for r in self.days if r.change is not None)

    @property
    def added(self) -> int:
        """New (day, paper) list entries."""
        return sum(r.change.added for r in self.days if r.change is not None)


def default_days(now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """Yesterday and today in UTC: the lists that can still change."""
    today = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date()
    return today - dt.timedelta(days=1), today


def _require_huggingface(sources: Sources) -> None:
    if sources.huggingface is None:
        raise SourceError("huggingface", "the Hugging Face source is disabled ([sources.huggingface] enabled)")


async def ingest_day(day: dt.date, catalogue: DailyLists, sources: Sources) -> DayChange:
    """Fetch one day's list and store it; raises SourceError if the source fails after its retries."""
    _require_huggingface(sources)
    assert sources.huggingface is not None
    entries = await sources.huggingface.fetch_day(day)
    change = await catalogue.record_day(day, entries)
    log.log(
        logging.INFO if change.listed else logging.DEBUG,
        "ingested %s: %d listed, %d new entries, %d papers changed",
        day,
        change.listed,
        change.added,
        change.papers_changed,
    )
    return change


async def ingest_range(
    since: dt.date,
    until: dt.date,
    catalogue: DailyLists,
    sources: Sources,
    *,
    on_day: Callable[[DayReport], None] | None = None,
) -> RangeReport:
    """Ingest every day from `since` to `until` inclusive; failures are reported per day, not raised."""
    _require_huggingface(sources)
    report = RangeReport()
    unreachable = 0
    day = since
    while day <= until:
        try:
            day_report = DayReport(day=day, change=await ingest_day(day, catalogue, sources))
            unreachable = 0
        except SourceError as exc:
            log.error("ingest of %s failed: %s", day, exc)
            day_report = DayReport(day=day, error=exc)
            unreachable = unreachable + 1 if exc.status is None or exc.status >= 500 or exc.status == 429 else 0
        report.days.append(day_report)
        if on_day is not None:
            on_day(day_report)
        if unreachable >= _UNREACHABLE_DAYS_BEFORE_GIVING_UP and day < until:
            report.aborted = f"gave up after {unreachable} consecutive days failed: {day_report.error}"
            log.error("ingest range %s..%s aborted at %s: the source looks down", since, until, day)
            break
        day += dt.timedelta(days=1)
    return report
