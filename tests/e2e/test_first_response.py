"""The first response comes before the slow work: each use case is held behind a gate the test controls, and
the fake must have recorded the defer while the gate is still closed (and within Discord's 3 s)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.catalogue.sqlite import SqliteCatalogue
from bot.search import SearchService
from fake_discord.interactions import InteractionHandle
from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID
from tests.e2e.conftest import StartBot
from tests.e2e.test_search import FIRST_RESPONSE_CEILING_S, click, search

# Where each use case's first slow call lives: search in the search service, the rest in the catalogue.
OWNERS: dict[str, type] = {"search": SearchService, "trending": SqliteCatalogue, "find_title": SqliteCatalogue}


class Gate:
    """Wraps a coroutine method so calls block until `open()`; counts calls that reached it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.opened = asyncio.Event()
        self.waiting = 0
        owner = OWNERS[name]
        original: Callable[..., Any] = getattr(owner, name)

        async def gated(this: Any, *args: Any, **kwargs: Any) -> Any:
            self.waiting += 1
            await self.opened.wait()
            return await original(this, *args, **kwargs)

        monkeypatch.setattr(owner, name, gated)

    def open(self) -> None:
        self.opened.set()


async def deferred_before_the_gate_opens(fake: FakeDiscord, handle: InteractionHandle, gate: Gate) -> None:
    response = await handle.response()
    assert response.deferred and response.latency < FIRST_RESPONSE_CEILING_S
    await fake.wait_for(lambda: gate.waiting > 0, what="the handler to reach the use case")
    assert not gate.opened.is_set()
    gate.open()


@pytest.mark.parametrize(
    ("method", "command", "options"),
    [
        ("search", "paper search", {"query": "diffusion"}),
        ("trending", "paper trending", {"period": "month"}),
        ("find_title", "paper abstract", {"title": "Chronos: Learning the Language of Time Series"}),
    ],
)
async def test_commands_defer_before_the_use_case_runs(
    fake: FakeDiscord, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch, method: str, command: str,
    options: dict[str, str],
) -> None:  # fmt: skip
    await start_bot()
    gate = Gate(monkeypatch, method)
    handle = await fake.slash(command, user_id=MEMBER_USER_ID, **options)
    await deferred_before_the_gate_opens(fake, handle, gate)
    message = await handle.original()
    assert message.embeds and not handle.errors


async def test_page_change_is_acknowledged_before_the_search_runs(
    fake: FakeDiscord, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_bot()
    _, message = await search(fake, "diffusion")
    gate = Gate(monkeypatch, "search")
    press = await click(fake, message, label="Next", user_id=MEMBER_USER_ID)
    await deferred_before_the_gate_opens(fake, press, gate)
    updated = await press.updated_message()
    assert updated.embeds[0]["footer"]["text"].startswith("Results 6–10")


async def test_two_quick_next_presses_move_two_pages(
    fake: FakeDiscord, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await start_bot()
    _, message = await search(fake, "diffusion")
    gate = Gate(monkeypatch, "search")
    first = await click(fake, message, label="Next", user_id=MEMBER_USER_ID)
    second = await click(fake, message, label="Next", user_id=MEMBER_USER_ID)  # pressed before page 2 shows
    await first.response()
    await second.response()
    gate.open()

    def footer() -> str:
        return str(fake.message(message.id).embeds[0]["footer"]["text"])

    await fake.wait_for(lambda: footer().startswith("Results 11–15") or None, what="page 3 after two presses")
    assert not first.errors and not second.errors
