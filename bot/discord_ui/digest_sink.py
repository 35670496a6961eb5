"""The digest's `DigestSink` on Discord REST: post a part, read back the bot's own recent messages.

Three rules a digest part needs beyond a plain `send`:

* **Nonce.** Each part goes out with its deterministic nonce (`MessageSpec.nonce`, from channel, local date
  and part); discord.py sends it with `enforce_nonce`, so when Discord created the message but answered 5xx
  and discord.py retried — or another attempt sends the same part within Discord's nonce window — Discord
  returns the message it already made instead of posting a second one.
* **A rejected field never sinks a post.** A 400 / 50035 naming droppable parts (a paper's thumbnail URL that
  Discord's validator refuses) is retried once without them (`adapter.send_spec`), so one paper with a bad
  URL costs its thumbnail, not the day's post in every channel that lists it.
* **Failures are classified** into `DeliveryError(permanent=…)`: a channel that is gone (404) or forbids the
  bot (403) is permanent until someone acts; 5xx, 429 and network errors may pass later.

Channels are addressed by id (`get_partial_messageable`): no gateway cache is needed to post.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

from bot.digest.sink import DeliveryError, SentMessage
from bot.discord_ui.adapter import send_kwargs, send_spec
from bot.render.specs import MessageSpec
from bot.render.status import channel_gone_reason, missing_access_reason, missing_permissions_reason

__all__ = ["DiscordDigestSink"]

T = TypeVar("T")


def _forbidden_reason(exc: discord.Forbidden) -> str:
    if exc.code == 50001:
        return missing_access_reason()
    if exc.code == 50013:
        return missing_permissions_reason()
    return f"Discord refused access to the channel (403 {exc.code}: {exc.text})"


class DiscordDigestSink:
    """Delivers digest messages through Discord REST, addressing channels by id (no cache needed)."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def _call(self, action: Callable[[], Awaitable[T]]) -> T:
        try:
            return await action()
        except discord.NotFound as exc:
            raise DeliveryError(channel_gone_reason(exc.code), permanent=True, status=404) from exc
        except discord.Forbidden as exc:
            raise DeliveryError(_forbidden_reason(exc), permanent=True, status=403) from exc
        except discord.HTTPException as exc:
            # Other 4xx (e.g. 50035 invalid body) will fail the same way again; 5xx and 429 may pass later.
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise DeliveryError(
                f"Discord answered {exc.status} (code {exc.code}): {exc.text}", permanent=permanent, status=exc.status
            ) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"could not reach Discord: {exc!r}", permanent=False) from exc

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        """Post one digest part with its nonce; return its id. Raise DeliveryError on failure."""
        channel = self._client.get_partial_messageable(channel_id)

        async def post(spec: MessageSpec) -> discord.Message:
            if spec.nonce is None:  # a payload recorded before parts had nonces: discord.py picks a random one
                return await channel.send(**send_kwargs(spec))
            return await channel.send(**send_kwargs(spec), nonce=spec.nonce)

        sent = await self._call(lambda: send_spec(post, message))
        return sent.id

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        """The bot's own messages among the channel's latest `limit`, newest first, with embed footers."""
        me = self._client.user
        if me is None:
            raise DeliveryError("the bot is not logged in", permanent=False)
        channel = self._client.get_partial_messageable(channel_id)

        async def read() -> list[SentMessage]:
            out: list[SentMessage] = []
            async for message in channel.history(limit=limit):
                if message.author.id == me.id:
                    footers = tuple(e.footer.text for e in message.embeds if e.footer and e.footer.text)
                    out.append(SentMessage(message.id, footers))
            return out

        return await self._call(read)
