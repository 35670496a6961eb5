"""The one scheduler of the running bot: APScheduler 3's AsyncIOScheduler behind a small, testable facade.

Why a facade: APScheduler 3 reads the wall clock inline (`datetime.now()` in `_process_jobs`), so tests
would have to patch time globally — which also moves the clocks of discord.py, aiohttp and the fake Discord.
Instead every decision here reads one injectable `now()`: tests hand in a clock they move by hand, then
`await scheduler.wakeup()` runs whatever became due and waits for it. Nothing sleeps to wait.

This is the only module that imports `apscheduler` (tests/test_layering.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.base import BaseTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from apscheduler.triggers.date import DateTrigger  # type: ignore[import-untyped]

from bot.digest.timing import local_instant, zone

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
JobFunc = Callable[[], Awaitable[object]]
#: Claims one run of a job across processes: (job id, the firing's scheduled time) -> whether this one runs it.
SlotClaim = Callable[[str, dt.datetime], Awaitable[bool]]
# How far back to look for the firing a late (coalesced) run stands for: a crontab repeats within a year.
_LOOKBACK = (dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(days=32), dt.timedelta(days=366))


def utc_now() -> dt.datetime:
    """Return the current time as an aware UTC datetime (the production clock)."""
    return dt.datetime.now(dt.UTC)


class _JoinableExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """AsyncIOExecutor whose in-flight job tasks can be awaited (for `Scheduler.wakeup`)."""

    async def join(self) -> None:
        """Wait until every job task started so far (and any they started) has finished."""
        # `_pending_futures` is AsyncIOExecutor's own bookkeeping (APScheduler 3.x); the done-callback
        # removes each future, so we loop until the set stays empty.
        while pending := [f for f in self._pending_futures if not f.done()]:
            await asyncio.gather(*pending, return_exceptions=True)


class _ClockedScheduler(AsyncIOScheduler):  # type: ignore[misc]
    """AsyncIOScheduler that asks `clock()` instead of the wall clock when deciding what is due."""

    def __init__(self, clock: Clock, **options: Any) -> None:
        self._clock = clock
        super().__init__(**options)

    def _process_jobs(self) -> float | None:
        # BaseScheduler._process_jobs calls `datetime.now(self.timezone)` itself. Rather than copying that
        # method, we let it run against a datetime class whose now() is our clock, only for this call.
        # The scheduler runs on the event loop thread only, so the swap cannot race with another thread.
        import apscheduler.schedulers.base as base  # type: ignore[import-untyped]

        clock = self._clock

        class _Now(dt.datetime):
            @classmethod
            def now(cls, tz: dt.tzinfo | None = None) -> _Now:
                value = clock()
                return value.astimezone(tz) if tz is not None else value  # type: ignore[return-value]

        real = base.datetime
        base.datetime = _Now
        try:
            result: float | None = super()._process_jobs()
        finally:
            base.datetime = real
        return result

    def process_now(self) -> None:
        """Run due jobs synchronously on the loop thread, then re-arm the timer (wakeup() defers)."""
        self._stop_timer()
        self._start_timer(self._process_jobs())


class Scheduler:
    """Owns the APScheduler instance: cron jobs in UTC, digest jobs in local time, one injectable clock."""

    def __init__(self, now: Clock = utc_now) -> None:
        self.now = now
        self._executor = _JoinableExecutor()
        self._aps = _ClockedScheduler(
            now,
            timezone=dt.UTC,
            executors={"default": self._executor},
            # coalesce: a bot that slept through several firings runs a job once, not once per firing.
            # misfire_grace_time=None: a late job still runs; the job itself decides whether work is owed
            # (the digest's owed-post rule), which is more precise than a fixed misfire window.
            # max_instances=1: a slow post must not overlap the next run of the same job.
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        """Whether start() has been called and shutdown() has not."""
        return bool(self._aps.running)

    def start(self) -> None:
        """Start processing jobs; must be called with the event loop running."""
        if not self._aps.running:
            self._aps.start()

    def shutdown(self) -> None:
        """Stop the scheduler now, cancelling job tasks still running (records make that safe)."""
        if self._aps.running:
            # AsyncIOScheduler.shutdown defers itself with call_soon_threadsafe; we are on the loop thread,
            # so stop synchronously: a restart right after shutdown must not find a half-stopped scheduler.
            BaseScheduler.shutdown(self._aps, wait=False)
            self._aps._stop_timer()
        for task in self._tasks:
            task.cancel()

    def spawn(self, name: str, func: JobFunc) -> asyncio.Task[None]:
        """Run `func` once, now, as background work owned by the scheduler: errors are logged with `name`,
        and shutdown() cancels it like a running job (e.g. the digest's start-up catch-up)."""
        task = asyncio.get_running_loop().create_task(_guarded(name, func)(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def add_cron_job(self, job_id: str, cron: str, func: JobFunc) -> None:
        """Add (or replace) `func` to run on a 5-field UTC crontab, e.g. ``*/30 * * * *``."""
        trigger = CronTrigger.from_crontab(cron, timezone=dt.UTC)
        self._add(job_id, trigger, func)

    def add_claimed_cron_job(self, job_id: str, cron: str, func: JobFunc, claim: SlotClaim) -> None:
        """Like `add_cron_job`, but each firing runs in only one of the processes that schedule it: the run first
        claims the firing (`claim(job_id, its scheduled time)`) and does nothing when another process has.

        The key is the crontab's latest firing at or before the run, so processes that wake a little apart —
        or one that runs a firing late, coalesced — agree on it.
        """
        trigger = CronTrigger.from_crontab(cron, timezone=dt.UTC)

        async def run_once() -> None:
            slot_time = last_firing(trigger, self.now())
            if slot_time is None or not await claim(job_id, slot_time):
                log.info("Scheduled job %s at %s: run by another process", job_id, slot_time)
                return
            await func()

        self._add(job_id, trigger, run_once)

    def add_trigger_job(self, job_id: str, trigger: BaseTrigger, func: JobFunc) -> None:
        """Add (or replace) `func` on an arbitrary APScheduler trigger (used by the digest jobs)."""
        self._add(job_id, trigger, func)

    def add_daily_job(
        self, job_id: str, at: dt.time, timezone: str, func: JobFunc, *, weekday: int | None = None
    ) -> None:
        """Add (or replace) `func` to run daily at local time `at` in IANA `timezone` (DST-correct); with
        `weekday` (Monday = 0), only on that local weekday."""
        self._add(job_id, DailyTrigger(at, timezone, weekday=weekday), func)

    def add_once_job(self, job_id: str, at: dt.datetime, func: JobFunc) -> None:
        """Add (or replace) `func` to run once at `at` (e.g. a retry when another process's lease ends)."""
        self._add(job_id, DateTrigger(run_date=at.astimezone(dt.UTC), timezone=dt.UTC), func)

    def remove_job(self, job_id: str) -> None:
        """Remove a job if it exists."""
        if self._aps.get_job(job_id) is not None:
            self._aps.remove_job(job_id)

    def job_ids(self) -> list[str]:
        """Ids of the scheduled jobs."""
        return [job.id for job in self._aps.get_jobs()]

    def next_run(self, job_id: str) -> dt.datetime | None:
        """When the job will next run (UTC), or None if unknown/not scheduled."""
        job = self._aps.get_job(job_id)
        when = getattr(job, "next_run_time", None) if job is not None else None
        return when.astimezone(dt.UTC) if when is not None else None

    async def wakeup(self) -> None:
        """Run every job due at now() and wait for those runs to finish (tests: move clock, call this)."""
        if not self._aps.running:
            return
        self._aps.process_now()
        await self._executor.join()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _add(self, job_id: str, trigger: BaseTrigger, func: JobFunc) -> None:
        guarded = _guarded(job_id, func)
        # next_run_time computed from our clock, not the wall clock APScheduler would read in add_job().
        first = trigger.get_next_fire_time(None, self.now().astimezone(dt.UTC))
        if not self._aps.running:
            # Before start() jobs are only queued and replace_existing is not applied to the queue.
            self.remove_job(job_id)
        self._aps.add_job(guarded, trigger=trigger, id=job_id, name=job_id, replace_existing=True, next_run_time=first)


def last_firing(trigger: BaseTrigger, now: dt.datetime) -> dt.datetime | None:
    """The latest time at or before `now` that `trigger` fires (None if it never fired within a year)."""
    for lookback in _LOOKBACK:
        fire = trigger.get_next_fire_time(None, now - lookback)
        if fire is None or fire > now:
            continue
        while (following := trigger.get_next_fire_time(fire, fire + dt.timedelta(microseconds=1))) is not None:
            if following > now:
                break
            fire = following
        found: dt.datetime = fire.astimezone(dt.UTC)
        return found
    return None


class DailyTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires once per local day at a wall-clock time, by the contract's DST rules (see `timing.py`).

    APScheduler's CronTrigger gets both DST cases wrong for us: a nonexistent 02:30 fires at 03:30 instead
    of the next valid minute (03:00), and a repeated 02:30 fires twice. This trigger asks `local_instant`.
    """

    def __init__(self, at: dt.time, timezone: str, *, weekday: int | None = None) -> None:
        self.at = at
        self.tz = zone(timezone)
        self.weekday = weekday  # None: every day; else only on this local weekday (Monday = 0)

    def get_next_fire_time(self, previous_fire_time: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
        """The first post instant after the previous firing, else the first at or after `now`."""
        after = previous_fire_time if previous_fire_time is not None else now
        today = after.astimezone(self.tz).date()
        for offset in range(-1, 10):
            local_date = today + dt.timedelta(days=offset)
            if self.weekday is not None and local_date.weekday() != self.weekday:
                continue
            instant = local_instant(local_date, self.at, self.tz)
            if instant > after or (previous_fire_time is None and instant == after):
                return instant
        return None  # pragma: no cover - a weekly time always recurs within ten days

    def __str__(self) -> str:
        days = "daily" if self.weekday is None else f"weekly on day {self.weekday}"
        return f"{days} at {self.at:%H:%M} {self.tz.key}"

    def __repr__(self) -> str:
        return f"<DailyTrigger {self}>"


def _guarded(job_id: str, func: JobFunc) -> Callable[[], Coroutine[Any, Any, None]]:
    """Wrap a job so an exception is logged with its job id and never kills the scheduler."""

    async def run() -> None:
        try:
            await func()
        except asyncio.CancelledError:
            # Only shutdown() cancels jobs, and this coroutine is its task's top level: end quietly instead
            # of APScheduler logging a cancelled job as an ERROR with a traceback on every clean stop.
            log.info("scheduled job %s was cancelled by shutdown", job_id)
        except Exception:
            log.exception("scheduled job %s failed", job_id)

    return run
