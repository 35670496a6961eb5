"""`/paper` handlers called directly (callback(cog, interaction, …)) with spec'd doubles, for the cases the
end-to-end tests cannot provoke through a real catalogue: a failing or hanging autocomplete source."""

from __future__ import annotations

import asyncio
from typing import Any, cast
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot.discord_ui.client import PaperBot
from bot.discord_ui.cogs import paper as paper_cog
from bot.discord_ui.cogs.paper import PaperCog
from bot.errors import UserInputError
from bot.search import SearchService


def make_cog(search: Any) -> Any:  # Any: mypy cannot see through the autocomplete decorator
    bot = MagicMock(spec=PaperBot)
    bot.search = search
    return PaperCog(bot)


def make_interaction() -> Any:
    interaction = MagicMock(spec=discord.Interaction)
    interaction.response = MagicMock(spec=discord.InteractionResponse)
    interaction.response.defer = AsyncMock()
    interaction.followup = MagicMock(spec=discord.Webhook)
    interaction.followup.send = AsyncMock()
    return interaction


async def test_autocomplete_answers_empty_when_the_catalogue_fails() -> None:
    catalogue = MagicMock(spec=SearchService)
    catalogue.autocomplete = AsyncMock(side_effect=RuntimeError("disk on fire"))
    cog = make_cog(catalogue)
    assert await cog.abstract_title_autocomplete(make_interaction(), "diff") == []


async def test_autocomplete_answers_empty_when_the_catalogue_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paper_cog, "AUTOCOMPLETE_TIMEOUT_S", 0.01)
    never = asyncio.Event()

    async def hang(*args: object, **kwargs: object) -> list[tuple[str, str]]:
        await never.wait()
        return []

    catalogue = MagicMock(spec=SearchService)
    catalogue.autocomplete = hang
    assert await make_cog(catalogue).abstract_title_autocomplete(make_interaction(), "diff") == []


async def test_autocomplete_choices_respect_discord_limits() -> None:
    catalogue = MagicMock(spec=SearchService)
    long_title = "A very long title " * 20
    hits = [("x" * 101, "id too long"), ("2403.1", "  ")] + [(f"2403.{i:05d}", long_title) for i in range(30)]
    catalogue.autocomplete = AsyncMock(return_value=hits)
    choices = await make_cog(catalogue).abstract_title_autocomplete(make_interaction(), "a")
    assert len(choices) == 24  # 25 hits asked for; the one whose id cannot be a choice value is dropped
    assert choices[0].name == "2403.1"  # a blank title falls back to the id
    assert all(1 <= len(c.name) <= 100 and len(c.value) <= 100 for c in choices)
    catalogue.autocomplete.assert_awaited_once_with("a", limit=25)


async def test_blank_search_is_refused_before_deferring() -> None:
    catalogue = MagicMock(spec=SearchService)
    interaction = make_interaction()
    cog = make_cog(catalogue)
    with pytest.raises(UserInputError):
        await cast(Any, PaperCog.search).callback(cog, interaction, "   \n ", "relevance")
    interaction.response.defer.assert_not_awaited()
