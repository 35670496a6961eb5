"""The per-member command budget, `[discord] member_commands` per `member_window_s`, through the real bot.

The real runtime serves the loopback fake Discord; a member runs `/paper search` until the budget is spent.
The bot's settings object is the one the command check reads, so a test changes the budget on it.
"""

from __future__ import annotations

from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID, OTHER_USER_ID
from tests.e2e.conftest import StartBot


async def _search_reply(fake: FakeDiscord, user_id: int) -> str:
    """Run /paper search as `user_id`; return "ok" for results, else the ephemeral line the member got."""
    handle = await fake.slash("paper search", query="diffusion", user_id=user_id)
    response = await handle.response()
    if response.type == 5:  # deferred: the search ran and its results follow
        message = await handle.original()
        assert message.embeds
        return "ok"
    assert response.type == 4 and response.ephemeral
    return str((response.data or {}).get("content", ""))


async def test_default_budget_is_five_searches_per_member(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    assert (bot.settings.discord.member_commands, bot.settings.discord.member_window_s) == (5, 20)
    replies = [await _search_reply(fake, MEMBER_USER_ID) for _ in range(6)]
    assert replies[:5] == ["ok"] * 5
    assert replies[5].startswith("Slow down a little: try again in ")
    # The budget is per member: someone else is still served.
    assert await _search_reply(fake, OTHER_USER_ID) == "ok"


async def test_window_comes_from_the_settings(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.settings.discord.member_commands = 1
    bot.settings.discord.member_window_s = 600
    assert await _search_reply(fake, MEMBER_USER_ID) == "ok"
    blocked = await _search_reply(fake, MEMBER_USER_ID)
    seconds = int(blocked.removeprefix("Slow down a little: try again in ").removesuffix(" s."))
    assert 590 <= seconds <= 600, blocked


async def test_zero_means_no_limit(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    bot.settings.discord.member_commands = 0
    replies = [await _search_reply(fake, MEMBER_USER_ID) for _ in range(8)]
    assert replies == ["ok"] * 8
