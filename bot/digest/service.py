"""The daily digest use case: which channels are subscribed, when each posts, and posting exactly once.

Who owns what:
- `timing.py` says when a post is due and whether it is still owed (pure), daily or weekly;
- `compose.py` and `bot.render.digest` say what it contains (pure): a day's list or a week's recap, and which
  topic roles it pings;
- the catalogue's `DigestStore` keeps subscriptions and one record per (channel, local date);
- a `DigestSink` delivers messages (Discord in production);
- this module ties them together and owns the scheduler jobs: one per subscription at its local time, plus
  a catch-up job every 10 minutes that finishes posts a transient error interrupted and makes due edits.

Exactly once, across every process on the catalogue: before the first message the post is claimed in the
store — a 'posting' record with the rendered messages and each part's nonce, held by this process (`owner`)
under a lease it renews while posting. Each sent part is recorded with its message id; 'posted' closes it.
Another process finds the record held and leaves it, looking again when the lease would run out; a process
that dies stops renewing, and the next claim after the lease takes the post over and finishes it from the
stored render. Taking over reconciles first: the recorded parts are looked up by message id, and a part sent
but not recorded (death between Discord's answer and the record) is found by searching the channel from the
post's start for the post's footer marker; parts found are recorded, only the others are sent. A part is sent
with its nonce, so even a send that races a stale owner's is answered by Discord with the message already
made. An owner that finds its lease taken (a slow renewal) stops at once. A channel that is gone or forbids
the bot (404/403) closes that day's record as 'failed' and marks the channel failing — it is tried again at
the next day's post time, never every minute.

A source that is down when a post is due (its list could not be refreshed and none is stored) makes no
misleading "no papers today" post: the channel is marked failing with the reason, and the catch-up tries again
within the grace window.

Beyond the post (with a `PostFeatures` sink): a subscription with `thread` gets a public thread started from
its post's first message, under the same lease, before the post is closed — a process finishing another's post
first asks whether that message has a thread already, so a post never gets two; a missing permission is recorded
with the post (the post itself stands). With `update_after_hours`, closing the post writes its one edit, due
that many hours later: the edit refreshes the list, rebuilds the same messages with the upvotes as they are
then (`bot.render.digest.settled`: same papers, same order), is claimed under a lease with that content, and
edits each part once — a process taking a dead one's edit over skips parts whose footer already shows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from functools import partial

from bot import metrics
from bot.catalogue import EditState, NewPost, PostClaim, PostEditClaim, PostRecord, PostState
from bot.config import Settings
from bot.digest.compose import WEEK_DAYS, compose, compose_recap, matched_pings
from bot.digest.schedule import Clock, Scheduler
from bot.digest.sink import DeliveryError, DigestSink, OwnMessages, PostFeatures, SentMessage, snowflake_at
from bot.digest.status import ChannelStatus, channel_statuses
from bot.digest.subscriptions import DigestCatalogue, effective_subscriptions
from bot.digest.timing import Slot, owed_slot, slot, zone
from bot.models import Paper, Subscription
from bot.render.digest import (
    Rendered,
    is_settled,
    marker_for,
    paper_id_of,
    parse_marker,
    render,
    render_recap,
    settled,
    thread_name,
)
from bot.render.specs import MessageSpec, messages_from_json, messages_to_json
from bot.render.status import source_down_reason

__all__ = [
    "ChannelStatus",
    "DigestCatalogue",
    "DigestService",
    "SubscriptionError",
    "build_post",
    "effective_subscriptions",
    "process_owner",
    "todays_slot",
    "week_papers",
]

log = logging.getLogger(__name__)

JOB_PREFIX = "digest:"
CATCH_UP_JOB = "digest-catch-up"
CATCH_UP_CRON = "*/10 * * * *"
RETRY_JOB_PREFIX = "digest-retry:"
START_RETRY_JOB = "digest-start-retry"
RESCHEDULE_JOB_PREFIX = "digest-reschedule:"
# Retrying after a failure waits (first, longest), doubling in between: a failed start (the store unreachable),
# and one subscription that could not be scheduled.
START_BACKOFF = (dt.timedelta(seconds=30), dt.timedelta(minutes=10))
SCHEDULE_BACKOFF = (dt.timedelta(minutes=1), dt.timedelta(hours=1))
# A sink without `OwnMessages` is searched for a half-made post only among the channel's latest messages.
HISTORY_LIMIT = 100
# A list refreshed this recently is not fetched again for another channel's post.
REFRESH_FRESH = dt.timedelta(minutes=10)
REFRESH_TIMEOUT_S = 120.0
# How long a claimed post stays this process's without a renewal; it renews every quarter of that while posting.
# A killed process's post is taken over by another once this has run out (RETRY_AFTER_LEASE later).
LEASE = dt.timedelta(minutes=2)
RETRY_AFTER_LEASE = dt.timedelta(seconds=5)
# Searching a channel from a post's start allows for this much skew between the claimer's clock and Discord's.
SCAN_MARGIN = dt.timedelta(minutes=5)
# A settled edit: a handful of message edits, held this long; a dead holder's edit is taken over after it.
EDIT_JOB_PREFIX = "digest-edit:"
EDIT_LEASE = dt.timedelta(minutes=5)
# An edit still failing (Discord down) this long after it was due is given up: upvotes that late are old news.
EDIT_GIVE_UP = dt.timedelta(hours=24)

Refresh = Callable[[dt.date], Awaitable[object]]


class SubscriptionError(Exception):
    """A subscribe/unsubscribe request that must be refused; the message is safe to show an admin."""


# ---- building a post (shared by the service, preview and the dry run) ------------------------------------


async def week_papers(catalogue: DigestCatalogue, day: dt.date) -> list[Paper]:
    """Papers of the 7 list days ending at `day` (weekly recaps, and empty_days = "week")."""
    papers: list[Paper] = []
    for offset in range(WEEK_DAYS):
        papers.extend(await catalogue.day_papers(day - dt.timedelta(days=offset)))
    return papers


async def build_post(catalogue: DigestCatalogue, sub: Subscription, list_day: dt.date, local_date: dt.date) -> Rendered:
    """Compose and render the post of `sub` showing list `list_day` (the same builders everywhere): a day's list,
    or for a weekly subscription the recap of the 7 list days ending at `list_day`; the first message pings the
    roles whose keywords a paper of the post matches."""
    if sub.cadence == "weekly":
        recap = compose_recap(await week_papers(catalogue, list_day), sub, list_day)
        if not recap.papers and sub.empty_days == "skip":
            return Rendered(marker=marker_for(local_date))
        return render_recap(recap, sub.channel_id, local_date, pings=matched_pings(recap.papers, sub.pings))
    papers = await catalogue.day_papers(list_day)
    week: list[Paper] = []
    if sub.empty_days == "week":
        week = await week_papers(catalogue, list_day)
    digest = compose(papers, sub, list_day, week_papers=week)
    return render(digest, local_date, pings=matched_pings(digest.papers, sub.pings))


def todays_slot(sub: Subscription, now: dt.datetime, grace_hours: float) -> Slot:
    """The slot of the subscription's current local date (what "today's post" means for previews)."""
    return slot(sub, now.astimezone(zone(sub.timezone)).date(), grace_hours)


def process_owner() -> str:
    """A name for this process in the post records' claims: host and pid (for people), plus a random part, so a
    restarted process that got the same pid is still a different owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff(attempt: int, first: dt.timedelta, longest: dt.timedelta) -> dt.timedelta:
    """The wait before retry number `attempt` (1, 2, …): `first`, doubling each time, at most `longest`."""
    doubled: dt.timedelta = first * 2 ** min(attempt - 1, 30)
    return min(longest, doubled)


def _reason(exc: BaseException) -> str:
    """An error as one line for the log and the status: its message, else its kind."""
    text = " ".join(str(exc).split())
    return text or exc.__class__.__name__


def part_nonces(messages: Sequence[MessageSpec]) -> dict[int, str]:
    """Each part's deterministic nonce, as rendered (parts rendered without one have none)."""
    # `MessageSpec.nonce` comes with the rendering layer (bot/render); until then parts carry none.
    return {m.part: nonce for m in messages if isinstance(nonce := getattr(m, "nonce", None), str)}


def _part_of(message: SentMessage, local_date: dt.date) -> int | None:
    """The part number of one of the bot's messages, if it is a part of the post for `local_date`."""
    for footer in message.footers:
        parsed = parse_marker(footer)
        if parsed is not None and parsed[0] == local_date:
            return parsed[1]
    return None


class LeaseLost(Exception):
    """This process no longer holds the post it was making: another took it over after the lease ran out."""


class _Lease:
    """This process's hold on one post while it makes it: `lost` once a renewal or a write was refused."""

    def __init__(self) -> None:
        self.lost = False

    def check(self) -> None:
        """Raise LeaseLost when the lease is gone: nothing more may be sent or recorded for the post."""
        if self.lost:
            raise LeaseLost


# ---- the service ------------------------------------------------------------------------------------------


class DigestService:
    """Schedules and posts every subscription's daily digest; the slash commands call into it."""

    def __init__(
        self,
        catalogue: DigestCatalogue,
        sink: DigestSink,
        scheduler: Scheduler,
        settings: Settings,
        now: Clock | None = None,
        *,
        refresh: Refresh | None = None,
        owner: str | None = None,
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.catalogue = catalogue
        self.sink = sink
        self.scheduler = scheduler
        self.settings = settings
        self.now: Clock = now or scheduler.now
        self._refresh = refresh
        #: who this service is in the post records' claims: unique per process (and per service in tests)
        self.owner = owner or process_owner()
        self.lease = lease
        #: real seconds between renewals of a post's lease while posting
        self.renew_every_s = lease.total_seconds() / 4
        self._channel_locks: dict[int, asyncio.Lock] = {}
        self._refresh_locks: dict[dt.date, asyncio.Lock] = {}
        self._refreshed: dict[dt.date, dt.datetime] = {}
        self._refresh_errors: dict[dt.date, str | None] = {}
        self._rebuild_lock = asyncio.Lock()
        self._started = False
        self._start_attempts = 0
        self._schedule_attempts: dict[int, int] = {}
        #: why the last start attempt failed, while it is being retried (None once started)
        self.start_error: str | None = None
        #: subscriptions that could not be scheduled, by channel id, with the reason (each retried with backoff)
        self.unscheduled: dict[int, str] = {}
        #: set once start() has finished (jobs scheduled, owed posts made): tests and the runtime can await it
        self.ready = asyncio.Event()

    # -- lifecycle

    async def start(self) -> None:
        """Record config channels as seen, schedule one job per subscription, reconcile half-made posts and make
        owed posts; never fails as a whole.

        A subscription that cannot be scheduled (a stored time zone the tz database no longer knows) costs only
        itself: it is reported (`unscheduled`, `statuses`) and tried again with backoff. A start that fails
        outright (the store unreachable, or locked by another process past its wait) is retried by itself with
        backoff — not on the next `on_ready`, which a resumed gateway session never fires. Idempotent: a second
        call changes nothing.
        """
        if self._started:
            return
        self._started = True
        try:
            await self._start_attempt()
        except BaseException:
            self._started = False  # cancelled by shutdown: a later start begins again
            raise

    async def _start_attempt(self) -> None:
        try:
            config_ids = [sub.channel_id for sub in self.settings.digest.subscriptions()]
            await self.catalogue.digests.see_channels(config_ids, now=self.now())
            await self.rebuild()
            self.scheduler.add_cron_job(CATCH_UP_JOB, CATCH_UP_CRON, self.catch_up)
            # Reconciles every 'posting' record and makes any post owed while the bot was down.
            await self.catch_up()
        except Exception as exc:
            self._start_attempts += 1
            delay = backoff(self._start_attempts, *START_BACKOFF)
            self.start_error = _reason(exc)
            self.scheduler.add_once_job(START_RETRY_JOB, self.now() + delay, self._start_attempt)
            log.error(
                "Digest service could not start (attempt %d): %s; trying again in %s",
                self._start_attempts,
                self.start_error,
                delay,
            )
            return
        self._start_attempts = 0
        self.start_error = None
        self.ready.set()
        failing = f"; not scheduled: {sorted(self.unscheduled)}" if self.unscheduled else ""
        log.info("Digest service ready: owed posts made, jobs scheduled%s", failing)

    async def rebuild(self) -> list[Subscription]:
        """Replace the digest jobs with one per effective subscription (at start and on every change)."""
        async with self._rebuild_lock:
            subs = await effective_subscriptions(self.catalogue, self.settings)
            wanted = {sub.channel_id for sub in subs}
            for job_id in self.scheduler.job_ids():
                prefix = next((p for p in (JOB_PREFIX, RESCHEDULE_JOB_PREFIX) if job_id.startswith(p)), None)
                if prefix is not None and int(job_id.removeprefix(prefix)) not in wanted:
                    self.scheduler.remove_job(job_id)
            for channel_id in set(self.unscheduled) - wanted:
                self._forget_problem(channel_id)
            scheduled = sum([self._schedule(sub) for sub in subs])
            log.info("Digest: %d subscription(s) scheduled, %d not", scheduled, len(subs) - scheduled)
            return subs

    def _schedule(self, sub: Subscription) -> bool:
        """Add the subscription's daily job; on failure record why and try again later (with backoff)."""
        channel_id = sub.channel_id
        try:
            zone(sub.timezone)  # a name the tz database does not know (any more) fails here, for this one only
            self.scheduler.add_daily_job(
                f"{JOB_PREFIX}{channel_id}",
                sub.time,
                sub.timezone,
                partial(self.post_due, channel_id),
                weekday=sub.weekday if sub.cadence == "weekly" else None,
            )
        except Exception as exc:
            self.unscheduled[channel_id] = f"cannot be scheduled: {_reason(exc)}"
            self.scheduler.remove_job(f"{JOB_PREFIX}{channel_id}")
            delay = self._schedule_later(channel_id)
            log.error(
                "Digest for channel %s %s; trying again in %s (subscription: %r)",
                channel_id,
                self.unscheduled[channel_id],
                delay,
                sub,
            )
            return False
        self._forget_problem(channel_id)
        return True

    def _forget_problem(self, channel_id: int) -> None:
        self.unscheduled.pop(channel_id, None)
        self._schedule_attempts.pop(channel_id, None)
        self.scheduler.remove_job(f"{RESCHEDULE_JOB_PREFIX}{channel_id}")

    async def _reschedule(self, channel_id: int) -> None:
        """Try one unscheduled subscription again, as stored now; once scheduled, make a post owed meanwhile."""
        try:
            sub = await self.subscription(channel_id)
        except Exception as exc:
            log.warning("Digest for channel %s: reading its subscription failed: %s", channel_id, _reason(exc))
            async with self._rebuild_lock:
                self._schedule_later(channel_id)
            return
        async with self._rebuild_lock:
            if sub is None:
                self._forget_problem(channel_id)
                return
            scheduled = self._schedule(sub)
        if scheduled:
            log.info("Digest for channel %s scheduled again", channel_id)
            await self.post_due(channel_id, sub)

    def _schedule_later(self, channel_id: int) -> dt.timedelta:
        """Try the channel's scheduling again after a backoff that doubles with each failure; return it."""
        attempt = self._schedule_attempts[channel_id] = self._schedule_attempts.get(channel_id, 0) + 1
        delay = backoff(attempt, *SCHEDULE_BACKOFF)
        self.scheduler.add_once_job(
            f"{RESCHEDULE_JOB_PREFIX}{channel_id}", self.now() + delay, partial(self._reschedule, channel_id)
        )
        return delay

    # -- queries for the commands

    async def subscriptions(self) -> list[Subscription]:
        """The effective subscriptions (config merged with the database)."""
        return await effective_subscriptions(self.catalogue, self.settings)

    async def subscription(self, channel_id: int) -> Subscription | None:
        """The effective subscription of one channel."""
        for sub in await self.subscriptions():
            if sub.channel_id == channel_id:
                return sub
        return None

    def grace_hours(self, channel_id: int) -> float:
        """The grace window of a channel (its own from the file, else the default)."""
        return self.settings.digest.grace_hours_for(channel_id)

    async def statuses(self, guild_id: int | None = None) -> list[ChannelStatus]:
        """Every subscription (of one guild, when given) with next post time, last post and last error."""
        out = await channel_statuses(self.catalogue, self.settings, self.now(), unscheduled=self.unscheduled)
        return [
            s for s in out if guild_id is None or s.subscription.guild_id is None or s.subscription.guild_id == guild_id
        ]

    async def preview(self, sub: Subscription) -> Rendered:
        """Today's post for `sub` as it would look from the stored list (no refresh, nothing recorded)."""
        today = todays_slot(sub, self.now(), self.grace_hours(sub.channel_id))
        return await build_post(self.catalogue, sub, today.list_day, today.local_date)

    # -- changes from the commands

    async def subscribe(self, sub: Subscription) -> Subscription:
        """Create or update a channel's subscription and reschedule; a new one is owed from now on."""
        await self.catalogue.digests.subscribe(sub, now=self.now())
        await self.rebuild()
        effective = await self.subscription(sub.channel_id)
        assert effective is not None
        return effective

    async def unsubscribe(self, channel_id: int) -> bool:
        """Remove a slash-command subscription and its job; refuse a channel from the config file."""
        if channel_id in {sub.channel_id for sub in self.settings.digest.subscriptions()}:
            raise SubscriptionError(
                f"<#{channel_id}> is subscribed in the configuration file ([[digest.channels]] with "
                f"channel_id = {channel_id}); remove it there and restart the bot to stop its digest."
            )
        removed = await self.catalogue.digests.unsubscribe(channel_id)
        await self.rebuild()
        return removed

    # -- the jobs

    async def catch_up(self) -> None:
        """Make every post that is owed now and not yet made (after downtime or a transient error), then every
        settled edit that is due (and schedule those still ahead)."""
        for sub in await self.subscriptions():
            if sub.channel_id not in self.unscheduled:  # those are retried by their own job
                await self.post_due(sub.channel_id, sub)
        await self.catch_up_edits()

    async def post_due(self, channel_id: int, sub: Subscription | None = None) -> PostState | None:
        """Make the post this channel owes now, if any; return the resulting record state.

        `sub` saves a lookup when the caller just read the subscriptions. Never raises: a failure is logged
        with the subscription and recorded, so one channel cannot stop the others or kill the job.
        """
        try:
            async with self._lock(channel_id):
                if sub is None:
                    sub = await self.subscription(channel_id)
                if sub is None:
                    return None
                return await self._post_due(sub)
        except Exception:
            log.exception("Digest post for channel %s failed (subscription: %r)", channel_id, sub)
            return None

    async def _post_due(self, sub: Subscription) -> PostState | None:
        now = self.now()
        due = owed_slot(sub, now, self.grace_hours(sub.channel_id))
        stale = [r for r in await self.catalogue.digests.posts_in_state("posting") if r.channel_id == sub.channel_id]
        for old in stale:
            if due is None or old.local_date != due.local_date:
                await self._resume(sub, old.local_date, owed=False)
        if due is None:
            return None
        record = await self.catalogue.digests.post(sub.channel_id, due.local_date)
        if record is not None:
            if record.state != "posting":
                return record.state
            return await self._resume(sub, due.local_date, owed=True)
        refresh_error = await self.refresh(due.list_day)
        if refresh_error is not None and not await self.catalogue.day_papers(due.list_day):
            # The list is not there because the source is down: no "no papers today" post; retried in grace.
            reason = source_down_reason(refresh_error)
            await self.catalogue.digests.mark_failing(sub.channel_id, reason, now=self.now())
            metrics.digest_post("retrying")
            log.warning(
                "Digest for %s on %s waits: %s; retrying at the next catch-up", sub.channel_id, due.local_date, reason
            )
            return None
        rendered = await build_post(self.catalogue, sub, due.list_day, due.local_date)
        now = self.now()
        if not rendered.messages:
            if await self.catalogue.digests.skip_post(sub.channel_id, due.local_date, due.list_day, now=now):
                metrics.digest_post("skipped")
            log.info("Digest for %s on %s skipped: empty list (empty_days = skip)", sub.channel_id, due.local_date)
            return "skipped"
        claim = await self.catalogue.digests.claim_post(
            sub.channel_id,
            due.local_date,
            owner=self.owner,
            lease_until=now + self.lease,
            now=now,
            new=NewPost(
                due.list_day,
                messages_to_json(rendered.messages),
                part_nonces(rendered.messages),
                guild_id=sub.guild_id if sub.guild_id is not None else self._guild_of(sub.channel_id),
            ),
        )
        if claim is None:  # another process began the same post a moment ago
            return await self._held_elsewhere(sub, due.local_date)
        return await self._complete(sub, claim, owed=True)

    async def _resume(self, sub: Subscription, local_date: dt.date, *, owed: bool) -> PostState | None:
        """Claim a 'posting' record (ours, or one whose holder's lease ran out) and finish or close it."""
        now = self.now()
        claim = await self.catalogue.digests.claim_post(
            sub.channel_id, local_date, owner=self.owner, lease_until=now + self.lease, now=now
        )
        if claim is None:
            return await self._held_elsewhere(sub, local_date)
        if claim.previous_owner != self.owner:
            log.info(
                "Digest for %s on %s: taking over the post from %s, whose lease ran out",
                sub.channel_id,
                local_date,
                claim.previous_owner or "a process from before leases",
            )
        return await self._complete(sub, claim, owed=owed)

    async def _held_elsewhere(self, sub: Subscription, local_date: dt.date) -> PostState | None:
        """Another live process holds the post: leave it, and look again when its lease would run out."""
        record = await self.catalogue.digests.post(sub.channel_id, local_date)
        if record is None or record.state != "posting":
            return None if record is None else record.state
        if record.lease_until is not None:
            retry_at = record.lease_until + RETRY_AFTER_LEASE
            self.scheduler.add_once_job(
                f"{RETRY_JOB_PREFIX}{sub.channel_id}", retry_at, partial(self.post_due, sub.channel_id)
            )
        log.info(
            "Digest for %s on %s is being posted by %s (lease until %s); looking again then",
            sub.channel_id,
            local_date,
            record.owner,
            record.lease_until,
        )
        return "posting"

    async def _complete(self, sub: Subscription, claim: PostClaim, *, owed: bool) -> PostState:
        """Finish a claimed post while keeping its lease: find what is already in the channel, send the rest."""
        record = claim.record
        local_date = record.local_date
        messages = messages_from_json(record.payload)
        async with self._keeping_lease(sub.channel_id, local_date) as lease:
            try:
                sent = dict(record.message_ids)
                if not claim.created:  # a post begun before: parts may be in the channel unrecorded
                    sent = await self._reconcile(sub, record, messages, lease)
                missing = [m for m in messages if m.part not in sent]
                if not missing:
                    log.info("Digest for %s on %s was already posted (reconciled)", sub.channel_id, local_date)
                    return await self._wrap_up(sub, record, sent, lease, owed=owed, takeover=not claim.created)
                if not owed and not sent:
                    # Nothing reached the channel and the window has closed: the post is missed, not made late.
                    await self._close(sub, local_date, "failed", "not posted before the deadline", lease)
                    metrics.digest_post("failed")
                    log.warning("Digest for %s on %s missed its window", sub.channel_id, local_date)
                    return "failed"
                if sent:
                    # Part of a post is there: complete it even late, a half digest is worse than a late half.
                    log.info(
                        "Digest for %s on %s: %d of %d part(s) missing, sending them",
                        sub.channel_id,
                        local_date,
                        len(missing),
                        len(messages),
                    )
                delivered = await self._deliver(sub, local_date, missing, lease)
                if delivered is None:
                    return "posting"
                return await self._wrap_up(
                    sub, record, {**sent, **delivered}, lease, owed=owed, takeover=not claim.created
                )
            except DeliveryError as exc:
                return await self._failed(sub, local_date, exc, lease)
            except LeaseLost:
                log.warning(
                    "Digest for %s on %s: another process took the post over (this one was too slow to renew its "
                    "lease); leaving it to that process",
                    sub.channel_id,
                    local_date,
                )
                return "posting"

    async def _reconcile(
        self, sub: Subscription, record: PostRecord, messages: Sequence[MessageSpec], lease: _Lease
    ) -> dict[int, int]:
        """Which parts of a post begun before are in the channel: those recorded, and any sent but not recorded
        (a process died between Discord's answer and its record); the latter are recorded now."""
        sent = dict(record.message_ids)
        wanted = {m.part for m in messages} - sent.keys()
        if isinstance(self.sink, OwnMessages):
            for part, message_id in sorted(sent.items()):
                if await self.sink.own_message(sub.channel_id, message_id) is None:
                    log.warning(
                        "Digest for %s on %s: part %d (message %d) is no longer in the channel (deleted?); "
                        "not posting it again",
                        sub.channel_id,
                        record.local_date,
                        part,
                        message_id,
                    )
            found = await self._search_from_start(sub.channel_id, record, wanted) if wanted else {}
        else:
            found = await self._search_recent(sub.channel_id, record.local_date, wanted)
        for part, message_id in sorted(found.items()):
            await self._record(sub.channel_id, record.local_date, part, message_id, lease)
        return {**sent, **found}

    async def _search_from_start(self, channel_id: int, record: PostRecord, wanted: set[int]) -> dict[int, int]:
        """Find `wanted` parts among the bot's messages since the post began (every page, however busy)."""
        assert isinstance(self.sink, OwnMessages)
        started = record.started_at or self.now()
        found: dict[int, int] = {}
        async for message in self.sink.own_messages_after(channel_id, snowflake_at(started - SCAN_MARGIN)):
            part = _part_of(message, record.local_date)
            if part in wanted and part not in found:
                found[part] = message.message_id
                if found.keys() == wanted:
                    break
        return found

    async def _search_recent(self, channel_id: int, local_date: dt.date, wanted: set[int]) -> dict[int, int]:
        """For a sink without `OwnMessages`: the parts among the channel's last `HISTORY_LIMIT` messages."""
        found: dict[int, int] = {}
        for message in await self.sink.recent_own_messages(channel_id, limit=HISTORY_LIMIT):
            part = _part_of(message, local_date)
            if part in wanted:
                found.setdefault(part, message.message_id)
        return found

    async def _deliver(
        self, sub: Subscription, local_date: dt.date, missing: Sequence[MessageSpec], lease: _Lease
    ) -> dict[int, int] | None:
        """Send the missing parts in order, recording each; their ids, or None after a transient failure (the
        post stays 'posting' and the next catch-up continues it)."""
        delivered: dict[int, int] = {}
        for message in missing:
            lease.check()
            try:
                message_id = await self.sink.send(sub.channel_id, message)
            except DeliveryError as exc:
                if exc.permanent:
                    raise
                log.warning(
                    "Digest for %s on %s: %s; retrying at the next catch-up (subscription: %r)",
                    sub.channel_id,
                    local_date,
                    exc.reason,
                    sub,
                )
                metrics.digest_post("retrying")
                return None
            await self._record(sub.channel_id, local_date, message.part, message_id, lease)
            delivered[message.part] = message_id
        return delivered

    async def _wrap_up(
        self,
        sub: Subscription,
        record: PostRecord,
        sent: dict[int, int],
        lease: _Lease,
        *,
        owed: bool,
        takeover: bool,
    ) -> PostState:
        """Every part is in the channel: start the post's thread if it wants one, then close it as posted."""
        wants_thread = sub.thread and record.thread_id is None and record.thread_error is None
        if (
            wants_thread
            and isinstance(self.sink, PostFeatures)
            and 1 in sent
            and not await self._start_thread(sub, record, sent[1], lease, owed=owed, takeover=takeover)
        ):
            metrics.digest_post("retrying")
            return "posting"
        await self._finish(sub, record.local_date, lease)
        metrics.digest_post("posted")
        log.info("Digest for %s on %s posted", sub.channel_id, record.local_date)
        return "posted"

    async def _start_thread(
        self, sub: Subscription, record: PostRecord, first_message: int, lease: _Lease, *, owed: bool, takeover: bool
    ) -> bool:
        """Start the post's discussion thread from its first message, once; False to try again later.

        A post taken over (from a dead process, or this one before a restart) may have its thread already:
        that is asked first, never found out by trying twice. A permanent refusal (no Create Public Threads) is
        recorded with the post, which stands; a transient one is retried while the post is owed.
        """
        assert isinstance(self.sink, PostFeatures)
        lease.check()
        name = thread_name(record.list_day, weekly=sub.cadence == "weekly")
        try:
            found = await self.sink.thread_of(sub.channel_id, first_message) if takeover else None
            thread_id = (
                found if found is not None else await self.sink.start_thread(sub.channel_id, first_message, name)
            )
        except DeliveryError as exc:
            if not exc.permanent and owed:
                log.warning(
                    "Digest for %s on %s: starting its thread failed (%s); retrying at the next catch-up",
                    sub.channel_id,
                    record.local_date,
                    exc.reason,
                )
                return False
            log.warning("Digest for %s on %s: no thread: %s", sub.channel_id, record.local_date, exc.reason)
            await self._record_thread(sub.channel_id, record.local_date, None, exc.reason, lease)
            return True
        await self._record_thread(sub.channel_id, record.local_date, thread_id, None, lease)
        return True

    async def _record_thread(
        self, channel_id: int, local_date: dt.date, thread_id: int | None, error: str | None, lease: _Lease
    ) -> None:
        if not await self.catalogue.digests.record_thread(
            channel_id, local_date, owner=self.owner, thread_id=thread_id, error=error
        ):
            lease.lost = True
            lease.check()

    def _guild_of(self, channel_id: int) -> int | None:
        return self.sink.guild_of(channel_id) if isinstance(self.sink, PostFeatures) else None

    async def _record(self, channel_id: int, local_date: dt.date, part: int, message_id: int, lease: _Lease) -> None:
        if not await self.catalogue.digests.record_part(
            channel_id, local_date, part, message_id, owner=self.owner, now=self.now()
        ):
            lease.lost = True
            lease.check()

    async def _close(
        self,
        sub: Subscription,
        local_date: dt.date,
        state: PostState,
        error: str | None,
        lease: _Lease,
        *,
        edit_at: dt.datetime | None = None,
    ) -> None:
        if not await self.catalogue.digests.finish_post(
            sub.channel_id, local_date, state, owner=self.owner, error=error, now=self.now(), edit_at=edit_at
        ):
            lease.lost = True
            lease.check()

    async def _finish(self, sub: Subscription, local_date: dt.date, lease: _Lease) -> None:
        edit_at = None
        if sub.update_after_hours > 0 and isinstance(self.sink, PostFeatures):
            edit_at = self.now() + dt.timedelta(hours=sub.update_after_hours)
        await self._close(sub, local_date, "posted", None, lease, edit_at=edit_at)
        if edit_at is not None:
            self._schedule_edit(sub.channel_id, local_date, edit_at)
        if sub.failing_reason is not None:
            await self.catalogue.digests.clear_failing(sub.channel_id)

    async def _failed(self, sub: Subscription, local_date: dt.date, exc: DeliveryError, lease: _Lease) -> PostState:
        if not exc.permanent:
            log.warning("Digest for %s on %s: %s; will retry", sub.channel_id, local_date, exc.reason)
            metrics.digest_post("retrying")
            return "posting"
        try:
            await self._close(sub, local_date, "failed", exc.reason, lease)
        except LeaseLost:
            return "posting"
        await self.catalogue.digests.mark_failing(sub.channel_id, exc.reason, now=self.now())
        metrics.digest_post("failed")
        log.error(
            "Digest for %s on %s failed: %s — marked failing; next attempt at its next post time (subscription: %r)",
            sub.channel_id,
            local_date,
            exc.reason,
            sub,
        )
        return "failed"

    @contextlib.asynccontextmanager
    async def _keeping_lease(self, channel_id: int, local_date: dt.date) -> AsyncIterator[_Lease]:
        """Renew the post's lease in the background while the body posts; a lost lease is flagged, never
        renewed back. Leaving the block (a crash included) stops renewing: a dead process's lease runs out."""
        lease = _Lease()

        async def renew() -> None:
            while not lease.lost:
                await asyncio.sleep(self.renew_every_s)
                try:
                    held = await self.catalogue.digests.renew_post(
                        channel_id, local_date, owner=self.owner, lease_until=self.now() + self.lease
                    )
                except Exception as exc:  # the store is briefly unreachable: the lease may still hold; retry
                    log.warning("Renewing the lease of the digest for %s on %s failed: %s", channel_id, local_date, exc)
                    continue
                lease.lost = not held

        task = asyncio.create_task(renew(), name=f"digest-lease-{channel_id}")
        try:
            yield lease
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def refresh(self, day: dt.date) -> str | None:
        """Re-fetch list `day` just before posting (or editing), so upvotes are current; best effort, once per
        10 min. Return why the last refresh failed (None: it worked, or there is no source to ask)."""
        if self._refresh is None:
            return None
        lock = self._refresh_locks.setdefault(day, asyncio.Lock())
        async with lock:
            last = self._refreshed.get(day)
            now = self.now()
            if last is not None and now - last < REFRESH_FRESH:
                return self._refresh_errors.get(day)
            error: str | None = None
            try:
                async with asyncio.timeout(REFRESH_TIMEOUT_S):
                    await self._refresh(day)
            except Exception as exc:  # best effort: post the stored list rather than nothing
                error = _reason(exc) if not isinstance(exc, TimeoutError) else "no answer within 2 minutes"
                log.warning("Refreshing list %s before the digest failed: %s", day, error)
            self._refreshed[day] = now
            self._refresh_errors[day] = error
            return error

    # -- settled-upvotes edits

    def _schedule_edit(self, channel_id: int, local_date: dt.date, at: dt.datetime) -> None:
        self.scheduler.add_once_job(
            f"{EDIT_JOB_PREFIX}{channel_id}:{local_date.isoformat()}",
            max(at, self.now()),
            partial(self.edit_due, channel_id, local_date),
        )

    async def catch_up_edits(self) -> None:
        """Make every settled edit that is due (a restart, a transient failure); schedule those still ahead."""
        try:
            edits = await self.catalogue.digests.edits_open()
        except Exception:
            log.exception("Digest edits: reading the open edits failed; the next catch-up tries again")
            return
        now = self.now()
        for edit in edits:
            if edit.due_at <= now:
                await self.edit_due(edit.channel_id, edit.local_date)
            else:
                self._schedule_edit(edit.channel_id, edit.local_date, edit.due_at)

    async def edit_due(self, channel_id: int, local_date: dt.date) -> EditState | None:
        """Make the post's settled edit if it is due and free; return the edit's state. Never raises."""
        try:
            async with self._lock(channel_id):
                return await self._edit_due(channel_id, local_date)
        except Exception:
            log.exception("Settled edit of the digest for %s on %s failed", channel_id, local_date)
            return None

    async def _edit_due(self, channel_id: int, local_date: dt.date) -> EditState | None:
        store = self.catalogue.digests
        edit = await store.edit(channel_id, local_date)
        record = await store.post(channel_id, local_date)
        if edit is None or record is None or edit.state not in ("due", "editing"):
            return edit.state if edit is not None else None
        if not isinstance(self.sink, PostFeatures):
            return edit.state
        now = self.now()
        if edit.due_at > now:
            self._schedule_edit(channel_id, local_date, edit.due_at)
            return edit.state
        payload = None
        if edit.state == "due":
            await self.refresh(record.list_day)
            messages = messages_from_json(record.payload)
            ids = [paper_id for m in messages for e in m.embeds if (paper_id := paper_id_of(e)) is not None]
            papers = {paper.id: paper for paper in await self.catalogue.get_many(ids)}
            payload = messages_to_json(settled(messages, papers, self.now()))
            now = self.now()
        claim = await store.claim_edit(
            channel_id, local_date, owner=self.owner, lease_until=now + EDIT_LEASE, now=now, payload=payload
        )
        if claim is None:
            current = await store.edit(channel_id, local_date)
            if current is not None and current.state == "editing" and current.lease_until is not None:
                self._schedule_edit(channel_id, local_date, current.lease_until + RETRY_AFTER_LEASE)
            return current.state if current is not None else None
        return await self._make_edit(record, claim)

    async def _make_edit(self, record: PostRecord, claim: PostEditClaim) -> EditState:
        """Edit every part not edited yet with the claimed content; close the edit."""
        assert isinstance(self.sink, PostFeatures)
        edit, channel_id, local_date = claim.edit, record.channel_id, record.local_date
        store = self.catalogue.digests
        gone: list[int] = []
        for message in messages_from_json(edit.payload or "[]"):
            if message.part in edit.edited_parts:
                continue
            message_id = record.message_ids.get(message.part)
            try:
                if message_id is None:
                    gone.append(message.part)
                elif not claim.created and await self._already_settled(channel_id, message_id):
                    log.info("Digest for %s on %s: part %d was edited already", channel_id, local_date, message.part)
                elif not await self.sink.edit(channel_id, message_id, message):
                    gone.append(message.part)
            except DeliveryError as exc:
                if exc.permanent or self.now() - edit.due_at > EDIT_GIVE_UP:
                    await store.finish_edit(
                        channel_id, local_date, "failed", owner=self.owner, now=self.now(), error=exc.reason
                    )
                    metrics.digest_post("edit_failed")
                    log.error("Settled edit of the digest for %s on %s failed: %s", channel_id, local_date, exc.reason)
                    return "failed"
                log.warning(
                    "Settled edit of the digest for %s on %s: %s; retrying at the next catch-up",
                    channel_id,
                    local_date,
                    exc.reason,
                )
                return "editing"
            if not await store.record_edit(channel_id, local_date, message.part, owner=self.owner, now=self.now()):
                log.warning(
                    "Settled edit of the digest for %s on %s: taken over by another process", channel_id, local_date
                )
                return "editing"
        error = f"part(s) {', '.join(map(str, gone))} no longer in the channel" if gone else None
        if await store.finish_edit(channel_id, local_date, "edited", owner=self.owner, now=self.now(), error=error):
            metrics.digest_post("edited")
            log.info("Digest for %s on %s edited with settled upvotes", channel_id, local_date)
        return "edited"

    async def _already_settled(self, channel_id: int, message_id: int) -> bool:
        """Whether the part is in the channel edited already (a process died between editing and recording)."""
        if not isinstance(self.sink, OwnMessages):
            return False
        found = await self.sink.own_message(channel_id, message_id)
        return found is not None and any(is_settled(footer) for footer in found.footers)

    def _lock(self, channel_id: int) -> asyncio.Lock:
        return self._channel_locks.setdefault(channel_id, asyncio.Lock())
