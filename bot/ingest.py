"""The sources → catalogue use case: fetch Daily Papers lists and store them.

Called by `paperbot ingest` and by the scheduler's ingest cron. Ingest reads Hugging Face only (arXiv serves
lookups of single papers); every call is idempotent because the catalogue's upserts are. A range:

* keeps going past a day that fails, so one bad day never costs the others;
* gives up early when the source looks down (consecutive days with no answer or a server error), so a dead
  source fails fast instead of once per day;
* treats HTTP 429 as "slower", not "down": the HTTP client holds the host back for what the server asked, and
  the range retries the same day, giving up only after many rate-limited tries in a row;
* resumes: a day whose list was fetched at least `FINAL_AFTER` after that UTC day ended cannot change any
  more (papers are added to a day's list during that day), so a rerun skips it unless asked to refetch.
  Recent days, days never fetched and days whose fetch failed are fetched.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bot import metrics
from bot.catalogue import LIST_SETTLED_AFTER, DailyLists, DayChange
from bot.errors import SourceError
from bot.sources import Sources

log = logging.getLogger(__name__)

# After this many consecutive days fail with no HTTP answer or a server error, the source is taken as down.
_UNREACHABLE_DAYS_BEFORE_GIVING_UP = 2
# After this many calls in a row answered HTTP 429 (each after waiting what the server asked, up to 60 s, on
# top of the call's own retries), the range stops: Hugging Face wants a break longer than a run should wait.
_RATE_LIMITED_TRIES_BEFORE_GIVING_UP = 10
_RATE_LIMITED = 429

Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def is_final(day: dt.date, fetched_at: dt.datetime) -> bool:
    """Whether a list of `day` fetched at `fetched_at` is settled (the catalogue's rule, `LIST_SETTLED_AFTER`:
    a day after the UTC day ended), so a rerun of a range does not fetch it again."""
    return fetched_at >= dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC) + LIST_SETTLED_AFTER


@dataclass(frozen=True, slots=True)
class DayReport:
    """The outcome of one day: the catalogue change, the error that stopped it, or skipped (stored, final)."""

    day: dt.date
    change: DayChange | None = None
    error: SourceError | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        """Whether the day landed."""
        return self.error is None


@dataclass(slots=True)
class RangeReport:
    """Every day's report for a range, in date order."""

    days: list[DayReport] = field(default_factory=list)
    #: why the range stopped before its end (one short sentence), or None if every day was tried
    aborted: str | None = None

    @property
    def failed(self) -> list[DayReport]:
        """The days that did not land."""
        return [report for report in self.days if not report.ok]

    @property
    def skipped(self) -> list[DayReport]:
        """The days not fetched because their stored list is final."""
        return [report for report in self.days if report.skipped]

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


async def ingest_day(
    day: dt.date, catalogue: DailyLists, sources: Sources, *, fetched_at: dt.datetime | None = None
) -> DayChange:
    """Fetch one day's list and store it; raises SourceError if the source fails after its retries.

    `fetched_at` (default: now) is recorded as when the list was fetched; take it before the request, so a
    list counts as final only if the whole request came after the day ended.
    """
    _require_huggingface(sources)
    assert sources.huggingface is not None
    fetched_at = fetched_at or _utc_now()
    try:
        entries = await sources.huggingface.fetch_day(day)
    except SourceError as exc:
        metrics.ingest_day("rate_limited" if exc.status == _RATE_LIMITED else "failed")
        raise
    metrics.ingest_day("ok")
    change = await catalogue.record_day(day, entries, fetched_at=fetched_at)
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
    refetch: bool = False,
    now: Clock = _utc_now,
) -> RangeReport:
    """Ingest every day from `since` to `until` inclusive; failures are reported per day, not raised.

    Days whose stored list is final are skipped (reported with `skipped`) unless `refetch`. `on_day` sees
    every day of the range once, in order, skipped ones included (it drives the CLI's progress bar).
    """
    _require_huggingface(sources)
    report = RangeReport()
    fetched = {} if refetch else await catalogue.fetched_days(since, until)
    unreachable = 0
    rate_limited = 0
    day = since
    while day <= until:
        last_fetch = fetched.get(day)
        if last_fetch is not None and is_final(day, last_fetch):
            day_report = DayReport(day=day, skipped=True)
        else:
            try:
                day_report = DayReport(day=day, change=await ingest_day(day, catalogue, sources, fetched_at=now()))
                unreachable = rate_limited = 0
            except SourceError as exc:
                if exc.status == _RATE_LIMITED:
                    rate_limited += 1
                    if rate_limited < _RATE_LIMITED_TRIES_BEFORE_GIVING_UP:
                        # The HTTP client holds every request to the host back for the server's Retry-After,
                        # so trying the same day again waits exactly as long as Hugging Face asked.
                        log.warning(
                            "ingest of %s: Hugging Face is rate-limiting (HTTP 429); waiting and trying again (%d/%d)",
                            day,
                            rate_limited,
                            _RATE_LIMITED_TRIES_BEFORE_GIVING_UP,
                        )
                        continue
                log.error("ingest of %s failed: %s", day, exc)
                day_report = DayReport(day=day, error=exc)
                if exc.status != _RATE_LIMITED:
                    rate_limited = 0
                    # No answer or a server error: the source may be down. Any other answer means it is up.
                    unreachable = unreachable + 1 if exc.status is None or exc.status >= 500 else 0
        report.days.append(day_report)
        if on_day is not None:
            on_day(day_report)
        if rate_limited >= _RATE_LIMITED_TRIES_BEFORE_GIVING_UP:
            report.aborted = (
                f"Hugging Face answered HTTP 429 (rate limited) {rate_limited} times in a row; "
                "run it again later: days already stored are not fetched again"
            )
            log.error("ingest range %s..%s stopped at %s: %s", since, until, day, report.aborted)
            break
        if unreachable >= _UNREACHABLE_DAYS_BEFORE_GIVING_UP and day < until:
            report.aborted = f"the source looks down ({unreachable} days in a row got no answer or a server error)"
            log.error("ingest range %s..%s aborted at %s: %s", since, until, day, report.aborted)
            break
        day += dt.timedelta(days=1)
    return report
