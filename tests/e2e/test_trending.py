"""`/paper trending` end to end for every period, on an empty and on a full catalogue."""

from __future__ import annotations

import re

import pytest

from bot.catalogue import open_catalogue
from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID
from tests.e2e.conftest import StartBot
from tests.e2e.test_search import assert_no_mentions, first_response_in_time

WHEN = {"day": "today", "week": "this week", "month": "this month"}
# The fixtures' latest list is 2025-09-10; CONTRACT.md anchors every window there.
SPAN = {"day": "2025-09-10", "week": "2025-09-04 – 2025-09-10", "month": "2025-08-12 – 2025-09-10"}


def ranked_upvotes(description: str) -> list[int]:
    return [int(n) for n in re.findall(r"▲ (\d+)", description)]


@pytest.mark.parametrize("period", ["day", "week", "month"])
async def test_trending_on_a_full_catalogue(fake: FakeDiscord, start_bot: StartBot, period: str) -> None:
    await start_bot()
    handle = await fake.slash("paper trending", period=period, limit=7, user_id=MEMBER_USER_ID)
    await first_response_in_time(handle)
    message = await handle.original()
    (embed,) = message.embeds
    assert embed["title"] == f"Trending papers {WHEN[period]}"
    assert embed["footer"]["text"].startswith(f"Daily Papers lists {SPAN[period]}")
    lines = embed["description"].splitlines()
    assert len(lines) == 7 and lines[0].startswith("**1.**") and lines[6].startswith("**7.**")
    votes = ranked_upvotes(embed["description"])
    assert votes == sorted(votes, reverse=True) and votes[0] == 59
    assert_no_mentions(message.allowed_mentions)
    assert not handle.errors


@pytest.mark.parametrize("period", ["day", "week", "month"])
async def test_trending_on_an_empty_catalogue_explains_why(fake: FakeDiscord, start_bot: StartBot, period: str) -> None:
    await start_bot(catalogue="empty")
    handle = await fake.slash("paper trending", period=period, user_id=MEMBER_USER_ID)
    await first_response_in_time(handle)
    (embed,) = (await handle.original()).embeds
    assert embed["title"] == f"Trending papers {WHEN[period]}"
    assert "No papers are stored for this period yet" in embed["description"]


async def test_trending_defaults_to_a_week_of_ten_and_allows_25(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    default = await (await fake.slash("paper trending", user_id=MEMBER_USER_ID)).original()
    assert default.embeds[0]["title"] == "Trending papers this week"
    assert len(default.embeds[0]["description"].splitlines()) == 10
    most = await (await fake.slash("paper trending", period="month", limit=25, user_id=MEMBER_USER_ID)).original()
    async with await open_catalogue(bot.db_path) as catalogue:  # a second connection; WAL allows it
        expected = await catalogue.trending("month", limit=25)
    assert 10 < len(expected.papers) <= 25
    lines = most.embeds[0]["description"].splitlines()
    assert [re.search(r"papers/([^)]+)\)", line).group(1) for line in lines] == [p.id for p in expected.papers]  # type: ignore[union-attr]
    assert len(most.embeds[0]["description"]) <= 4096
    with pytest.raises(ValueError, match="max_value 25"):
        fake.build.chat_input("paper trending", limit=26, user_id=MEMBER_USER_ID)
