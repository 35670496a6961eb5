"""What the fake records: requests, interactions and their responses.

Tests assert on these instead of on log output. Times are read from the fake's (injectable) monotonic clock;
``since_dispatch`` is measured from the moment the fake sent the interaction's INTERACTION_CREATE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .limits import MessageFlags
from .messages import StoredMessage

__all__ = ["InteractionRecord", "InteractionResponse", "RecordedRequest"]


@dataclass
class RecordedRequest:
    method: str
    #: path below ``/api/v10`` (e.g. ``/channels/1400…/messages``)
    path: str
    #: the route template matched (e.g. ``POST /channels/{channel_id}/messages``), "" when unhandled
    route: str
    query: dict[str, str]
    json: Any
    at: float
    status: int = 0
    #: Discord JSON error code of the answer (0 for none / generic)
    code: int = 0
    response: Any = None
    interaction_id: int | None = None
    since_dispatch: float | None = None
    #: multipart uploads: [{"name", "filename", "size"}]
    files: list[dict[str, Any]] = field(default_factory=list)
    #: answered by a ``rate_limit_next``/``fail_next``/``fail_after_create`` script rather than by the route
    scripted: bool = False
    #: answered 429 by the rate limiter (``fake.rate_limits``), not scripted
    rate_limited: bool = False
    #: the message this request created, edited or was answered with (also set when a fault hid the answer)
    message_id: int | None = None
    #: a create answered with an earlier message because of its nonce (``enforce_nonce``)
    nonce_replay: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def __str__(self) -> str:
        extra = f" code={self.code}" if self.code else ""
        return f"{self.method} {self.path} -> {self.status}{extra}"


@dataclass
class InteractionResponse:
    """One accepted initial interaction response (POST …/callback)."""

    type: int
    data: dict[str, Any] | None
    at: float
    #: seconds between dispatching INTERACTION_CREATE and receiving this response (fake clock)
    latency: float

    @property
    def flags(self) -> int:
        return int((self.data or {}).get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlags.EPHEMERAL)

    @property
    def deferred(self) -> bool:
        return self.type in (5, 6)

    @property
    def allowed_mentions(self) -> dict[str, Any] | None:
        return (self.data or {}).get("allowed_mentions")

    @property
    def choices(self) -> list[dict[str, Any]] | None:
        return (self.data or {}).get("choices") if self.type == 8 else None


@dataclass
class InteractionRecord:
    id: int
    token: str
    type: int
    payload: dict[str, Any]
    application_id: int
    guild_id: int | None
    channel_id: int | None
    user_id: int | None
    dispatched_at: float | None = None
    response: InteractionResponse | None = None
    original: StoredMessage | None = None
    followups: list[StoredMessage] = field(default_factory=list)
    #: the message a component interaction was attached to
    component_message_id: int | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    expired: bool = False
    #: gateway sessions the INTERACTION_CREATE was sent to (those of the shard holding its guild)
    delivered_to: list[str] = field(default_factory=list)
    #: the shard it was routed to: ``(shard_id, shard_count)`` of the receiving session(s)
    shard: tuple[int, int] | None = None

    @property
    def acknowledged(self) -> bool:
        return self.response is not None

    @property
    def errors(self) -> list[RecordedRequest]:
        """Requests tied to this interaction that the fake rejected."""
        return [r for r in self.requests if r.status >= 400]
