"""Specs → discord.py objects, field for field; and sending a spec so one rejected field never loses it.

The builders in `bot.render` decide everything a message shows; this module only translates. It is also the
one place that decides who a message may ping: `allowed_mentions_for` permits exactly the roles a spec lists
(`MessageSpec.allowed_role_ids`, set only by topic role pings) and nobody else — never @everyone, users, or
anything paper text could name.

`send_spec` wraps any "send this message" call: when Discord rejects a message with 400 / 50035 naming parts
that can be left out (a paper's thumbnail or link URL that Discord's validator dislikes, a link button), it
sends the message again once without them. One paper's bad URL must not cost a whole reply or digest post.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import discord

from bot.render import limits
from bot.render.specs import ButtonSpec, EmbedSpec, MessageSpec, SelectOptionSpec, drop_rejected

__all__ = [
    "INVALID_FORM_BODY",
    "NO_MENTIONS",
    "allowed_mentions_for",
    "embed_from_spec",
    "embeds_for",
    "link_view",
    "rejected_paths",
    "select_options",
    "send_kwargs",
    "send_spec",
    "send_with_nonce",
]

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
INVALID_FORM_BODY = 50035
# discord.py flattens Discord's `errors` tree into HTTPException.text as lines "In embeds.3.thumbnail.url: …".
_ERROR_PATH = re.compile(r"^In ([\w.]+):", re.MULTILINE)
_BUTTON_STYLES: dict[str, discord.ButtonStyle] = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
    "link": discord.ButtonStyle.link,
}

T = TypeVar("T")


def embed_from_spec(spec: EmbedSpec) -> discord.Embed:
    """The `discord.Embed` for a spec (the spec is already within Discord's limits)."""
    embed = discord.Embed(title=spec.title, url=spec.url, description=spec.description, colour=spec.color)
    for field in spec.fields:
        embed.add_field(name=field.name, value=field.value, inline=field.inline)
    if spec.author:
        embed.set_author(name=spec.author)
    if spec.thumbnail:
        embed.set_thumbnail(url=spec.thumbnail)
    if spec.footer:
        embed.set_footer(text=spec.footer)
    return embed


def embeds_for(message: MessageSpec) -> list[discord.Embed]:
    """All embeds of one message spec, in order."""
    return [embed_from_spec(spec) for spec in message.embeds]


def allowed_mentions_for(message: MessageSpec) -> discord.AllowedMentions:
    """Nobody, or exactly the message's `allowed_role_ids` (never everyone, users or replied-to authors)."""
    if not message.allowed_role_ids:
        return NO_MENTIONS
    return discord.AllowedMentions(
        everyone=False,
        users=False,
        roles=[discord.Object(id=role_id) for role_id in message.allowed_role_ids],
        replied_user=False,
    )


def _button(spec: ButtonSpec, row: int) -> discord.ui.Button[Any]:
    return discord.ui.Button(
        label=spec.label,
        url=spec.url,
        custom_id=spec.custom_id if spec.url is None else None,
        emoji=spec.emoji,
        style=discord.ButtonStyle.link if spec.url else _BUTTON_STYLES[spec.style],
        disabled=spec.disabled,
        row=row,
    )


def link_view(message: MessageSpec) -> discord.ui.View | None:
    """A view holding the message's buttons, `BUTTONS_PER_ROW` per row (None without buttons).

    Only link buttons work in a view that nobody listens to; action buttons belong to a feature's own view,
    which adds them from the same specs.
    """
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for index, spec in enumerate(message.buttons):
        view.add_item(_button(spec, index // limits.BUTTONS_PER_ROW))
    return view


def select_options(options: Sequence[SelectOptionSpec]) -> list[discord.SelectOption]:
    """Select menu options from specs."""
    return [discord.SelectOption(label=o.label, value=o.value, description=o.description) for o in options]


def send_kwargs(message: MessageSpec) -> dict[str, Any]:
    """Keyword arguments for `Messageable.send` / `Webhook.send`: content, embeds, mentions and buttons."""
    kwargs: dict[str, Any] = {"embeds": embeds_for(message), "allowed_mentions": allowed_mentions_for(message)}
    if message.content:
        kwargs["content"] = message.content
    view = link_view(message)
    if view is not None:
        kwargs["view"] = view
    return kwargs


async def send_with_nonce(channel: discord.abc.Messageable, message: MessageSpec) -> discord.Message:
    """Send `message` with its nonce enforced (Discord answers a repeat with the message it already made); a
    message without one (recorded before parts had nonces) goes with the random nonce discord.py picks."""
    if message.nonce is None:
        return await channel.send(**send_kwargs(message))
    return await channel.send(**send_kwargs(message), nonce=message.nonce)


def rejected_paths(exc: discord.HTTPException) -> list[str]:
    """The parts of the body Discord rejected with 400 / 50035 (e.g. `embeds.3.thumbnail.url`), else []."""
    if exc.status != 400 or exc.code != INVALID_FORM_BODY:
        return []
    return _ERROR_PATH.findall(exc.text or "")


async def send_spec(send: Callable[[MessageSpec], Awaitable[T]], message: MessageSpec) -> T:
    """`send(message)`; if Discord rejects droppable parts of it, `send` it once more without them.

    Any other failure, or a second rejection, propagates unchanged to the caller.
    """
    try:
        return await send(message)
    except discord.HTTPException as exc:
        paths = rejected_paths(exc)
        cleaned = drop_rejected(message, paths)
        if cleaned is None:
            raise
        log.warning("Discord rejected %s; sending the message again without them", ", ".join(paths))
        return await send(cleaned)
