"""Message nonces with ``enforce_nonce``: Discord's built-in idempotency for message creates.

``POST /channels/{id}/messages`` may carry ``nonce`` (an integer, or a string of at most 25 characters) and
``enforce_nonce: true``. Discord then checks the nonce for uniqueness "in the past few minutes": if the same
author already created a message with that nonce, that message is returned (200) and no new one is made. This
is what makes a retried create safe — discord.py itself retries a 500/502/504/524 on POST, and without a
nonce a create that succeeded before the error is posted twice.

The fake keeps every enforced nonce for ``window`` seconds (``FakeDiscord(nonce_window=…)``, default 300, on
the fake's clock). Discord's documentation does not say whether uniqueness is per channel or per author across
channels; ``scope="channel"`` (default) keys on (channel, author, nonce), ``scope="author"`` on (author, nonce)
— the stricter model, under which reusing a nonce in another channel returns the *other* channel's message.
Without ``enforce_nonce`` the nonce is only echoed back, never checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .clock import Clock
from .messages import StoredMessage

__all__ = ["NONCE_MAX_LENGTH", "NonceRegistry", "NonceReplay", "nonce_error"]

NONCE_MAX_LENGTH = 25


@dataclass(frozen=True)
class NonceReplay:
    """A create that Discord answered with an existing message because of its nonce."""

    channel_id: int
    author_id: int
    nonce: str
    message_id: int
    at: float


class NonceRegistry:
    def __init__(self, clock: Clock, *, window: float = 300.0, scope: str = "channel") -> None:
        if scope not in ("channel", "author"):
            raise ValueError("nonce scope must be 'channel' or 'author'")
        self._clock = clock
        self.window = window
        self.scope = scope
        self._seen: dict[tuple[int, int, str], tuple[float, StoredMessage]] = {}
        #: every create answered with an earlier message
        self.replays: list[NonceReplay] = []

    def _key(self, channel_id: int, author_id: int, nonce: Any) -> tuple[int, int, str]:
        return (channel_id if self.scope == "channel" else 0, author_id, str(nonce))

    def existing(self, channel_id: int, author_id: int, nonce: Any) -> StoredMessage | None:
        """The message created with this nonce within the window (and not deleted), recording the replay."""
        key = self._key(channel_id, author_id, nonce)
        found = self._seen.get(key)
        if found is None:
            return None
        at, message = found
        now = self._clock()
        if now - at > self.window or message.deleted:
            del self._seen[key]
            return None
        self.replays.append(NonceReplay(channel_id, author_id, str(nonce), message.id, now))
        return message

    def remember(self, message: StoredMessage, author_id: int, nonce: Any) -> None:
        self._seen[self._key(message.channel_id, author_id, nonce)] = (self._clock(), message)

    def clear(self) -> None:
        self._seen.clear()
        self.replays.clear()


def nonce_error(nonce: Any) -> str | None:
    """Why Discord would refuse this nonce (50035), or ``None`` if it is fine."""
    if isinstance(nonce, bool) or not isinstance(nonce, int | str):
        return "Nonce must be an integer or a string."
    if len(str(nonce)) > NONCE_MAX_LENGTH:
        return f"Must be {NONCE_MAX_LENGTH} or fewer in length."
    return None
