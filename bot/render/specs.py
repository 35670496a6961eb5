"""Frozen specs of what a Discord message shows: the builders' output, the adapter's and the printer's input.

A spec is plain data with Discord's vocabulary (embed, field, footer, button) and no behaviour beyond
measuring itself. The UI layer turns it into discord.py objects (`bot.discord_ui.adapter`), `plain` prints it,
the digest stores it as JSON so a restart resends exactly the same parts. Builders guarantee every spec they
return is within `limits`; `limit_problems` is the check that tests (and a cautious caller) run.

Mentions are part of the spec: `allowed_role_ids` lists the only roles a message may ping (a topic ping), and
is empty for everything else, so paper text can never ping anyone whatever it contains.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from bot.render import limits

__all__ = [
    "BRAND_COLOUR",
    "ButtonSpec",
    "EmbedSpec",
    "FieldSpec",
    "MessageSpec",
    "SelectOptionSpec",
    "drop_rejected",
    "limit_problems",
    "messages_from_json",
    "messages_to_json",
    "pack",
    "stable_nonce",
]

BRAND_COLOUR = 0xFFD21E  # Hugging Face yellow: the bot's posts are recognisable at a glance

ButtonStyle = Literal["primary", "secondary", "success", "danger", "link"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One embed field; `inline` fields sit side by side."""

    name: str
    value: str
    inline: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedSpec:
    """The parts of a Discord embed paperbot uses, each already within its own limit."""

    title: str | None = None
    url: str | None = None
    description: str | None = None
    author: str | None = None
    thumbnail: str | None = None
    footer: str | None = None
    fields: tuple[FieldSpec, ...] = ()
    color: int = BRAND_COLOUR

    def size(self) -> int:
        """Characters that count towards Discord's 6000-per-message total (as discord.py's `len(Embed)`)."""
        texts = (self.title, self.description, self.author, self.footer)
        return sum(len(t or "") for t in texts) + sum(len(f.name) + len(f.value) for f in self.fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class ButtonSpec:
    """A button: a link (`url`) opens a page, an action (`custom_id`) is routed back to the bot's view."""

    label: str
    url: str | None = None
    custom_id: str | None = None
    emoji: str | None = None
    style: ButtonStyle = "secondary"
    disabled: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectOptionSpec:
    """One option of a select menu (plain text: label, value and description ≤ 100 characters each)."""

    label: str
    value: str
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageSpec:
    """One Discord message.

    `allowed_role_ids` are the only mentions the message may ping (empty: nobody). `nonce` makes a repeated
    send of the same message a no-op on Discord's side (digest parts). `part`/`parts` number the messages of a
    reply or post that needed several.
    """

    content: str | None = None
    embeds: tuple[EmbedSpec, ...] = ()
    buttons: tuple[ButtonSpec, ...] = ()
    allowed_role_ids: tuple[int, ...] = ()
    nonce: str | None = None
    part: int = 1
    parts: int = 1

    def size(self) -> int:
        """Embed characters counting towards Discord's 6000 limit."""
        return sum(embed.size() for embed in self.embeds)


def stable_nonce(*key: object) -> str:
    """A message nonce that depends only on `key` (e.g. kind, channel, date, part): ≤ 25 characters.

    A hash rather than the readable key because a snowflake alone is up to 20 digits and Discord takes at most
    25 characters; 96 bits make a collision between two different keys practically impossible.
    """
    digest = hashlib.blake2b(":".join(str(part) for part in key).encode(), digest_size=11).hexdigest()
    return "pb" + digest


def pack(embeds: Iterable[EmbedSpec], *, reserve: int = 0) -> list[tuple[EmbedSpec, ...]]:
    """Group embeds, in order, into messages of ≤ 10 embeds and ≤ 6000 characters less `reserve`.

    `reserve` keeps room for text added after packing (the digest's footer marker).
    """
    room = limits.MESSAGE_EMBED_CHARS - reserve
    messages: list[tuple[EmbedSpec, ...]] = []
    current: list[EmbedSpec] = []
    total = 0
    for embed in embeds:
        size = embed.size()
        if current and (len(current) >= limits.EMBEDS_PER_MESSAGE or total + size > room):
            messages.append(tuple(current))
            current, total = [], 0
        current.append(embed)
        total += size
    if current:
        messages.append(tuple(current))
    return messages


def _too_long(problems: list[str], where: str, text: str | None, limit: int) -> None:
    if text is not None and len(text) > limit:
        problems.append(f"{where}: {len(text)} > {limit}")


def limit_problems(message: MessageSpec) -> list[str]:
    """Every way `message` breaks a Discord limit (empty when Discord will accept it)."""
    problems: list[str] = []
    if not message.content and not message.embeds:
        problems.append("empty message")
    _too_long(problems, "content", message.content, limits.CONTENT_MAX)
    if len(message.embeds) > limits.EMBEDS_PER_MESSAGE:
        problems.append(f"{len(message.embeds)} embeds > {limits.EMBEDS_PER_MESSAGE}")
    if message.size() > limits.MESSAGE_EMBED_CHARS:
        problems.append(f"embed characters {message.size()} > {limits.MESSAGE_EMBED_CHARS}")
    for i, embed in enumerate(message.embeds):
        _too_long(problems, f"embeds.{i}.title", embed.title, limits.TITLE_MAX)
        _too_long(problems, f"embeds.{i}.description", embed.description, limits.DESCRIPTION_MAX)
        _too_long(problems, f"embeds.{i}.author", embed.author, limits.AUTHOR_MAX)
        _too_long(problems, f"embeds.{i}.footer", embed.footer, limits.FOOTER_MAX)
        if len(embed.fields) > limits.FIELDS_PER_EMBED:
            problems.append(f"embeds.{i}.fields: {len(embed.fields)} > {limits.FIELDS_PER_EMBED}")
        for j, field in enumerate(embed.fields):
            if not field.name or not field.value:
                problems.append(f"embeds.{i}.fields.{j}: empty name or value")
            _too_long(problems, f"embeds.{i}.fields.{j}.name", field.name, limits.FIELD_NAME_MAX)
            _too_long(problems, f"embeds.{i}.fields.{j}.value", field.value, limits.FIELD_VALUE_MAX)
    if len(message.buttons) > limits.ACTION_ROWS_MAX * limits.BUTTONS_PER_ROW:
        problems.append(f"{len(message.buttons)} buttons > {limits.ACTION_ROWS_MAX * limits.BUTTONS_PER_ROW}")
    for k, button in enumerate(message.buttons):
        _too_long(problems, f"buttons.{k}.label", button.label, limits.BUTTON_LABEL_MAX)
        _too_long(problems, f"buttons.{k}.custom_id", button.custom_id, limits.CUSTOM_ID_MAX)
        if (button.url is None) == (button.custom_id is None):
            problems.append(f"buttons.{k}: needs exactly one of url and custom_id")
    if message.nonce is not None and len(message.nonce) > limits.NONCE_MAX:
        problems.append(f"nonce: {len(message.nonce)} > {limits.NONCE_MAX}")
    return problems


# ---- fields Discord rejected ----------------------------------------------------------------------------

# Paths of Discord's 50035 `errors` tree naming a part of a message that can be left out without losing what
# the message is for: an embed's link, its thumbnail or image, one field, one button.
_EMBED_PART = re.compile(r"^embeds\.(\d+)\.(url|thumbnail|image|fields\.(\d+))(?:\.|$)")
_BUTTON = re.compile(r"^components\.(\d+)\.components\.(\d+)(?:\.|$)")


def drop_rejected(message: MessageSpec, paths: Sequence[str]) -> MessageSpec | None:
    """`message` without the parts Discord rejected (paths like `embeds.3.thumbnail.url`), or None.

    None means there is nothing to drop that would make a retry pass: no path given, or a path names
    something essential (a title, the description, the footer marker), which is a builder bug to fix rather
    than data to leave out. Buttons are numbered as the adapter lays them out, `BUTTONS_PER_ROW` per row.
    """
    if not paths:
        return None
    embeds = list(message.embeds)
    dropped_fields: dict[int, set[int]] = {}
    dropped_buttons: set[int] = set()
    for path in paths:
        if found := _EMBED_PART.match(path):
            index = int(found[1])
            if index >= len(embeds):
                return None
            if found[3] is not None:
                dropped_fields.setdefault(index, set()).add(int(found[3]))
            elif found[2] == "url":
                embeds[index] = replace(embeds[index], url=None)
            elif found[2] == "thumbnail":
                embeds[index] = replace(embeds[index], thumbnail=None)
            # "image": the specs carry no image, so Discord cannot name one; nothing to drop, nothing lost.
        elif found := _BUTTON.match(path):
            dropped_buttons.add(int(found[1]) * limits.BUTTONS_PER_ROW + int(found[2]))
        else:
            return None
    for index, gone in dropped_fields.items():
        kept = tuple(f for j, f in enumerate(embeds[index].fields) if j not in gone)
        embeds[index] = replace(embeds[index], fields=kept)
    buttons = tuple(b for k, b in enumerate(message.buttons) if k not in dropped_buttons)
    cleaned = replace(message, embeds=tuple(embeds), buttons=buttons)
    return cleaned if cleaned != message else None


# ---- JSON (the digest's 'posting' record) ---------------------------------------------------------------


def messages_to_json(messages: Sequence[MessageSpec]) -> str:
    """Serialise messages, so a restart resends exactly these."""
    return json.dumps([asdict(message) for message in messages], ensure_ascii=False)


def _known(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


def messages_from_json(text: str) -> tuple[MessageSpec, ...]:
    """Inverse of `messages_to_json`; also reads records written before a field existed (it takes its default)."""
    raw: list[dict[str, Any]] = json.loads(text)
    out: list[MessageSpec] = []
    for item in raw:
        embeds = tuple(
            EmbedSpec(
                **_known(EmbedSpec, {**embed, "fields": tuple(FieldSpec(**f) for f in embed.get("fields") or ())})
            )
            for embed in item.get("embeds") or ()
        )
        buttons = tuple(ButtonSpec(**_known(ButtonSpec, b)) for b in item.get("buttons") or ())
        rest = _known(MessageSpec, item)
        rest.update(
            embeds=embeds, buttons=buttons, allowed_role_ids=tuple(int(r) for r in item.get("allowed_role_ids") or ())
        )
        out.append(MessageSpec(**rest))
    return tuple(out)
