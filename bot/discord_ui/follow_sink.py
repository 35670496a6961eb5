"""The follows' `FollowSink` on Discord REST: a member's daily DM, sent at most once, read back by its marker.

* **Opening the DM.** `POST /users/@me/channels {recipient_id}` gives the same DM channel every time; opening
  works for any known user — sending is what Discord refuses.
* **Rendering.** `bot.render.follows.follow_dm` builds the messages: the papers best first, each with the
  follows it matched, packed within Discord's limits; every message carries a nonce derived from (member, date,
  part) and its last embed's footer ends in the marker `paperbot follows <date> · i/n`.
* **Never twice.** Parts already in the DM channel (found by their marker among the bot's recent messages there)
  are not sent again, and each part goes with its nonce enforced, so a repeated send inside Discord's nonce
  window is answered with the message already made. `delivered` says whether every part of the DM is there.
* **Failures.** 50007 (the member refuses DMs, or shares no server with the bot), 10013 (unknown user) and
  50033 (invalid recipient) mean the member cannot get DMs: `DmError(dms_closed=True)`, which pauses their
  follows. 5xx, 429 and network errors are transient; any other 4xx is permanent for this DM.
* **Paced.** Each part waits for its turn on the bot's `MessagePacer`, shared with the digest's posts: DMs
  count against the same global limit of the bot's token.
* **No pings.** Paper text never pings: every message goes with no allowed mentions (`send_kwargs`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import aiohttp
import discord

from bot.discord_ui.adapter import send_spec, send_with_nonce
from bot.discord_ui.pacing import MessagePacer, paced
from bot.follows.sink import DmError, FollowDM
from bot.log import describe_network_error
from bot.render.follows import FollowMatch, follow_dm, parse_follow_marker
from bot.render.specs import MessageSpec

__all__ = ["DM_HISTORY_LIMIT", "DiscordFollowSink", "dm_messages"]

T = TypeVar("T")
# Codes that mean "this member cannot get DMs from the bot": refused, unknown user, invalid recipient.
CANNOT_DM = frozenset({50007, 10013, 50033})
# A member's DM channel holds little but the bot's daily DMs: a day's DM is among the latest 50 messages.
DM_HISTORY_LIMIT = 50


def dm_messages(dm: FollowDM) -> tuple[MessageSpec, ...]:
    """The messages of a `FollowDM`, as `follow_dm` renders them (the same every time for the same DM)."""
    matches = [FollowMatch(p.paper, tuple(label for hit in p.hits for label in hit.labels)) for p in dm.papers]
    since = dm.first_day if dm.previous_dm_at is not None else None
    return follow_dm(matches, user_id=dm.user_id, dm_date=dm.dm_date, since=since, until=dm.last_day)


class DiscordFollowSink:
    """Sends follow DMs through Discord REST (no gateway cache needed)."""

    def __init__(self, client: discord.Client, pacer: MessagePacer | None = None) -> None:
        """`pacer`: the bot's one pacer for its own messages (None: unpaced)."""
        self._client = client
        self._pacer = pacer
        self._channels: dict[int, int] = {}  # user id -> DM channel id (Discord keeps one per user)

    async def _call(self, action: Callable[[], Awaitable[T]]) -> T:
        try:
            return await action()
        except discord.HTTPException as exc:
            if exc.code in CANNOT_DM:
                raise DmError(
                    f"Discord refused the DM: the member does not accept DMs from the bot ({exc.code})",
                    dms_closed=True,
                    status=exc.status,
                ) from exc
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise DmError(
                f"Discord answered {exc.status} (code {exc.code}): {exc.text}", permanent=permanent, status=exc.status
            ) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DmError(f"could not reach Discord: {describe_network_error(exc, 'Discord')}") from exc

    async def _channel(self, user_id: int) -> discord.PartialMessageable:
        channel_id = self._channels.get(user_id)
        if channel_id is None:
            data = await self._call(lambda: self._client.http.start_private_message(user_id))
            channel_id = self._channels[user_id] = int(data["id"])
        return self._client.get_partial_messageable(channel_id, type=discord.ChannelType.private)

    async def _parts_there(self, dm: FollowDM, channel: discord.PartialMessageable) -> dict[int, int]:
        """The parts of this DM already in the channel, as part -> parts (by the marker in the bot's footers)."""
        me = self._client.user
        if me is None:
            raise DmError("the bot is not logged in")

        async def read() -> dict[int, int]:
            found: dict[int, int] = {}
            async for message in channel.history(limit=DM_HISTORY_LIMIT):
                if message.author.id != me.id:
                    continue
                for embed in message.embeds:
                    marker = parse_follow_marker(embed.footer.text or "") if embed.footer else None
                    if marker is not None and marker[0] == dm.dm_date:
                        found[marker[1]] = marker[2]
            return found

        return await self._call(read)

    async def send_dm(self, dm: FollowDM) -> None:
        """Send the DM's parts that are not in the member's DM channel yet, each with its nonce."""
        messages = dm_messages(dm)
        if not messages:
            return
        channel = await self._channel(dm.user_id)
        there = await self._parts_there(dm, channel)

        async def post(spec: MessageSpec) -> discord.Message:
            return await paced(self._pacer, partial(send_with_nonce, channel, spec))

        for message in messages:
            if message.part not in there:
                await self._call(partial(send_spec, post, message))

    async def delivered(self, dm: FollowDM) -> bool:
        """Whether every part of the DM for (member, date) is in their DM channel (1 … n of its markers)."""
        channel = await self._channel(dm.user_id)
        there = await self._parts_there(dm, channel)
        totals = set(there.values())
        return len(totals) == 1 and set(there) >= set(range(1, totals.pop() + 1))
