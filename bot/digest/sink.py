"""Where digests go: the `DigestSink` protocol the service posts through, and its error.

The service never talks to Discord directly: the runtime hands it a sink (the UI's `DiscordDigestSink` in
production, a recording fake in unit tests), so the exactly-once logic is testable without a gateway.

Finding a half-made post again after a crash is the sink's other job (`OwnMessages`): the service looks up the
parts a post record names by message id, and searches the channel from the post's start for a part that was
sent but not recorded — by position in the channel (a snowflake), never "the last N messages", which a busy
channel pushes a part out of.

The features beyond the post itself need a sink that can do more (`PostFeatures`): start a post's discussion
thread (and tell whether one exists, so a process finishing another's post never starts a second), edit a
posted part with settled upvotes, and name the server of a channel (for a link to the post).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.errors import PaperbotError
from bot.render.specs import MessageSpec

__all__ = [
    "DISCORD_EPOCH",
    "DeliveryError",
    "DigestSink",
    "OwnMessages",
    "PostFeatures",
    "SentMessage",
    "snowflake_at",
]

# Discord's snowflakes count milliseconds from 2015-01-01T00:00:00Z in their top 42 bits.
DISCORD_EPOCH = dt.datetime(2015, 1, 1, tzinfo=dt.UTC)


def snowflake_at(when: dt.datetime) -> int:
    """The smallest snowflake of instant `when`: `after=` it lists every message created from then on."""
    millis = int((when - DISCORD_EPOCH).total_seconds() * 1000)
    return max(millis, 0) << 22


class DeliveryError(PaperbotError):
    """A message could not be posted or history not read.

    `permanent` means retrying will not help until someone acts (the channel is gone: 404, or the bot lacks
    access or permissions: 403); the subscription is then marked failing with `reason` instead of retrying.
    """

    def __init__(self, reason: str, *, permanent: bool, status: int | None = None) -> None:
        self.reason = reason
        self.permanent = permanent
        self.status = status
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One of the bot's own messages in a channel: its id and the footers of its embeds."""

    message_id: int
    footers: tuple[str, ...]


class DigestSink(Protocol):
    """Posts digest messages to a channel and reads back the bot's own recent messages there."""

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        """Post one message; return its id. Raise DeliveryError on failure.

        A message with a nonce is sent with it enforced: when Discord already created a message with that nonce
        from the bot within its dedupe window (a retried 5xx, another process finishing the post), it answers
        with that message, and its id is returned — no second message.
        """
        ...

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        """The bot's own messages among the channel's latest `limit`, newest first. Raise DeliveryError.

        Only used with a sink that is not yet `OwnMessages` (see there)."""
        ...


@runtime_checkable
class OwnMessages(Protocol):
    """Looking up the bot's own messages by id and by position, for reconciling a half-made post.

    A sink that has these is reconciled by what the post record says (message ids, then the channel from the
    post's start); one that has not is read back through its last 100 messages, as before.
    """

    async def own_message(self, channel_id: int, message_id: int) -> SentMessage | None:
        """The bot's own message `message_id` in the channel (`GET /channels/{c}/messages/{m}`).

        None when the channel has no such message (Discord 404 code 10008: deleted, or never there) or it is
        not the bot's. Raise DeliveryError like `send` for the channel itself: gone (404 code 10003) or
        forbidden (403) is permanent; 5xx, 429 and network errors are not.
        """
        ...

    def own_messages_after(self, channel_id: int, after: int) -> AsyncIterator[SentMessage]:
        """The bot's own messages created after snowflake `after`, oldest first, up to the newest.

        Pages through `GET /channels/{c}/messages?after=<id>&limit=100`, each page continuing after the newest
        message of the last (Discord returns a page newest first: sort it). The caller may stop early. Raise
        DeliveryError like `own_message`.
        """
        ...


@runtime_checkable
class PostFeatures(Protocol):
    """Threads, edits and guilds: what a subscription's `thread`, `update_after_hours` and the status link need.

    A sink without these posts plain digests; with them, the service starts threads and makes settled edits.
    """

    def guild_of(self, channel_id: int) -> int | None:
        """The server the channel belongs to, if the sink knows it (no request is made)."""
        ...

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        """Start a public thread from message `message_id` named `name`; return the thread's id.

        Raise DeliveryError like `send` (a missing Create Public Threads permission is permanent, 403); a message
        that already has a thread (Discord 400 code 160004) returns that thread's id instead of failing.
        """
        ...

    async def thread_of(self, channel_id: int, message_id: int) -> int | None:
        """The id of the thread started from message `message_id`, or None when it has none.

        Asked before starting a thread for a post another process (or this one, before a restart) may already
        have started one for. Raise DeliveryError when it cannot be told (5xx, 429, network)."""
        ...

    async def edit(self, channel_id: int, message_id: int, message: MessageSpec) -> bool:
        """Replace the bot's message `message_id` with `message` (content, embeds, mentions); False when the
        message is no longer there (Discord 404 code 10008). Raise DeliveryError like `send` otherwise."""
        ...
