"""Sending helpers shared by the cogs and the views: how a reply of one or several message specs is sent.

Every message goes out with the mentions its spec allows (nobody, for anything built from paper data), and a
reply that needs several messages (a very long abstract) is sent as consecutive followups, which is what
Discord allows after a defer. Each message is sent through `send_spec`, so a field Discord rejects is dropped
instead of losing the reply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import discord

from bot.discord_ui.adapter import NO_MENTIONS, send_kwargs, send_spec
from bot.render.specs import MessageSpec


async def send_followups(
    interaction: discord.Interaction[Any],
    messages: Sequence[MessageSpec],
    *,
    ephemeral: bool = False,
    view: Callable[[MessageSpec], discord.ui.View | None] | None = None,
) -> None:
    """Send each message spec as one followup, in order; `view` builds a message's components (default: its
    link buttons only)."""
    for message in messages:

        async def send(spec: MessageSpec) -> None:
            kwargs = send_kwargs(spec)
            if view is not None:
                kwargs.pop("view", None)
                if (components := view(spec)) is not None:
                    kwargs["view"] = components
            await interaction.followup.send(**kwargs, ephemeral=ephemeral)

        await send_spec(send, message)


async def send_text(interaction: discord.Interaction[Any], text: str, *, ephemeral: bool = False) -> None:
    """Send a plain line as the response, or as a followup when the interaction was already answered."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
