"""Every `/paper digest` command is refused to anyone without Manage Server, even when Discord's hiding is bypassed.

Discord hides the group from members without Manage Server (`default_member_permissions`), but a server can
override that per role or channel, and a client can send any interaction. So the payloads are injected
anyway, and the bot's own check must hold. tests/digest/test_discord_digest.py::
test_non_admins_are_refused_even_if_the_client_lets_them_invoke covers plain members; this adds the
dangerous near-misses — a staff role with every permission except Manage Server and Administrator — and the
positive side: Manage Server, Administrator and the server owner (no roles at all) are let through.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import Catalogue
from fake_discord import ALL_PERMISSIONS, FakeDiscord, Member, P, Role, User, default_guild, ids
from tests.digest.conftest import Clock
from tests.robustness._discord import bot_messages, filled_catalogue, serving, settings_for

STAFF_ROLE_ID = 1_500_000_000_000_009_001
STAFF_USER_ID = 1_300_000_000_000_009_002
STAFF_PERMISSIONS = ALL_PERMISSIONS & ~int(P.MANAGE_GUILD) & ~int(P.ADMINISTRATOR)
ADMIN_COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("paper digest subscribe", {"channel": ids.GENERAL_CHANNEL_ID, "time": "09:00", "timezone": "UTC"}),
    ("paper digest unsubscribe", {"channel": ids.GENERAL_CHANNEL_ID}),
    ("paper digest list", {}),
    ("paper digest preview", {}),
    ("paper digest status", {}),
    ("paper digest ping", {"role": ids.MODERATOR_ROLE_ID, "keywords": "robot", "channel": ids.GENERAL_CHANNEL_ID}),
    ("paper digest unping", {"role": ids.MODERATOR_ROLE_ID, "channel": ids.GENERAL_CHANNEL_ID}),
]
REFUSED_USERS = {"staff-without-manage-server": STAFF_USER_ID, "member": ids.MEMBER_USER_ID}
ALLOWED_USERS = {"manage-server": ids.MODERATOR_USER_ID, "administrator": ids.ADMIN_USER_ID, "owner": ids.OWNER_USER_ID}


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    guild = default_guild()
    guild.roles.append(Role(id=STAFF_ROLE_ID, name="Staff", permissions=STAFF_PERMISSIONS, position=2))
    guild.members.append(Member(User(STAFF_USER_ID, "staff", "Sta Ff"), roles=[STAFF_ROLE_ID]))
    async with FakeDiscord(guilds=[guild]) as server:
        yield server
        server.assert_clean()


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await filled_catalogue(tmp_path / "papers.db")
    try:
        yield cat
    finally:
        await cat.close()


async def _answer(fake: FakeDiscord, command: str, user_id: int, options: dict[str, Any]) -> tuple[str, bool]:
    """What the user sees (text) and whether only they see it."""
    handle = await fake.slash(command, user_id=user_id, **options)
    response = await handle.response()
    if response.type == 4:
        data = response.data or {}
        text = (data.get("content") or "") + " ".join(e.get("description", "") for e in data.get("embeds", []))
        return text, response.ephemeral
    message = await handle.original()
    return message.text, bool(message.ephemeral)


async def test_discord_cannot_hide_the_nested_digest_group_so_the_bot_itself_must_refuse(
    fake: FakeDiscord, catalogue: Catalogue
) -> None:
    clock = Clock(dt.datetime(2024, 3, 16, 8, tzinfo=dt.UTC))
    async with serving(fake, catalogue, clock, settings_for(fake, catalogue.path)):
        (paper,) = [c for c in fake.commands[ids.GUILD_ID] if c["name"] == "paper"]
        # default_member_permissions applies to top-level commands only, and /paper search is for everyone:
        # every member's client shows /paper digest, which is why the refusals below are the real protection.
        assert paper.get("default_member_permissions") is None
        assert [o for o in paper["options"] if o["name"] == "digest" and o["type"] == 2]


@pytest.mark.parametrize("who", list(REFUSED_USERS))
async def test_admin_commands_are_refused_without_manage_server_even_if_injected(
    fake: FakeDiscord, catalogue: Catalogue, who: str
) -> None:
    user_id = REFUSED_USERS[who]
    clock = Clock(dt.datetime(2024, 3, 16, 8, tzinfo=dt.UTC))
    async with serving(fake, catalogue, clock, settings_for(fake, catalogue.path)) as (_, service):
        for command, options in ADMIN_COMMANDS:
            text, ephemeral = await _answer(fake, command, user_id, options)
            assert "Manage Server" in text and ephemeral, (who, command, text)
        assert await service.subscriptions() == []
        assert bot_messages(fake, ids.GENERAL_CHANNEL_ID) == []
        assert "digest:" not in " ".join(service.scheduler.job_ids()), "no digest job was scheduled"


@pytest.mark.parametrize("who", list(ALLOWED_USERS))
async def test_admin_commands_work_for_manage_server_administrator_and_owner(
    fake: FakeDiscord, catalogue: Catalogue, who: str
) -> None:
    user_id = ALLOWED_USERS[who]
    clock = Clock(dt.datetime(2024, 3, 16, 8, tzinfo=dt.UTC))
    async with serving(fake, catalogue, clock, settings_for(fake, catalogue.path)) as (_, service):
        text, ephemeral = await _answer(fake, *ADMIN_COMMANDS[0][:1], user_id, ADMIN_COMMANDS[0][1])
        assert "Manage Server" not in text and ephemeral, text
        assert [s.channel_id for s in await service.subscriptions()] == [ids.GENERAL_CHANNEL_ID]
        text, _ = await _answer(fake, "paper digest list", user_id, {})
        assert "Manage Server" not in text and str(ids.GENERAL_CHANNEL_ID) in text, text
