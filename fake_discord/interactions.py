"""InteractionHandle: what ``await fake.interact(...)`` returns — await the bot's answers to one interaction.

Every ``await handle.x()`` waits on the fake's state-change events (never sleeps) with a timeout and raises
:class:`~fake_discord.server.FakeTimeout` (an ``AssertionError``) describing what was awaited and the
last requests seen. Discord semantics worth knowing when asserting:

- ``response()`` is the single accepted initial response (type 4 message, 5 deferred "thinking…", 6 deferred
  update, 7 update the component's message, 8 autocomplete result, 9 modal). ``response().latency`` is the
  time from dispatch to that response on the fake's clock.
- ``original()`` is the interaction's original message; after a type-5 defer it is a *loading* message until
  the bot edits ``@original`` — or sends its first followup, which (as on Discord) edits the loading message
  instead of creating a new one. ``original()`` waits for the loaded message by default.
- ``followup(i)`` is the i-th followup that created a *new* message.
- ``updated_message()`` is the component's message after a type-7 update or a later edit.
"""

# ruff: noqa: ASYNC109  -- waits take a ``timeout`` deadline by design (the test-facing API)
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .messages import StoredMessage
from .records import InteractionRecord, InteractionResponse, RecordedRequest

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["InteractionHandle"]

T = TypeVar("T")


class InteractionHandle:
    def __init__(self, fake: FakeDiscord, record: InteractionRecord) -> None:
        self.fake = fake
        self.record = record

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.record.type} acknowledged={self.record.acknowledged}>"

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def token(self) -> str:
        return self.record.token

    @property
    def payload(self) -> dict[str, Any]:
        return self.record.payload

    @property
    def followups(self) -> list[StoredMessage]:
        return list(self.record.followups)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every REST request made for this interaction (callback, webhook edits/followups), in order."""
        return list(self.record.requests)

    @property
    def errors(self) -> list[RecordedRequest]:
        """Requests for this interaction that the fake rejected (status >= 400)."""
        return self.record.errors

    async def wait_for(self, predicate: Callable[[], T | None], *, timeout: float = 5.0, what: str = "condition") -> T:
        return await self.fake.wait_for(predicate, timeout=timeout, what=f"{what} (interaction {self.id})")

    async def response(self, *, timeout: float = 5.0) -> InteractionResponse:
        """The initial response (waits until the bot sends one)."""
        return await self.wait_for(lambda: self.record.response, timeout=timeout, what="the initial response")

    async def original(self, *, timeout: float = 5.0, loaded: bool = True) -> StoredMessage:
        """The original response message; with ``loaded`` (default) waits past a deferred "thinking…" state."""

        def ready() -> StoredMessage | None:
            msg = self.record.original
            if msg is None or (loaded and msg.loading):
                return None
            return msg

        what = "the original response message" + (" (edited after defer)" if loaded else "")
        return await self.wait_for(ready, timeout=timeout, what=what)

    async def followup(self, index: int = 0, *, timeout: float = 5.0) -> StoredMessage:
        """The ``index``-th followup message that is not the original (0-based)."""
        return await self.wait_for(
            lambda: self.record.followups[index] if len(self.record.followups) > index else None,
            timeout=timeout,
            what=f"followup #{index}",
        )

    async def choices(self, *, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The autocomplete choices the bot answered with (type 8)."""
        resp = await self.response(timeout=timeout)
        if resp.type != 8:
            raise AssertionError(f"expected an autocomplete result (type 8), got response type {resp.type}")
        return list(resp.choices or [])

    async def updated_message(self, *, timeout: float = 5.0) -> StoredMessage:
        """The component's message after the bot updated it (type 7, or an edit after a type-6 defer)."""
        mid = self.record.component_message_id
        if mid is None:
            raise AssertionError("not a component interaction: no message to update")

        def updated() -> StoredMessage | None:
            msg = self.fake.messages_by_id.get(mid)
            if msg is None or self.record.response is None:
                return None
            if self.record.response.type == 7 or any(r.ok and r.method == "PATCH" for r in self.record.requests):
                return msg
            return None

        return await self.wait_for(updated, timeout=timeout, what="the component's message to be updated")

    async def reply(self, *, timeout: float = 5.0) -> StoredMessage:
        """What the user sees as the answer: the loaded original, or the updated message for a type-7 update."""
        resp = await self.response(timeout=timeout)
        if resp.type in (6, 7):
            return await self.updated_message(timeout=timeout)
        if resp.type not in (4, 5):
            raise AssertionError(f"response type {resp.type} has no reply message")
        return await self.original(timeout=timeout)
