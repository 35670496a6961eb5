"""Where each digest subscription stands, read from the catalogue alone: the running bot and the CLI agree.

`/paper digest status` and `list` (in the bot) and `paperbot digest status` (another process, no Discord) ask
the same question, so they share this answer: each effective subscription with its next post (by the timing
rules), its last post record (with a link when the post's server is known) and its failure, if any — the
channel's failing state (a missing permission, a deleted channel, the source down), else a thread that the
last post could not start, else a subscription that cannot be scheduled. `bot.render.status` turns it into the
admin's view, JSON, or terminal lines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from bot.catalogue import PostRecord
from bot.config import Settings
from bot.digest.subscriptions import DigestCatalogue, effective_subscriptions
from bot.digest.timing import next_slot
from bot.models import Subscription
from bot.render.status import Failure, LastPost, Origin, SubscriptionStatus, classify_failure

__all__ = ["ChannelStatus", "channel_statuses", "subscription_status"]


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    """One subscription: where its settings come from, its next post, its last post record, and any problem."""

    subscription: Subscription
    in_config: bool
    overridden: bool
    next_post: dt.datetime | None
    last_post: PostRecord | None
    #: why the subscription has no job now (e.g. its time zone is unknown); it is being retried
    problem: str | None = None


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


async def channel_statuses(
    catalogue: DigestCatalogue,
    settings: Settings,
    now: dt.datetime,
    *,
    unscheduled: Mapping[int, str] | None = None,
) -> list[ChannelStatus]:
    """Every effective subscription with its next post time, last post record and scheduling problem."""
    problems = unscheduled or {}
    config_ids = {sub.channel_id for sub in settings.digest.subscriptions()}
    stored_ids = {sub.channel_id for sub in await catalogue.digests.subscriptions()}
    last = await catalogue.digests.last_posts()
    out: list[ChannelStatus] = []
    for sub in await effective_subscriptions(catalogue, settings):
        problem = problems.get(sub.channel_id)
        try:
            grace = settings.digest.grace_hours_for(sub.channel_id)
            next_post: dt.datetime | None = next_slot(sub, now, grace).instant
        except ValueError as exc:  # an unknown time zone: this entry says so, the others are unaffected
            next_post, problem = None, problem or _reason(exc)
        out.append(
            ChannelStatus(
                subscription=sub,
                in_config=sub.channel_id in config_ids,
                overridden=sub.channel_id in config_ids and sub.channel_id in stored_ids,
                next_post=next_post,
                last_post=last.get(sub.channel_id),
                problem=problem,
            )
        )
    return out


def _failure(status: ChannelStatus) -> Failure | None:
    sub, last = status.subscription, status.last_post
    if sub.failing_reason:
        return Failure(classify_failure(sub.failing_reason), sub.failing_reason, sub.failing_since)
    if last is not None and last.thread_error:
        return Failure("thread", last.thread_error, last.finished_at or last.started_at)
    if status.problem:
        return Failure("unscheduled", status.problem)
    return None


def subscription_status(status: ChannelStatus, guild_id: int | None = None) -> SubscriptionStatus:
    """The status view's input for one channel; `guild_id` is the server asking, when the post's is unknown."""
    sub = status.subscription
    origin: Origin = "config+command" if status.overridden else "config" if status.in_config else "command"
    last = status.last_post
    last_post = None
    if last is not None:
        last_post = LastPost(
            state=last.state,
            at=last.finished_at or last.started_at,
            list_day=last.list_day,
            message_id=last.message_ids.get(1) if last.message_ids else None,
            error=last.error,
        )
    known_guild = sub.guild_id if sub.guild_id is not None else last.guild_id if last is not None else None
    return SubscriptionStatus(
        subscription=sub,
        origin=origin,
        next_post=status.next_post,
        last_post=last_post,
        failure=_failure(status),
        guild_id=known_guild if known_guild is not None else guild_id,
    )
