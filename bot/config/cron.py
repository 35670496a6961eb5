"""`[ingest] cron`, checked by APScheduler's own crontab parser: the one the scheduler will run it with.

So `paperbot config check` accepts exactly what `Scheduler.add_cron_job` (`CronTrigger.from_crontab`) can
schedule, and the two can never disagree. This module imports only that parser (`apscheduler.triggers.cron`),
not a scheduler; tests/test_layering.py allows exactly that.

Three rules on top of the parser, because APScheduler 3 reads crontab text differently from crontab(5) in
two places, and an expression copied from a crontab would otherwise run at other times without a word:

* the day-of-week field is `*` or day names (`mon-fri`, `sat,sun`): APScheduler 3 counts 0 as Monday where
  crontab counts 0 as Sunday, so `1-5` or a step like `*/2` would land on other days;
* day of month and day of week are not both restricted: crontab runs when either matches, APScheduler only
  when both do;
* the expression fires at least once (`0 0 31 2 *` never does).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

__all__ = ["EXAMPLE", "check_cron", "validate_cron"]

EXAMPLE: Final = "*/30 * * * *"
# Any fixed instant works for "does it ever fire": a cron that fires at all fires within a few years of it.
_PROBE_START: Final = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def validate_cron(expression: str) -> str:
    """Check a 5-field UTC crontab expression; return it with single spaces, or raise ValueError(reason)."""
    fields = expression.split()
    if len(fields) == 5:
        day_of_month, day_of_week = fields[2], fields[4]
        if any(ch.isdigit() for ch in day_of_week):
            raise ValueError(
                "write the day of week as names, like mon-fri or sat,sun: "
                "crontab counts 0 as Sunday, the scheduler (APScheduler 3) as Monday"
            )
        if day_of_month != "*" and day_of_week != "*":
            raise ValueError("restrict day of month or day of week, not both")
    try:
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=dt.UTC)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    if trigger.get_next_fire_time(None, _PROBE_START) is None:
        raise ValueError("it never fires")
    return " ".join(fields)


def check_cron(value: Any) -> Any:
    """The pydantic validator: a crontab string, or 'expected ...' with the parser's reason."""
    expected = f'expected a 5-field UTC crontab like "{EXAMPLE}"'
    if not isinstance(value, str):
        raise ValueError(expected)
    try:
        return validate_cron(value)
    except ValueError as exc:
        raise ValueError(f"{expected} ({exc})") from None
