"""The follow use case: members' follows, and one DM a day to each follower with the papers that are new for them.

Once a day at `[follows] time` (UTC), every member with follows who is not paused gets one DM listing the papers
that entered the Daily Papers lists since their last DM and match one of their follows; with nothing new, no DM.
A job every 10 minutes repeats the same run, which makes a DM owed but not made (the bot was down at the time, a
transient Discord failure, another process died mid-send) later the same UTC day, and does nothing otherwise.

Exactly once per member per day, across restarts and processes, comes from the catalogue's `FollowStore`: the
(member, date) record is claimed under a lease before the DM is sent, with the DM's content, and closing it as
'sent' moves the member's position (the newest list entry covered) in the same transaction. A record found
half made (a dead process's, after its lease) is finished: if the sink says the DM already reached the member,
it is only closed; otherwise it is sent. A DM still unresolved when its day is over is closed as 'failed' —
its papers come in the next DM, since the position did not move.

Failures: closed DMs (Discord 50007) pause the member's follows with the reason (shown by `/paper following`)
and nothing is retried until they follow again; a transient failure is retried at growing intervals, at most
`MAX_ATTEMPTS` times that day.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from typing import Protocol

from bot import metrics
from bot.catalogue import FOLLOW_LIMIT, DmState, FollowAdded, FollowDMClaim, Follower, FollowStore, NewFollowDM
from bot.config import Settings
from bot.digest.schedule import Clock, Scheduler
from bot.follows.matching import FollowedPaper, FollowHit, Matcher
from bot.follows.requests import describe_follow, new_follow
from bot.follows.sink import DmError, FollowDM, FollowSink
from bot.models import Paper

log = logging.getLogger(__name__)

__all__ = ["FollowCatalogue", "FollowService", "process_owner"]

DAILY_JOB = "follows:daily"
CATCH_UP_JOB = "follows:catch-up"
CATCH_UP_CRON = "*/10 * * * *"
# A DM is a few messages: this is ample, and a dead process's DM is finished by another this much later.
LEASE = dt.timedelta(minutes=5)
# Transient failures: the DM is tried again after 10, 20, 40, 80 minutes, then given up for the day.
MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(minutes=10)
# Papers first listed on a list day older than this (a backfill of old lists) never reach a DM.
FRESH_DAYS = 7
AUTOCOMPLETE_MAX = 25
AUTOCOMPLETE_LABEL_MAX = 100


class FollowCatalogue(Protocol):
    """What the follows need from the catalogue: the follow store, and papers by id (to rebuild a claimed DM)."""

    @property
    def follows(self) -> FollowStore: ...

    async def get_many(self, paper_ids: Sequence[str]) -> list[Paper]: ...


def process_owner() -> str:
    """This process's name in DM claims: host and pid (for people) and a random part (a restarted process that
    got the same pid is a different owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _payload(papers: Sequence[FollowedPaper]) -> str:
    """A DM's content as the record keeps it: paper ids, list days, and the follows that matched."""
    return json.dumps(
        [
            {
                "id": fp.paper.id,
                "day": fp.list_day.isoformat(),
                "hits": [{"follow": h.follow_id, "keywords": list(h.keywords), "author": h.author} for h in fp.hits],
            }
            for fp in papers
        ],
        ensure_ascii=False,
    )


async def _papers_of(catalogue: FollowCatalogue, payload: str) -> tuple[FollowedPaper, ...]:
    """The DM content of a record, with each paper as stored now (a paper no longer stored is left out)."""
    items = json.loads(payload)
    papers = {p.id: p for p in await catalogue.get_many([item["id"] for item in items])}
    return tuple(
        FollowedPaper(
            papers[item["id"]],
            dt.date.fromisoformat(item["day"]),
            tuple(FollowHit(h["follow"], tuple(h["keywords"]), h["author"]) for h in item["hits"]),
        )
        for item in items
        if item["id"] in papers
    )


class FollowService:
    """Members' follows for the slash commands, and the daily DM job."""

    def __init__(
        self,
        catalogue: FollowCatalogue,
        sink: FollowSink,
        scheduler: Scheduler,
        settings: Settings,
        *,
        now: Clock | None = None,
        owner: str | None = None,
        lease: dt.timedelta = LEASE,
    ) -> None:
        self.catalogue = catalogue
        self.sink = sink
        self.scheduler = scheduler
        self.settings = settings
        self.now: Clock = now or scheduler.now
        self.owner = owner or process_owner()
        self.lease = lease
        self._run_lock = asyncio.Lock()
        self._started = False
        #: set once start() has scheduled the jobs and the start-up run has finished
        self.ready = asyncio.Event()

    @property
    def store(self) -> FollowStore:
        """The catalogue's follow store."""
        return self.catalogue.follows

    # -- lifecycle

    async def start(self) -> None:
        """Schedule the daily run and the catch-up, and make any DM owed today in the background.

        Idempotent: `on_ready` fires again after a reconnect, and a second start changes nothing.
        """
        if self._started:
            return
        self._started = True
        self.scheduler.add_daily_job(DAILY_JOB, self.settings.follows.time, "UTC", self.run_due)
        self.scheduler.add_cron_job(CATCH_UP_JOB, CATCH_UP_CRON, self.run_due)

        async def first_run() -> None:
            try:
                await self.run_due()
            finally:
                self.ready.set()

        self.scheduler.spawn("follows-start", first_run)
        log.info("Follow DMs scheduled daily at %s UTC", self.settings.follows.time.strftime("%H:%M"))

    def dm_time(self, day: dt.date) -> dt.datetime:
        """When the DMs of UTC date `day` are due."""
        return dt.datetime.combine(day, self.settings.follows.time, dt.UTC)

    def next_dm_time(self) -> dt.datetime:
        """The next daily DM time after now (for "your next DM" in `/paper following`)."""
        now = self.now().astimezone(dt.UTC)
        today = self.dm_time(now.date())
        return today if today > now else self.dm_time(now.date() + dt.timedelta(days=1))

    # -- the slash commands

    async def follow(
        self, user_id: int, *, guild_id: int | None, keywords: str | None = None, author: str | None = None
    ) -> FollowAdded:
        """Add a follow for the member (UserInputError with a message for them when the terms are unusable).

        'limit' means they already have `FOLLOW_LIMIT`; following again — even terms they have — resumes
        paused follows.
        """
        wanted = new_follow(keywords, author)
        added = await self.store.add_follow(user_id, wanted, guild_id=guild_id, now=self.now(), limit=FOLLOW_LIMIT)
        log.info("Member %s follow: %s (%d follow(s))", user_id, added.status, added.count)
        return added

    async def following(self, user_id: int) -> Follower | None:
        """The member's follows and DM state (paused, and why), or None when they follow nothing."""
        return await self.store.follower(user_id)

    async def unfollow(self, user_id: int, follow_id: int) -> bool:
        """Remove one of the member's own follows; False when they have no follow with that id."""
        return await self.store.remove_follow(user_id, follow_id)

    async def choices(self, user_id: int, typed: str) -> list[tuple[int, str]]:
        """`/paper unfollow` autocomplete: the member's follows whose description contains `typed`, as (follow
        id, label ≤ 100 characters), at most 25 — the cap on follows is 25, so all of them when nothing typed."""
        follower = await self.store.follower(user_id)
        if follower is None:
            return []
        needle = typed.casefold().strip()
        out: list[tuple[int, str]] = []
        for follow in follower.follows:
            label = describe_follow(follow)
            if needle in label.casefold():
                if len(label) > AUTOCOMPLETE_LABEL_MAX:
                    label = label[: AUTOCOMPLETE_LABEL_MAX - 1] + "…"
                out.append((follow.follow_id, label))
        return out[:AUTOCOMPLETE_MAX]

    # -- the daily run

    async def run_due(self) -> None:
        """Make every DM owed now and not yet made; a member who got today's DM is left alone.

        Never raises: a failure for one member is logged and the others still get theirs. Runs one at a time
        per process (the daily job and the catch-up may fire together); other processes are kept off the
        same DM by its claim.
        """
        async with self._run_lock:
            try:
                await self._run_due()
            except Exception:
                log.exception("Follow DMs: the run failed; the catch-up job tries again")

    async def _run_due(self) -> None:
        now = self.now().astimezone(dt.UTC)
        today = now.date()
        waiting = await self._close_earlier_days(today)
        due = self.dm_time(today)
        if now < due:
            return
        followers = [
            f
            for f in await self.store.followers()
            if not f.paused and f.active_since <= due and f.user_id not in waiting
        ]
        if not followers:
            return
        newest = await self.store.list_position()
        entries = await self.store.list_entries(
            min(f.position for f in followers), newest, since_day=today - dt.timedelta(days=FRESH_DAYS)
        )
        matcher = Matcher(entries)
        sent = 0
        for follower in followers:
            try:
                sent += await self._member_due(follower, today, newest, matcher)
            except Exception:
                log.exception(
                    "Follow DM for member %s on %s failed; the catch-up job tries again", follower.user_id, today
                )
        if sent:
            log.info("Follow DMs for %s: %d sent", today, sent)

    async def _member_due(self, follower: Follower, today: dt.date, newest: int, matcher: Matcher) -> int:
        """Make this member's DM for today if it is owed and free; return how many DMs were sent (0 or 1)."""
        record = await self.store.dm(follower.user_id, today)
        now = self.now()
        if record is not None:
            if record.state != "sending":
                return 0
            claim = await self.store.claim_dm(
                follower.user_id, today, owner=self.owner, lease_until=now + self.lease, now=now
            )
        else:
            papers = matcher.papers_for(follower.follows, after=follower.position)
            if not papers:
                await self.store.skip_dm(follower.user_id, today, to_position=newest, now=now)
                return 0
            new = NewFollowDM(from_position=follower.position, to_position=newest, payload=_payload(papers))
            claim = await self.store.claim_dm(
                follower.user_id, today, owner=self.owner, lease_until=now + self.lease, now=now, new=new
            )
        if claim is None:
            return 0  # another process holds it, or it was closed meanwhile
        return await self._deliver(claim, follower.last_dm_at)

    async def _deliver(self, claim: FollowDMClaim, previous_dm_at: dt.datetime | None) -> int:
        record = claim.record
        dm = FollowDM(record.user_id, record.dm_date, await _papers_of(self.catalogue, record.payload), previous_dm_at)
        if not dm.papers:  # every paper of the record is gone from the catalogue: nothing to send
            await self._finish(dm, "skipped")
            return 0
        try:
            if not claim.created and await self.sink.delivered(dm):
                log.info("Follow DM for %s on %s had reached them already (closed)", dm.user_id, dm.dm_date)
                await self._finish(dm, "sent")
                return 0
            await self.sink.send_dm(dm)
        except DmError as exc:
            await self._failed(dm, record.attempts, exc)
            return 0
        except Exception as exc:  # an unclassified failure: retried like a transient one, with the traceback
            log.exception("Follow DM for %s on %s: unexpected failure", dm.user_id, dm.dm_date)
            await self._failed(dm, record.attempts, DmError(f"unexpected error: {exc!r}"))
            return 0
        await self._finish(dm, "sent")
        metrics.follow_dm("sent")
        return 1

    async def _finish(self, dm: FollowDM, state: DmState, *, error: str | None = None, pause: bool = False) -> None:
        closed = await self.store.finish_dm(
            dm.user_id, dm.dm_date, state, owner=self.owner, now=self.now(), error=error, pause=pause
        )
        if not closed:
            log.warning(
                "Follow DM for %s on %s: another process took it over before it was closed", dm.user_id, dm.dm_date
            )

    async def _failed(self, dm: FollowDM, attempts: int, exc: DmError) -> None:
        if exc.dms_closed:
            log.info("Follow DMs for %s paused: %s", dm.user_id, exc.reason)
            await self._finish(dm, "failed", error=exc.reason, pause=True)
            metrics.follow_dm("paused")
            return
        if exc.permanent:
            log.error(
                "Follow DM for %s on %s failed: %s; its papers come in the next DM", dm.user_id, dm.dm_date, exc.reason
            )
            await self._finish(dm, "failed", error=exc.reason)
            metrics.follow_dm("failed")
            return
        attempts += 1
        if attempts >= MAX_ATTEMPTS:
            log.error(
                "Follow DM for %s on %s failed %d times (%s); its papers come in the next DM",
                dm.user_id,
                dm.dm_date,
                attempts,
                exc.reason,
            )
            await self._finish(dm, "failed", error=exc.reason)
            metrics.follow_dm("failed")
            return
        retry_at = self.now() + RETRY_BASE * 2 ** (attempts - 1)
        log.warning("Follow DM for %s on %s: %s; retrying at %s", dm.user_id, dm.dm_date, exc.reason, retry_at)
        metrics.follow_dm("retrying")
        await self.store.release_dm(dm.user_id, dm.dm_date, owner=self.owner, retry_at=retry_at, error=exc.reason)

    async def _close_earlier_days(self, today: dt.date) -> set[int]:
        """Resolve DMs of earlier days still 'sending': closed as 'sent' if they reached the member, else as
        'failed' (their papers stay for the next DM). Return the members whose earlier DM is held elsewhere —
        their DM today waits, or it could list the papers of a DM that is being delivered."""
        waiting: set[int] = set()
        for record in await self.store.dms_in_state("sending"):
            if record.dm_date >= today:
                continue
            now = self.now()
            claim = await self.store.claim_dm(
                record.user_id, record.dm_date, owner=self.owner, lease_until=now + self.lease, now=now
            )
            if claim is None:
                waiting.add(record.user_id)
                continue
            dm = FollowDM(record.user_id, record.dm_date, await _papers_of(self.catalogue, claim.record.payload))
            try:
                reached = bool(dm.papers) and await self.sink.delivered(dm)
            except DmError as exc:
                if not exc.permanent:
                    waiting.add(record.user_id)
                    await self.store.release_dm(
                        dm.user_id, dm.dm_date, owner=self.owner, retry_at=now + RETRY_BASE, error=exc.reason
                    )
                    continue
                reached = False
            if reached:
                await self._finish(dm, "sent")
            else:
                await self._finish(dm, "failed", error="not delivered on its day; its papers come in the next DM")
        return waiting
