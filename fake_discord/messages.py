"""Messages as the fake stores them, with helpers tests assert on.

A :class:`StoredMessage` is what the bot made Discord show: channel posts, DMs, thread posts, interaction
responses (original and followups, ephemeral or not). ``to_dict()`` is the Discord JSON the fake returns;
attributes keep what matters for assertions — the ``allowed_mentions`` the bot sent, who Discord pinged
(``pings``, see :mod:`.mentions`), the ``nonce``, the thread started from it, and every edit (``edits``).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .limits import MessageFlags
from .mentions import MentionRules, Mentions, effective_mentions
from .snowflake import snowflake_time_ms

__all__ = ["MessageEdit", "StoredMessage"]

_EDITABLE_FLAGS = MessageFlags.SUPPRESS_EMBEDS
#: message flag Discord sets on a message that a thread was started from
HAS_THREAD = 1 << 5


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


@dataclass(frozen=True)
class MessageEdit:
    """One accepted edit of a message: when, what it was, what it became, and the body that did it."""

    #: the fake's clock when the edit was accepted
    at: float
    #: wall-clock milliseconds (what ``edited_timestamp`` shows)
    edited_ms: int
    before_content: str
    after_content: str
    before_embeds: list[dict[str, Any]]
    after_embeds: list[dict[str, Any]]
    body: dict[str, Any]
    #: "channel" (PATCH /channels/…/messages/…) or "interaction" (webhook-token edits and followups)
    via: str
    #: the edit replaced a deferred "thinking…" response (Discord shows no "(edited)" for this one)
    from_loading: bool = False


@dataclass
class StoredMessage:
    id: int
    channel_id: int
    author: dict[str, Any]
    guild_id: int | None = None
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    allowed_mentions: dict[str, Any] | None = None
    mention_everyone: bool = False
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    message_reference: dict[str, Any] | None = None
    tts: bool = False
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    application_id: int | None = None
    webhook_id: int | None = None
    edited_ms: int | None = None
    deleted: bool = False
    #: every body that created or edited this message, in order (the raw JSON the bot sent)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    #: what the author may ping here (set by the fake from the world when the message is created)
    mention_rules: MentionRules = field(default_factory=MentionRules)
    #: who Discord notified: fixed when the message first showed content (create, or the edit of a deferred
    #: response); edits never ping anyone new. ``None`` while a deferred response is still "thinking…".
    pings: Mentions | None = None
    #: accepted edits, oldest first
    edits: list[MessageEdit] = field(default_factory=list)
    nonce: str | int | None = None
    #: the thread started from this message (its id equals this message's id, as on Discord)
    thread_id: int | None = None
    #: the thread's channel JSON for ``to_dict()`` (set by the fake when the thread is created)
    thread: dict[str, Any] | None = None

    @property
    def can_mention_everyone(self) -> bool:
        return self.mention_rules.can_mention_everyone

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & MessageFlags.EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True for a deferred ("thinking…") response that has not been edited yet."""
        return bool(self.flags & MessageFlags.LOADING)

    @property
    def edited(self) -> bool:
        return self.edited_ms is not None

    @property
    def silent(self) -> bool:
        """Sent with SUPPRESS_NOTIFICATIONS (``@silent``): mentions show, but no push notification."""
        return bool(self.flags & MessageFlags.SUPPRESS_NOTIFICATIONS)

    def apply(self, body: Mapping[str, Any], *, create: bool) -> None:
        """Apply a create or edit body (fields absent from an edit are kept, ``null`` clears)."""
        self.bodies.append(copy.deepcopy(dict(body)))
        if "content" in body:
            self.content = body["content"] or ""
        if "embeds" in body:
            self.embeds = [dict(e, type=e.get("type", "rich")) for e in body["embeds"] or []]
        if "components" in body:
            self.components = copy.deepcopy(body["components"] or [])
        if "attachments" in body and not create:
            self.attachments = [
                a for a in self.attachments if str(a["id"]) in {str(b.get("id")) for b in body["attachments"] or []}
            ]
        if "allowed_mentions" in body:
            self.allowed_mentions = copy.deepcopy(body["allowed_mentions"])
        if "message_reference" in body and create:
            self.message_reference = body["message_reference"]
        if create:
            self.tts = bool(body.get("tts", False))
        flags = body.get("flags")
        if flags is not None:
            if create:
                self.flags |= flags & (
                    MessageFlags.SUPPRESS_EMBEDS
                    | MessageFlags.SUPPRESS_NOTIFICATIONS
                    | MessageFlags.EPHEMERAL
                    | MessageFlags.IS_COMPONENTS_V2
                    | MessageFlags.LOADING
                )
            else:
                self.flags = (self.flags & ~_EDITABLE_FLAGS) | (flags & _EDITABLE_FLAGS)
        current = effective_mentions(self.content, self.allowed_mentions, self.mention_rules)
        self.mention_everyone = current.mention_everyone
        self.mentions, self.mention_roles = list(current.users), list(current.roles)
        if self.pings is None and not self.loading:
            self.pings = Mentions() if self.ephemeral else current  # ephemeral messages notify nobody

    # -- Discord JSON --------------------------------------------------------------------------------------
    def to_dict(self, *, with_nonce: bool = False) -> dict[str, Any]:
        """Discord's message JSON. The ``nonce`` is only in the answer to the create that carried it (and in
        MESSAGE_CREATE); a message fetched later has none — so a bot cannot find its posts by nonce in history."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": 20 if self.interaction_metadata and self.interaction_metadata.get("type") == 2 else 0,
            "author": copy.deepcopy(self.author),
            "content": self.content,
            "timestamp": _iso(snowflake_time_ms(self.id)),
            "edited_timestamp": None if self.edited_ms is None else _iso(self.edited_ms),
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": [
                {"id": str(u), "username": f"user{u}", "discriminator": "0", "avatar": None} for u in self.mentions
            ],
            "mention_roles": [str(r) for r in self.mention_roles],
            "attachments": copy.deepcopy(self.attachments),
            "embeds": copy.deepcopy(self.embeds),
            "components": copy.deepcopy(self.components),
            "pinned": False,
            "flags": self.flags,
        }
        if with_nonce and self.nonce is not None:
            data["nonce"] = self.nonce
        if self.thread is not None:
            data["thread"] = copy.deepcopy(self.thread)
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = copy.deepcopy(self.interaction_metadata)
        if self.message_reference is not None:
            data["message_reference"] = copy.deepcopy(self.message_reference)
        return data

    # -- assertion helpers ---------------------------------------------------------------------------------
    def iter_components(self) -> Iterator[dict[str, Any]]:
        """Every interactive component (buttons, selects), flattened across rows and v2 containers."""

        def walk(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
            for item in items:
                if item.get("type") in (2, 3, 5, 6, 7, 8):
                    yield item
                for key in ("components",):
                    if isinstance(item.get(key), list):
                        yield from walk(item[key])
                if isinstance(item.get("accessory"), dict):
                    yield from walk([item["accessory"]])

        return walk(self.components)

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in self.iter_components() if c.get("type") == 2]

    @property
    def selects(self) -> list[dict[str, Any]]:
        return [c for c in self.iter_components() if c.get("type") != 2]

    def component(self, custom_id: str) -> dict[str, Any]:
        for comp in self.iter_components():
            if comp.get("custom_id") == custom_id:
                return comp
        ids = [c.get("custom_id") for c in self.iter_components()]
        raise LookupError(f"message {self.id} has no component {custom_id!r}; it has {ids}")

    def find_button(self, label: str) -> dict[str, Any]:
        for comp in self.buttons:
            if comp.get("label") == label:
                return comp
        raise LookupError(
            f"message {self.id} has no button labelled {label!r}; it has {[b.get('label') for b in self.buttons]}"
        )

    @property
    def text(self) -> str:
        """Content plus every embed's visible text, for loose "does it mention X" assertions."""
        parts = [self.content]
        for e in self.embeds:
            parts += [e.get("title") or "", e.get("description") or ""]
            parts += [(e.get("author") or {}).get("name") or "", (e.get("footer") or {}).get("text") or ""]
            for f in e.get("fields") or []:
                parts += [f.get("name") or "", f.get("value") or ""]
        return "\n".join(p for p in parts if p)
