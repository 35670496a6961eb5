"""Where digests go: the `DigestSink` protocol the service posts through, and its error.

The service never talks to Discord directly: the runtime hands it a sink (the UI's `DiscordDigestSink` in
production, a recording fake in unit tests), so the exactly-once logic is testable without a gateway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.errors import PaperbotError
from bot.render.specs import MessageSpec


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
    """One of the bot's own recent messages in a channel: its id and the footers of its embeds."""

    message_id: int
    footers: tuple[str, ...]


class DigestSink(Protocol):
    """Posts digest messages to a channel and reads back the bot's own recent messages there."""

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        """Post one message; return its id. Raise DeliveryError on failure."""
        ...

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        """The bot's own messages among the channel's latest `limit`, newest first. Raise DeliveryError."""
        ...
