"""Smoke test: every extension loads, and the `/paper` command tree is exactly the reviewed snapshot.

The snapshot (`snapshots/command_tree.json`) is what Discord receives at sync time: names, descriptions,
options, choices, limits and permissions. A change to it is a user-visible change and must be deliberate:
regenerate with `PAPERBOT_UPDATE_SNAPSHOTS=1 pytest tests/discord_ui/test_command_tree.py` and review the diff.
The `/paper digest` subgroup and the follow commands are checked by the digest and follows tests; here we only
check that they are attached.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.discord_ui.client import PaperBot
from bot.discord_ui.cogs import EXTENSIONS

SNAPSHOT = Path(__file__).parent / "snapshots" / "command_tree.json"


@pytest.fixture
async def bot() -> AsyncIterator[PaperBot]:
    # The catalogue is never touched: nothing is invoked, the tree is only built.
    # `async with` sets the client up on this loop (an AutoShardedBot can only be closed once set up).
    async with PaperBot(Settings(), catalogue=None, search=None, sources=None) as client:  # type: ignore[arg-type]
        for extension in EXTENSIONS:
            await client.load_extension(extension)
        yield client


# Checked by their own features' tests (tests/digest, tests/follows).
ELSEWHERE = ("digest", "follow", "following", "unfollow")


def _without_digest(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for command in payload:
        command["options"] = [o for o in command.get("options", []) if o["name"] not in ELSEWHERE]
    return payload


async def test_command_tree_matches_snapshot(bot: PaperBot) -> None:
    payload = _without_digest([c.to_dict(bot.tree) for c in bot.tree.get_commands()])
    if os.environ.get("PAPERBOT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert payload == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


async def test_digest_subgroup_is_attached(bot: PaperBot) -> None:
    paper = bot.tree.get_command("paper")
    assert paper is not None
    names = {c.name for c in paper.commands}  # type: ignore[union-attr]
    assert {"search", "similar", "abstract", "trending", "digest", "follow", "following", "unfollow"} <= names
