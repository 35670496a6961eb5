"""Digest subscriptions as admins see them: settings, last post (with a link), next post, failures and fixes.

An admin who sees no digest must learn why and what to do from one view, without reading logs. Each
subscription's entry says when it last posted (and links to that message), when it posts next, and, when it is
failing, the reason and the one action that fixes it — which differs for a missing permission, a deleted
channel, a source that is down and a discussion thread that could not be started. The reasons the Discord
sink records are built here too (`missing_access_reason`, …), so `classify_failure` reads back exactly the
texts this module wrote. `status_json` is the same view as data, for `paperbot digest status --json`, and
`status_text` as lines for a terminal.

Inputs are small dataclasses of their own (the digest service's records are converted by the UI), so this
module depends on nothing but the models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from bot.models import Subscription
from bot.render import limits
from bot.render.specs import EmbedSpec, MessageSpec
from bot.render.text import discord_time, escape, jump_url, truncate

__all__ = [
    "DIGEST_PERMISSIONS",
    "Failure",
    "FailureKind",
    "LastPost",
    "Origin",
    "PostState",
    "SubscriptionStatus",
    "channel_gone_reason",
    "classify_failure",
    "describe_subscription",
    "digest_status",
    "failure_advice",
    "missing_access_reason",
    "missing_permissions_reason",
    "source_down_reason",
    "status_entry",
    "status_json",
    "status_text",
    "thread_failed_reason",
    "thread_permission_reason",
]

FailureKind = Literal[
    "missing_access", "missing_permission", "channel_deleted", "source_down", "thread", "unscheduled", "other"
]
PostState = Literal["posted", "posting", "skipped", "failed"]
Origin = Literal["config", "command", "config+command"]

# What the bot needs in a digest channel: see it, post, show embeds, and read back its own posts (the restart
# reconciliation looks for its half-made digest in the channel's history).
DIGEST_PERMISSIONS: tuple[str, ...] = ("View Channel", "Send Messages", "Embed Links", "Read Message History")
_ENTRIES_ROOM = limits.DESCRIPTION_MAX - 96  # room for the "… and N more" line


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a subscription is failing: what kind of failure, the reason as recorded, and since when."""

    kind: FailureKind
    reason: str
    since: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class LastPost:
    """A subscription's most recent post record; `message_id` is its first message, the jump link's target."""

    state: PostState
    at: dt.datetime | None
    list_day: dt.date
    message_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    """Everything one entry of the status view shows; `guild_id` is needed for a link to the last post."""

    subscription: Subscription
    origin: Origin
    next_post: dt.datetime | None
    last_post: LastPost | None = None
    failure: Failure | None = None
    guild_id: int | None = None


# ---- failure reasons (recorded by the Discord sink, read back here) -----------------------------------------


def missing_access_reason() -> str:
    """Discord 50001: the bot cannot see the channel."""
    return "the bot cannot see the channel (Discord 50001 Missing Access): give it View Channel there"


def missing_permissions_reason() -> str:
    """Discord 50013: the bot sees the channel but lacks a permission there."""
    return f"the bot lacks a permission in the channel (Discord 50013): it needs {', '.join(DIGEST_PERMISSIONS)}"


def channel_gone_reason(code: int) -> str:
    """Discord 404: the channel was deleted (or never existed)."""
    return f"the channel no longer exists (Discord 404, code {code})"


def source_down_reason(detail: str) -> str:
    """Hugging Face did not deliver the day's list."""
    return f"the paper source did not answer ({detail})"


def thread_permission_reason() -> str:
    """Discord 50013 on starting a thread: the bot may post but not start threads in the channel."""
    return "the bot may not start threads in the channel (Discord 50013): it needs Create Public Threads"


def thread_failed_reason(detail: str) -> str:
    """Any other reason a post's thread could not be started."""
    return f"the post's discussion thread could not be started ({detail})"


def classify_failure(reason: str) -> FailureKind:
    """The kind of a recorded failure reason (the texts above; anything else is "other")."""
    if "50001" in reason:
        return "missing_access"
    if "50013" in reason:
        return "missing_permission"
    if "no longer exists" in reason:
        return "channel_deleted"
    if "source did not answer" in reason:
        return "source_down"
    return "other"


def failure_advice(failure: Failure, sub: Subscription, origin: Origin) -> str:
    """The one thing an admin does about `failure` (or that nothing needs doing)."""
    if failure.kind == "missing_access":
        return "Give my role View Channel in that channel; the next post is tried at its usual time."
    if failure.kind == "missing_permission":
        return (
            f"Give my role {', '.join(DIGEST_PERMISSIONS)} in that channel; the next post is tried at its usual time."
        )
    if failure.kind == "channel_deleted":
        if origin == "command":
            return f"Remove it with `/paper digest unsubscribe channel_id:{sub.channel_id}`."
        return f"Remove its [[digest.channels]] entry (channel_id = {sub.channel_id}) from the config file."
    if failure.kind == "source_down":
        return "Nothing to do yet: the post is retried every 10 minutes within its grace window."
    if failure.kind == "thread":
        return (
            "Give my role Create Public Threads and Send Messages in Threads in that channel (the post itself was "
            "made); the next post gets its thread."
        )
    if failure.kind == "unscheduled":
        return "Set a valid time zone with `/paper digest subscribe` (or in the config file); it is retried meanwhile."
    return f"The bot's log has the details (search for channel {sub.channel_id})."


# ---- the view -----------------------------------------------------------------------------------------------


def describe_subscription(sub: Subscription) -> str:
    """One line of settings: time, zone, size, filters and what an empty day gets."""
    parts = [f"{sub.time:%H:%M} {sub.timezone}", f"top {sub.top_n}"]
    if sub.min_upvotes:
        parts.append(f"≥ {sub.min_upvotes} upvotes")
    if sub.keywords:
        parts.append("keywords: " + ", ".join(escape(k) for k in sub.keywords))
    parts.append(
        {"skip": "empty days: nothing", "note": "empty days: a note", "week": "empty days: week's best"}[sub.empty_days]
    )
    if sub.cadence == "weekly":
        parts.insert(0, f"weekly on {_WEEKDAYS[sub.weekday % 7]}s")
    if sub.thread:
        parts.append("a thread per post")
    if sub.pings:
        parts.append("pings " + ", ".join(f"<@&{p.role_id}>" for p in sub.pings))
    if sub.update_after_hours:
        parts.append(f"upvotes settled after {sub.update_after_hours:g} h")
    return " · ".join(parts)


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


_ORIGINS: dict[Origin, str] = {
    "config": "config file",
    "command": "slash command",
    "config+command": "config file, settings from /paper digest",
}
_STATES: dict[PostState, str] = {
    "posted": "posted",
    "posting": "in progress",
    "skipped": "skipped (empty day)",
    "failed": "failed",
}


def status_entry(status: SubscriptionStatus) -> str:
    """One subscription: settings, next post, last post (linked), and any failure with what to do."""
    sub = status.subscription
    lines = [
        f"<#{sub.channel_id}> — {describe_subscription(sub)} ({_ORIGINS[status.origin]})",
        f"  next post: {discord_time(status.next_post)}",
    ]
    last = status.last_post
    if last is None:
        lines.append("  last post: none yet")
    else:
        text = f"  last post: {_STATES[last.state]} {discord_time(last.at)}, list of {last.list_day.isoformat()}"
        if last.message_id is not None and status.guild_id is not None:
            text += f" — [jump to it]({jump_url(status.guild_id, sub.channel_id, last.message_id)})"
        if last.error:
            text += f" — {truncate(last.error, 300)}"
        lines.append(text)
    if status.failure is not None:
        failure = status.failure
        lines.append(f"  ⚠ failing since {discord_time(failure.since)}: {truncate(failure.reason, 300)}")
        lines.append(f"  → {failure_advice(failure, sub, status.origin)}")
    return "\n".join(lines)


def digest_status(statuses: Sequence[SubscriptionStatus], *, title: str = "Daily digest subscriptions") -> MessageSpec:
    """The status of a server's subscriptions as one message; entries that do not fit are counted."""
    if not statuses:
        description = "No channel here gets the digest yet. Add one with `/paper digest subscribe`."
    else:
        entries = [status_entry(s) for s in statuses]
        description = ""
        for index, entry in enumerate(entries):
            candidate = f"{description}\n\n{entry}" if description else entry
            if len(candidate) > _ENTRIES_ROOM:
                description += f"\n\n… and {len(entries) - index} more"
                break
            description = candidate
    embed = EmbedSpec(
        title=truncate(title, limits.TITLE_MAX),
        description=truncate(description, limits.DESCRIPTION_MAX),
        footer="Times are shown in your own time zone.",
    )
    return MessageSpec(embeds=(embed,))


# ---- as data and as terminal text (`paperbot digest status`) -------------------------------------------------


def _iso(instant: dt.datetime | None) -> str | None:
    return instant.astimezone(dt.UTC).isoformat() if instant is not None else None


def _message_url(status: SubscriptionStatus) -> str | None:
    last = status.last_post
    if last is None or last.message_id is None or status.guild_id is None:
        return None
    return jump_url(status.guild_id, status.subscription.channel_id, last.message_id)


def status_json(statuses: Sequence[SubscriptionStatus]) -> list[dict[str, Any]]:
    """One object per subscription: `channel_id`, `guild_id`, `next_post`, `last_post` {`state`, `at`,
    `message_url`} (or null), `failure` {`kind`, `reason`, `since`, `advice`} (or null); times ISO-8601 UTC."""
    out: list[dict[str, Any]] = []
    for status in statuses:
        sub, last, failure = status.subscription, status.last_post, status.failure
        out.append(
            {
                "channel_id": sub.channel_id,
                "guild_id": status.guild_id,
                "next_post": _iso(status.next_post),
                "last_post": None
                if last is None
                else {"state": last.state, "at": _iso(last.at), "message_url": _message_url(status)},
                "failure": None
                if failure is None
                else {
                    "kind": failure.kind,
                    "reason": failure.reason,
                    "since": _iso(failure.since),
                    "advice": failure_advice(failure, sub, status.origin),
                },
            }
        )
    return out


def _utc(instant: dt.datetime | None) -> str:
    return f"{instant.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if instant is not None else "unknown"


def status_text(statuses: Sequence[SubscriptionStatus]) -> str:
    """The status view as plain lines for a terminal (times in UTC, links written out)."""
    if not statuses:
        return "No channel gets the digest yet (add [[digest.channels]] to the config, or /paper digest subscribe).\n"
    blocks: list[str] = []
    for status in statuses:
        sub, last, failure = status.subscription, status.last_post, status.failure
        lines = [f"channel {sub.channel_id} ({_ORIGINS[status.origin]}): {describe_subscription(sub)}"]
        lines.append(f"  next post: {_utc(status.next_post)}")
        if last is None:
            lines.append("  last post: none yet")
        else:
            url = _message_url(status)
            lines.append(
                f"  last post: {_STATES[last.state]} {_utc(last.at)}, list of {last.list_day.isoformat()}"
                + (f" — {url}" if url else "")
            )
        if failure is not None:
            lines.append(f"  failing since {_utc(failure.since)}: {failure.reason}")
            lines.append(f"  what to do: {failure_advice(failure, sub, status.origin)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
