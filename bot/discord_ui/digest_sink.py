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
* **Own messages by id and by position** (`OwnMessages`): reconciling a half-made post looks up the parts the
  record names by message id, and pages the channel from the post's start for a part sent but not recorded —
  never "the latest 100 messages", which a busy channel pushes a part out of.
* **Paced.** Every write (a part, a thread, an edit) waits for its turn on the bot's `MessagePacer` (40 messages
  per second per token, at most 50 in flight: `bot/discord_ui/pacing.py`), so 09:00's fan-out never bursts into
  Discord's global limit and slash-command answers keep their share of it.
* **Threads, edits, guilds** (`PostFeatures`): a thread started from a post's first message has that message's
  id on Discord, so "has this post a thread?" is `GET /channels/{message id}`, and a second start (Discord 400
  code 160004) is answered with that id rather than an error; a settled edit replaces a part's content and
  embeds with the same mentions rule as the post; a channel's server comes from the gateway cache.

Channels are addressed by id (`get_partial_messageable`): no gateway cache is needed to post.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, Final, TypeVar

import aiohttp
import discord

from bot.digest.sink import DeliveryError, SentMessage
from bot.discord_ui.adapter import send_kwargs, send_spec, send_with_nonce
from bot.discord_ui.pacing import MessagePacer, paced
from bot.log import describe_network_error
from bot.render.specs import MessageSpec
from bot.render.status import (
    channel_gone_reason,
    missing_access_reason,
    missing_permissions_reason,
    thread_failed_reason,
    thread_permission_reason,
)

__all__ = ["DiscordDigestSink"]

T = TypeVar("T")
UNKNOWN_MESSAGE = 10008  # a 404 for the message, not the channel (which is 10003)
UNKNOWN_CHANNEL = 10003
THREAD_EXISTS = 160004  # "A thread has already been created for this message"
MISSING_PERMISSIONS = 50013
THREAD_ARCHIVE_MINUTES: Final = 1440  # a day: the discussion of one day's post


def _sent(message: discord.Message) -> SentMessage:
    return SentMessage(message.id, tuple(e.footer.text for e in message.embeds if e.footer and e.footer.text))


def _forbidden_reason(exc: discord.Forbidden) -> str:
    if exc.code == 50001:
        return missing_access_reason()
    if exc.code == 50013:
        return missing_permissions_reason()
    return f"Discord refused access to the channel (403 {exc.code}: {exc.text})"


class DiscordDigestSink:
    """Delivers digest messages through Discord REST, addressing channels by id (no cache needed)."""

    def __init__(self, client: discord.Client, pacer: MessagePacer | None = None) -> None:
        """`pacer`: the bot's one pacer for its own messages (None: unpaced, for measuring the alternatives)."""
        self._client = client
        self._pacer = pacer

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
            raise DeliveryError(
                f"could not reach Discord: {describe_network_error(exc, 'Discord')}", permanent=False
            ) from exc

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        """Post one digest part with its nonce; return its id. Raise DeliveryError on failure."""
        channel = self._client.get_partial_messageable(channel_id)

        sent = await self._call(
            lambda: paced(self._pacer, lambda: send_spec(partial(send_with_nonce, channel), message))
        )
        return sent.id

    def _me(self) -> int:
        me = self._client.user
        if me is None:
            raise DeliveryError("the bot is not logged in", permanent=False)
        return me.id

    async def recent_own_messages(self, channel_id: int, *, limit: int = 100) -> list[SentMessage]:
        """The bot's own messages among the channel's latest `limit`, newest first, with embed footers."""
        me = self._me()
        channel = self._client.get_partial_messageable(channel_id)

        async def read() -> list[SentMessage]:
            return [_sent(m) async for m in channel.history(limit=limit) if m.author.id == me]

        return await self._call(read)

    async def own_message(self, channel_id: int, message_id: int) -> SentMessage | None:
        """The bot's own message `message_id` in the channel; None when it is not there (10008) or not ours."""
        me = self._me()
        channel = self._client.get_partial_messageable(channel_id)

        async def fetch() -> SentMessage | None:
            try:
                message = await channel.fetch_message(message_id)
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_MESSAGE:
                    return None
                raise
            return _sent(message) if message.author.id == me else None

        return await self._call(fetch)

    async def own_messages_after(self, channel_id: int, after: int) -> AsyncIterator[SentMessage]:
        """The bot's own messages created after snowflake `after`, oldest first (paged 100 at a time)."""
        me = self._me()
        channel = self._client.get_partial_messageable(channel_id)
        history = channel.history(limit=None, after=discord.Object(id=after), oldest_first=True)
        while True:
            try:
                message = await self._call(lambda: anext(history))
            except StopAsyncIteration:
                return
            if message.author.id == me:
                yield _sent(message)

    # ---- threads, edits, guilds (PostFeatures) --------------------------------------------------------------

    def guild_of(self, channel_id: int) -> int | None:
        """The channel's server from the gateway cache (None before it is cached, or for an unknown channel)."""
        channel = self._client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        return guild.id if guild is not None else None

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        """Start a public thread from the message; a message that has one already answers with its id."""
        try:
            data = await paced(
                self._pacer,
                lambda: self._client.http.start_thread_with_message(
                    channel_id, message_id, name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES
                ),
            )
        except discord.Forbidden as exc:
            reason = thread_permission_reason() if exc.code == MISSING_PERMISSIONS else _forbidden_reason(exc)
            raise DeliveryError(reason, permanent=True, status=403) from exc
        except discord.NotFound as exc:
            reason = (
                thread_failed_reason("the post's first message is gone")
                if exc.code == UNKNOWN_MESSAGE
                else channel_gone_reason(exc.code)
            )
            raise DeliveryError(reason, permanent=True, status=404) from exc
        except discord.HTTPException as exc:
            if exc.status == 400 and exc.code == THREAD_EXISTS:
                return message_id  # Discord gives a thread started from a message that message's id
            detail = f"Discord answered {exc.status} (code {exc.code}): {exc.text}"
            permanent = 400 <= exc.status < 500 and exc.status != 429  # 5xx and 429 may pass later
            raise DeliveryError(thread_failed_reason(detail), permanent=permanent, status=exc.status) from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise DeliveryError(
                f"could not reach Discord: {describe_network_error(exc, 'Discord')}", permanent=False
            ) from exc
        return int(data["id"])

    async def thread_of(self, channel_id: int, message_id: int) -> int | None:
        """The thread started from the message (`GET /channels/{message id}`), or None when there is none."""

        async def look() -> int | None:
            try:
                data = await self._client.http.get_channel(message_id)
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_CHANNEL:
                    return None
                raise
            parent: Any = data.get("parent_id")
            return message_id if parent is not None and int(parent) == channel_id else None

        return await self._call(look)

    async def edit(self, channel_id: int, message_id: int, message: MessageSpec) -> bool:
        """Replace the bot's message with `message`; False when the message is gone (10008)."""
        partial = self._client.get_partial_messageable(channel_id).get_partial_message(message_id)

        async def change(spec: MessageSpec) -> None:
            kwargs = send_kwargs(spec)
            kwargs.setdefault("content", None)  # a part without content keeps none (never stale text)
            await partial.edit(**kwargs)

        async def attempt() -> bool:
            try:
                await paced(self._pacer, lambda: send_spec(change, message))
            except discord.NotFound as exc:
                if exc.code == UNKNOWN_MESSAGE:
                    return False
                raise
            return True

        return await self._call(attempt)
