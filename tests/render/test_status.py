"""The digest status view: last post with a link, next post, failures with their reason and what to do."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.models import Subscription
from bot.render.specs import limit_problems
from bot.render.status import (
    Failure,
    FailureKind,
    LastPost,
    SubscriptionStatus,
    channel_gone_reason,
    classify_failure,
    digest_status,
    missing_access_reason,
    missing_permissions_reason,
    source_down_reason,
    status_entry,
)

GUILD, CHANNEL, MESSAGE = 1_100_000_000_000_000_001, 1_400_000_000_000_000_001, 1_600_000_000_000_000_123
NOW = dt.datetime(2026, 10, 24, 7, 0, tzinfo=dt.UTC)


def status(**kw: object) -> SubscriptionStatus:
    base: dict[str, object] = {
        "subscription": Subscription(channel_id=CHANNEL, guild_id=GUILD, keywords=("*diffusion*",)),
        "origin": "command",
        "next_post": NOW + dt.timedelta(days=1),
        "guild_id": GUILD,
    }
    base.update(kw)
    return SubscriptionStatus(**base)  # type: ignore[arg-type]


def test_last_post_links_to_its_message_and_next_post_is_shown() -> None:
    last = LastPost(state="posted", at=NOW, list_day=dt.date(2026, 10, 23), message_id=MESSAGE)
    text = status_entry(status(last_post=last))
    assert f"[jump to it](https://discord.com/channels/{GUILD}/{CHANNEL}/{MESSAGE})" in text
    assert f"next post: <t:{int((NOW + dt.timedelta(days=1)).timestamp())}:f>" in text
    assert f"last post: posted <t:{int(NOW.timestamp())}:f>" in text and "list of 2026-10-23" in text
    assert "keywords: \\*diffusion\\*" in text  # admin text is escaped like paper text
    assert "jump to it" not in status_entry(status(last_post=last, guild_id=None))  # no guild: no link
    assert "last post: none yet" in status_entry(status())


@pytest.mark.parametrize(
    ("reason", "kind", "advice"),
    [
        (missing_access_reason(), "missing_access", "Give my role View Channel"),
        (missing_permissions_reason(), "missing_permission", "Give my role View Channel, Send Messages, Embed Links"),
        (
            channel_gone_reason(10003),
            "channel_deleted",
            f"Remove it with `/paper digest unsubscribe channel_id:{CHANNEL}`",
        ),
        (source_down_reason("503 from Hugging Face"), "source_down", "Nothing to do yet: the post is retried"),
        ("something odd", "other", "The bot's log has the details"),
    ],
)
def test_each_failure_says_why_and_what_to_do(reason: str, kind: FailureKind, advice: str) -> None:
    assert classify_failure(reason) == kind
    text = status_entry(status(failure=Failure(kind, reason, NOW)))
    assert f"⚠ failing since <t:{int(NOW.timestamp())}:f>" in text and reason in text
    assert f"→ {advice}" in text


def test_a_deleted_config_channel_is_fixed_in_the_file() -> None:
    failure = Failure("channel_deleted", channel_gone_reason(10003))
    text = status_entry(status(origin="config", failure=failure))
    assert f"channel_id = {CHANNEL}" in text and "config file" in text


def test_many_subscriptions_fit_one_message_and_the_rest_are_counted() -> None:
    many = [
        status(
            subscription=Subscription(
                channel_id=CHANNEL + i, guild_id=GUILD, keywords=tuple(f"k{j}" for j in range(20))
            ),
            failure=Failure("missing_permission", missing_permissions_reason(), NOW),
        )
        for i in range(200)
    ]
    message = digest_status(many)
    assert limit_problems(message) == []
    assert "more" in (message.embeds[0].description or "").rsplit("\n", 1)[-1]
    assert "No channel here gets the digest" in (digest_status([]).embeds[0].description or "")
