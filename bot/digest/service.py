"""The daily digest use case: which channels are subscribed, when each posts, and posting exactly once.

Who owns what:
- `timing.py` says when a post is due and whether it is still owed (pure);
- `compose.py`/`render.py` say what it contains (pure);
- the catalogue's `DigestStore` keeps subscriptions and one record per (channel, local date);
- a `DigestSink` delivers messages (Discord in production);
- this module ties them together and owns the scheduler jobs: one per subscription at its local time, plus
  a catch-up job every 10 minutes that finishes posts a transient error interrupted.

Exactly once: before the first message the record is claimed as 'posting' together with the rendered
messages; each sent part is recorded; 'posted' closes it. A 'posting' record found later (crash, restart,
transient error) is reconciled by reading the channel's recent messages for the post's footer marker: parts
already there are not sent again, missing parts are sent from the stored render. A channel that is gone or
forbids the bot (404/403) closes that day's record as 'failed' and marks the channel failing — it is tried
again at the next day's post time, never every minute.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Protocol

from bot.catalogue import DigestStore, NewPost, PostRecord, PostState
from bot.config import Settings
from bot.digest.compose import WEEK_DAYS, compose
from bot.digest.render import (
    MessageSpec,
    Rendered,
    marker_for,
    messages_from_json,
    messages_to_json,
    parse_marker,
    render,
)
from bot.digest.schedule import Clock, Scheduler
from bot.digest.sink import DeliveryError, DigestSink
from bot.digest.timing import Slot, next_slot, owed_slot, slot, zone
from bot.models import Paper, Subscription

log = logging.getLogger(__name__)

JOB_PREFIX = "digest:"
CATCH_UP_JOB = "digest-catch-up"
CATCH_UP_CRON = "*/10 * * * *"
# How far back in a channel to look for our own half-made post; a digest channel is rarely busier than this
# between a crash and the restart.
HISTORY_LIMIT = 100
# A list refreshed this recently is not fetched again for another channel's post.
REFRESH_FRESH = dt.timedelta(minutes=10)
REFRESH_TIMEOUT_S = 120.0
# How long a claimed post stays this process's without a renewal.
LEASE = dt.timedelta(minutes=2)

Refresh = Callable[[dt.date], Awaitable[object]]


class DigestCatalogue(Protocol):
    """What the digest needs from the catalogue: the day lists, and its own store of subscriptions and posts."""

    async def day_papers(self, day: dt.date) -> list[Paper]: ...

    @property
    def digests(self) -> DigestStore: ...


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One line of `/paper digest list`: the subscription, where its settings come from, and its history."""

    subscription: Subscription
    in_config: bool
    overridden: bool
    next_post: dt.datetime | None
    last_post: PostRecord | None


class SubscriptionError(Exception):
    """A subscribe/unsubscribe request that must be refused; the message is safe to show an admin."""


# ---- building a post (shared by the service, preview and the dry run) ------------------------------------


async def effective_subscriptions(catalogue: DigestCatalogue, settings: Settings) -> list[Subscription]:
    """Config channels merged with slash-command subscriptions (the database wins for the same channel).

    A config channel is owed posts from when a running bot first saw it (`created_at`; None until then).
    """
    config = {sub.channel_id: sub for sub in settings.digest.subscriptions()}
    stored = {sub.channel_id: sub for sub in await catalogue.digests.subscriptions()}
    states = await catalogue.digests.channel_states()
    merged: dict[int, Subscription] = {}
    for channel_id in sorted(config.keys() | stored.keys()):
        state = states.get(channel_id)
        if channel_id in config:
            first_seen = state.first_seen if state else None
            sub = stored.get(channel_id, config[channel_id])
            created = [t for t in (first_seen, stored[channel_id].created_at if channel_id in stored else None) if t]
            sub = replace(sub, source="config", created_at=min(created) if created else None)
        else:
            sub = stored[channel_id]
        merged[channel_id] = replace(
            sub,
            failing_reason=state.failing_reason if state else None,
            failing_since=state.failing_since if state else None,
        )
    return list(merged.values())


async def week_papers(catalogue: DigestCatalogue, day: dt.date) -> list[Paper]:
    """Papers of the 7 list days ending at `day` (for empty_days = "week")."""
    papers: list[Paper] = []
    for offset in range(WEEK_DAYS):
        papers.extend(await catalogue.day_papers(day - dt.timedelta(days=offset)))
    return papers


async def build_post(catalogue: DigestCatalogue, sub: Subscription, list_day: dt.date, local_date: dt.date) -> Rendered:
    """Compose and render the post of `sub` showing list `list_day` (the same builders everywhere)."""
    papers = await catalogue.day_papers(list_day)
    week: list[Paper] = []
    if sub.empty_days == "week":
        week = await week_papers(catalogue, list_day)
    digest = compose(papers, sub, list_day, week_papers=week)
    return render(digest, local_date)


def todays_slot(sub: Subscription, now: dt.datetime, grace_hours: float) -> Slot:
    """The slot of the subscription's current local date (what "today's post" means for previews)."""
    return slot(sub, now.astimezone(zone(sub.timezone)).date(), grace_hours)


def process_owner() -> str:
    """A name for this process in the post records' claims: host and pid (for people), plus a random part, so a
    restarted process that got the same pid is still a different owner."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


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
    ) -> None:
        self.catalogue = catalogue
        self.sink = sink
        self.scheduler = scheduler
        self.settings = settings
        self.now: Clock = now or scheduler.now
        self._refresh = refresh
        #: who this service is in the post records' claims: unique per process (and per service in tests)
        self.owner = owner or process_owner()
        self._channel_locks: dict[int, asyncio.Lock] = {}
        self._refresh_locks: dict[dt.date, asyncio.Lock] = {}
        self._refreshed: dict[dt.date, dt.datetime] = {}
        self._rebuild_lock = asyncio.Lock()
        self._started = False
        #: set once start() has finished (jobs scheduled, owed posts made): tests and the runtime can await it
        self.ready = asyncio.Event()

    # -- lifecycle

    async def start(self) -> None:
        """Record config channels as seen, reconcile half-made posts, schedule jobs, make owed posts.

        Idempotent: `on_ready` fires again after a reconnect, and a second start must change nothing.
        """
        if self._started:
            return
        self._started = True
        try:
            now = self.now()
            config_ids = [sub.channel_id for sub in self.settings.digest.subscriptions()]
            await self.catalogue.digests.see_channels(config_ids, now=now)
            await self.rebuild()
            self.scheduler.add_cron_job(CATCH_UP_JOB, CATCH_UP_CRON, self.catch_up)
            # Reconciles every 'posting' record and makes any post owed while the bot was down.
            await self.catch_up()
        except BaseException:
            self._started = False  # the next on_ready (after a reconnect) tries again
            raise
        self.ready.set()
        log.info("Digest service ready: owed posts made, jobs scheduled")

    async def rebuild(self) -> list[Subscription]:
        """Replace the digest jobs with one per effective subscription (at start and on every change)."""
        async with self._rebuild_lock:
            subs = await effective_subscriptions(self.catalogue, self.settings)
            wanted = {f"{JOB_PREFIX}{sub.channel_id}": sub for sub in subs}
            for job_id in self.scheduler.job_ids():
                if job_id.startswith(JOB_PREFIX) and job_id not in wanted:
                    self.scheduler.remove_job(job_id)
            for job_id, sub in wanted.items():
                self.scheduler.add_daily_job(job_id, sub.time, sub.timezone, partial(self.post_due, sub.channel_id))
            log.info("Digest: %d subscription(s) scheduled", len(subs))
            return subs

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
        config_ids = {sub.channel_id for sub in self.settings.digest.subscriptions()}
        stored_ids = {sub.channel_id for sub in await self.catalogue.digests.subscriptions()}
        last = await self.catalogue.digests.last_posts()
        now = self.now()
        out: list[ChannelStatus] = []
        for sub in await self.subscriptions():
            if guild_id is not None and sub.guild_id is not None and sub.guild_id != guild_id:
                continue
            out.append(
                ChannelStatus(
                    subscription=sub,
                    in_config=sub.channel_id in config_ids,
                    overridden=sub.channel_id in config_ids and sub.channel_id in stored_ids,
                    next_post=next_slot(sub, now, self.grace_hours(sub.channel_id)).instant,
                    last_post=last.get(sub.channel_id),
                )
            )
        return out

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
        """Make every post that is owed now and not yet made (after downtime or a transient error)."""
        for sub in await self.subscriptions():
            await self.post_due(sub.channel_id, sub)

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
                await self._reconcile(sub, old, owed=False)
        if due is None:
            return None
        record = await self.catalogue.digests.post(sub.channel_id, due.local_date)
        if record is not None:
            if record.state != "posting":
                return record.state
            return await self._reconcile(sub, record, owed=True)
        await self.refresh(due.list_day)
        rendered = await build_post(self.catalogue, sub, due.list_day, due.local_date)
        if not rendered.messages:
            await self.catalogue.digests.skip_post(sub.channel_id, due.local_date, due.list_day, now=now)
            log.info("Digest for %s on %s skipped: empty list (empty_days = skip)", sub.channel_id, due.local_date)
            return "skipped"
        claim = await self.catalogue.digests.claim_post(
            sub.channel_id,
            due.local_date,
            owner=self.owner,
            lease_until=now + LEASE,
            now=now,
            new=NewPost(due.list_day, messages_to_json(rendered.messages)),
        )
        if claim is None:
            return None
        return await self._deliver(sub, due.local_date, rendered.messages, {})

    async def _reconcile(self, sub: Subscription, record: PostRecord, *, owed: bool) -> PostState:
        """Finish or close a 'posting' record after reading which of its parts reached the channel."""
        now = self.now()
        claim = await self.catalogue.digests.claim_post(
            sub.channel_id, record.local_date, owner=self.owner, lease_until=now + LEASE, now=now
        )
        if claim is None:
            return "posting"
        record = claim.record
        messages = messages_from_json(record.payload)
        try:
            found = await self._parts_in_channel(sub.channel_id, record.local_date)
        except DeliveryError as exc:
            return await self._failed(sub, record.local_date, exc)
        sent = {**record.message_ids, **found}
        missing = [m for m in messages if m.part not in sent]
        if not missing:
            log.info("Digest for %s on %s was already posted (reconciled)", sub.channel_id, record.local_date)
            await self._finish(sub, record.local_date, sent)
            return "posted"
        if not owed and not sent:
            # Nothing reached the channel and the window has closed: the post is missed, not made late.
            await self.catalogue.digests.finish_post(
                sub.channel_id,
                record.local_date,
                "failed",
                owner=self.owner,
                error="not posted before the deadline",
                now=self.now(),
            )
            log.warning("Digest for %s on %s missed its window", sub.channel_id, record.local_date)
            return "failed"
        # Part of a post is there: complete it even late, a half digest is worse than a late half.
        log.info(
            "Digest for %s on %s: %d of %d part(s) missing, sending them",
            sub.channel_id,
            record.local_date,
            len(missing),
            len(messages),
        )
        return await self._deliver(sub, record.local_date, messages, sent)

    async def _parts_in_channel(self, channel_id: int, local_date: dt.date) -> dict[int, int]:
        marker = marker_for(local_date)
        parts: dict[int, int] = {}
        for message in await self.sink.recent_own_messages(channel_id, limit=HISTORY_LIMIT):
            for footer in message.footers:
                if marker not in footer:
                    continue
                parsed = parse_marker(footer)
                if parsed is not None and parsed[0] == local_date:
                    parts.setdefault(parsed[1], message.message_id)
        return parts

    async def _deliver(
        self, sub: Subscription, local_date: dt.date, messages: Sequence[MessageSpec], sent: dict[int, int]
    ) -> PostState:
        ids = dict(sent)
        for message in messages:
            if message.part in ids:
                continue
            try:
                ids[message.part] = await self.sink.send(sub.channel_id, message)
            except DeliveryError as exc:
                if exc.permanent:
                    return await self._failed(sub, local_date, exc)
                log.warning(
                    "Digest for %s on %s: %s; retrying at the next catch-up (subscription: %r)",
                    sub.channel_id,
                    local_date,
                    exc.reason,
                    sub,
                )
                return "posting"
            await self.catalogue.digests.record_part(
                sub.channel_id, local_date, message.part, ids[message.part], owner=self.owner, now=self.now()
            )
        await self._finish(sub, local_date, ids)
        log.info("Digest for %s on %s posted (%d message(s))", sub.channel_id, local_date, len(ids))
        return "posted"

    async def _finish(self, sub: Subscription, local_date: dt.date, ids: dict[int, int]) -> None:
        for part, message_id in ids.items():
            await self.catalogue.digests.record_part(
                sub.channel_id, local_date, part, message_id, owner=self.owner, now=self.now()
            )
        await self.catalogue.digests.finish_post(sub.channel_id, local_date, "posted", owner=self.owner, now=self.now())
        if sub.failing_reason is not None:
            await self.catalogue.digests.clear_failing(sub.channel_id)

    async def _failed(self, sub: Subscription, local_date: dt.date, exc: DeliveryError) -> PostState:
        if not exc.permanent:
            log.warning("Digest for %s on %s: %s; will retry", sub.channel_id, local_date, exc.reason)
            return "posting"
        now = self.now()
        await self.catalogue.digests.finish_post(
            sub.channel_id, local_date, "failed", owner=self.owner, error=exc.reason, now=now
        )
        await self.catalogue.digests.mark_failing(sub.channel_id, exc.reason, now=now)
        log.error(
            "Digest for %s on %s failed: %s — marked failing; next attempt at its next post time (subscription: %r)",
            sub.channel_id,
            local_date,
            exc.reason,
            sub,
        )
        return "failed"

    async def refresh(self, day: dt.date) -> None:
        """Re-fetch list `day` just before posting, so upvotes are current; best effort, once per 10 min."""
        if self._refresh is None:
            return
        lock = self._refresh_locks.setdefault(day, asyncio.Lock())
        async with lock:
            last = self._refreshed.get(day)
            now = self.now()
            if last is not None and now - last < REFRESH_FRESH:
                return
            try:
                async with asyncio.timeout(REFRESH_TIMEOUT_S):
                    await self._refresh(day)
            except Exception as exc:  # best effort: post the stored list rather than nothing
                log.warning("Refreshing list %s before the digest failed: %s", day, exc)
            self._refreshed[day] = now

    def _lock(self, channel_id: int) -> asyncio.Lock:
        return self._channel_locks.setdefault(channel_id, asyncio.Lock())
