"""A loopback fake Discord for end-to-end tests with the real discord.py client.

``FakeDiscord`` is an aiohttp server on 127.0.0.1 (random port) speaking Discord's REST API under
``/api/v10`` and its gateway websocket. A real ``discord.Client``/``commands.Bot`` logs in, syncs its command
tree, receives interactions and answers them; the fake validates every answer the way Discord does and records
everything for assertions.

Quick start (pytest-asyncio, ``asyncio_mode=auto``)::

    from discord.ext import commands
    import discord
    from fake_discord import FakeDiscord, running_client, ids

    async def test_search_replies():
        async with FakeDiscord() as fake:                      # default_guild(): see world.py
            bot = MyBot(intents=discord.Intents.default(), guild_ready_timeout=0.1)
            async with running_client(fake, bot):              # login, setup_hook (tree.sync), READY, guilds
                await fake.wait_for_commands(ids.GUILD_ID)     # or None for a global sync
                h = await fake.slash("paper search", query="attention", user_id=ids.MEMBER_USER_ID)
                resp = await h.response()                      # initial response (type 4/5/...)
                assert resp.latency < 3.0                      # on fake.clock, from dispatch
                msg = await h.original()                       # after a defer: waits for the edit / 1st followup
                assert msg.embeds[0]["title"].startswith("Attention")
                assert msg.allowed_mentions == {"parse": []}
                nxt = await fake.click(msg, label="Next")      # button press routed back to the bot's View
                page2 = await nxt.updated_message()
            fake.assert_clean()                                # no unknown routes, no fake crashes

Starting the fake
    ``FakeDiscord(guilds=[...], token=..., app_id=..., clock=..., interaction_timeout=3.0)``; ``async with`` or
    ``await fake.start()`` / ``await fake.close()``. ``fake.api_base_url`` is the REST base to configure (the
    bot's ``discord.api_base_url``); ``fake.gateway.url`` is what ``GET /gateway/bot`` answers.

Running a client: :func:`running_client` (see :mod:`.harness` for exactly what is patched and why:
``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY``, restored on exit).
:func:`pointed_at` is the patch alone, for code that starts the client itself (e.g. the production runtime).

The world (:mod:`.world`): ``default_guild()`` with stable ids in ``ids`` — ``GUILD_ID``; users
``ADMIN_USER_ID`` (Administrator), ``MODERATOR_USER_ID`` (Manage Server), ``MEMBER_USER_ID`` and
``OTHER_USER_ID`` (plain), ``OWNER_USER_ID``; channels ``GENERAL_CHANNEL_ID`` (bot may post),
``ANNOUNCEMENTS_CHANNEL_ID`` (bot lacks SEND_MESSAGES → 50013), ``HIDDEN_CHANNEL_ID`` (no VIEW_CHANNEL →
50001), ``NO_EMBEDS_CHANNEL_ID`` (no EMBED_LINKS → 50013 on embeds), ``VOICE_CHANNEL_ID``,
``CATEGORY_CHANNEL_ID``. Build other worlds from ``Guild``/``Channel``/``Role``/``Member``/``Overwrite``;
permissions are computed with Discord's overwrite algorithm (:mod:`.permissions`).

Injecting interactions (payloads built from the *synced* command tree, :mod:`.payloads`)
    ``await fake.slash("paper digest subscribe", channel=ids.GENERAL_CHANNEL_ID, user_id=ids.ADMIN_USER_ID)``
    ``await fake.autocomplete("paper abstract", focused="title", title="atten")`` → ``await h.choices()``
    ``await fake.click(message, "custom-id")`` / ``fake.click(message, label="Next", user_id=ids.OTHER_USER_ID)``
    ``await fake.choose(message, ["2401.00001"])`` (string select), ``await fake.submit_modal(...)``
    Context keywords: ``user_id``, ``guild_id``, ``channel_id``, ``locale``, ``guild_locale``. Builders raise on
    what a Discord client can't send (unknown option, missing required option, disabled button, …). They do
    *not* hide commands whose ``default_member_permissions`` the user lacks: server admins can override command
    permissions on Discord, so the bot's own runtime check is what a test of a non-admin exercises.
    ``fake.build.chat_input(...)`` etc. return the payload dict only; ``await fake.interact(payload)`` sends any.

Awaiting answers (:class:`InteractionHandle`; every wait is event-driven with a ``timeout``, raising
:class:`FakeTimeout`, an ``AssertionError`` that lists the last requests)
    ``response()`` → :class:`InteractionResponse` (``type``, ``data``, ``flags``, ``ephemeral``,
    ``allowed_mentions``, ``latency``); ``original()``; ``followup(i)``; ``choices()``; ``updated_message()``;
    ``reply()`` (whatever the user sees); ``handle.errors`` (rejected requests for this interaction).

Messages (:class:`StoredMessage`): ``content``, ``embeds``, ``components``, ``buttons``, ``selects``,
``component(custom_id)``, ``find_button(label)``, ``flags``, ``ephemeral``, ``loading``, ``allowed_mentions``
(as sent), ``mention_everyone``/``mentions``/``mention_roles`` (what Discord would ping given them),
``author``, ``interaction_id``, ``bodies`` (every create/edit body), ``text`` (content + embed text),
``to_dict()``. Channels: ``fake.channel_messages(id)``, ``await fake.wait_for_message(id, pred)``,
``fake.add_user_message(...)`` to seed history; ``await fake.create_channel(Channel(...))`` /
``await fake.delete_channel(id)`` change the world and send CHANNEL_CREATE/CHANNEL_DELETE.

Recording: ``fake.requests`` (:class:`RecordedRequest`: method, path below /api/v10, route template, query,
json, status, code, ``since_dispatch``), ``fake.requests_to("POST /channels/*/messages")``, ``fake.rejected``
(refused by the fake, not scripted), ``fake.unhandled``, ``fake.internal_errors``, ``fake.commands`` /
``fake.command_syncs``, ``fake.interactions``,
``fake.gateway.identifies`` / ``resumes`` / ``connections``. ``fake.reset()`` forgets traffic (for shared bots).

Scripting failures: ``fake.rate_limit_next("POST /channels/*/messages", retry_after=0.05)`` (429 with
Retry-After, Via, X-RateLimit-*; discord.py sleeps and retries); ``fake.fail_next(pattern, status=503)``
(discord.py retries 500/502/504/524 with 1 s+ sleeps, raises at once on 503); ``fake.clock`` injectable
(:class:`ManualClock`) to test the 3 s deadline (10062) without waiting. Gateway: ``await
fake.gateway.dispatch(event, data)``, ``disconnect(code=4000)`` (client resumes), ``request_reconnect()``,
``invalidate_session()`` (client re-identifies after discord.py's own 5 s wait — override the documented
``Client.before_identify_hook`` in a test client to skip it). ``await fake.wait_for(predicate)`` re-checks on
every *fake* state change; wait for client-only state with the client's own events.

Limits and errors enforced (details in :mod:`.limits`, :mod:`.rest`): 50035 over-limit bodies (content 2000,
10 embeds, title 256, description 4096, 25 fields 256/1024, footer 2048, author 256, 6000 total, 5 rows × 5
buttons, select 25 options 100/100, autocomplete 25 choices 100/100, command-tree rules), 50006 empty
message, 40060 second initial response, 10062 late (> ``interaction_timeout``) or unknown interaction,
10003 unknown channel, 50001 missing access, 50013 missing permissions, 10008 unknown message, 10015 followup
before acknowledgement, 401 wrong bot token (``LoginFailure`` at login; gateway close 4004).

Not modelled: DMs and user-installed-app contexts, threads' own permissions, attachments beyond recording
their name/size, components-v2 layout limits (only the 40 top-level cap), gateway events for the bot's own
messages (no MESSAGE_CREATE echo), zstd compression (text frames are sent instead — discord.py accepts them).
"""

from . import world as ids
from .clock import ManualClock
from .errors import DiscordError, FormErrors
from .harness import pointed_at, pointed_at_urls, running_client
from .interactions import InteractionHandle
from .mentions import Mentions
from .messages import MessageEdit, StoredMessage
from .permissions import ALL_PERMISSIONS, DEFAULT_EVERYONE, P
from .records import InteractionRecord, InteractionResponse, RecordedRequest
from .server import FakeDiscord, FakeTimeout, SessionStartLimit
from .world import (
    Channel,
    ChannelType,
    Guild,
    Member,
    Overwrite,
    Role,
    User,
    default_guild,
    guild_id_on_shard,
    shard_of,
    small_guild,
)

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_EVERYONE",
    "Channel",
    "ChannelType",
    "DiscordError",
    "FakeDiscord",
    "FakeTimeout",
    "FormErrors",
    "Guild",
    "InteractionHandle",
    "InteractionRecord",
    "InteractionResponse",
    "ManualClock",
    "Member",
    "Mentions",
    "MessageEdit",
    "Overwrite",
    "P",
    "RecordedRequest",
    "Role",
    "SessionStartLimit",
    "StoredMessage",
    "User",
    "default_guild",
    "guild_id_on_shard",
    "ids",
    "pointed_at",
    "pointed_at_urls",
    "running_client",
    "shard_of",
    "small_guild",
]
