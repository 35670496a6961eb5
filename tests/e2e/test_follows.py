"""`paperbot run` serves the follow commands: the runtime's bot owns one FollowService, answers members
ephemerally, keyed by who asks (the daily DMs on a moved clock are in tests/follows/test_discord_follows.py)."""

from __future__ import annotations

from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID, OTHER_USER_ID
from tests.e2e.conftest import StartBot


async def ephemeral_text(fake: FakeDiscord, name: str, user_id: int, **options: str) -> str:
    handle = await fake.slash(name, user_id=user_id, **options)
    response = await handle.response()
    assert response.latency < 3.0 and response.ephemeral
    message = await handle.original()
    assert message.pings is not None and message.pings.nobody
    return message.text


async def test_members_follow_and_list_their_own_follows(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(env={"PAPERBOT_FOLLOWS__TIME": "07:30"})
    text = await ephemeral_text(fake, "paper follow", MEMBER_USER_ID, keywords="diffusion", author="Jane Smith")
    assert "You follow author “Jane Smith” · keyword “diffusion”" in text
    listing = await ephemeral_text(fake, "paper following", MEMBER_USER_ID)
    assert "Your follows (1 of 25)" in listing and "Next DM:" in listing
    assert "You follow nothing yet" in await ephemeral_text(fake, "paper following", OTHER_USER_ID)
    assert fake.channel_messages(1_400_000_000_000_000_001) == []  # nothing public
