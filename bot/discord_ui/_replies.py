"""Sending helpers shared by the cog and the views: one place that knows how a multi-message reply is sent.

Every message built from paper data goes out with `AllowedMentions.none()` (escaping in `embeds` is the
second belt), and a reply that needs several messages (a very long abstract) is sent as consecutive
followups, which is what Discord allows after a defer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import discord

NO_MENTIONS = discord.AllowedMentions.none()


async def send_followups(
    interaction: discord.Interaction[Any],
    messages: Sequence[Sequence[discord.Embed]],
    *,
    ephemeral: bool = False,
) -> None:
    """Send each group of embeds as one followup message, in order, pinging nobody."""
    for embeds in messages:
        await interaction.followup.send(embeds=list(embeds), ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)


async def send_text(interaction: discord.Interaction[Any], text: str, *, ephemeral: bool = False) -> None:
    """Send a plain line as the response, or as a followup when the interaction was already answered."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
    else:
        await interaction.response.send_message(text, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS)
