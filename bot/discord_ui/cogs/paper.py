"""The `/paper` slash command group: search, similar, abstract (with title autocomplete) and trending.

Handlers only translate, in the same four steps: acknowledge the interaction (defer — Discord allows 3 s
and the catalogue or an upstream fetch may take longer), call the use case (`Catalogue`, `lookup_paper`),
build the reply with the pure builders in `bot.render`, send it through the adapter (pinging nobody).
Failures are raised, not handled here: `PaperTree.on_error` turns them into the user's message. The
`/paper digest` subgroup (`cogs/digest.py`) is nested under `/paper` in `PaperCog.__init__`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Literal, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_ui._replies import send_followups
from bot.discord_ui.adapter import NO_MENTIONS
from bot.discord_ui.cogs.digest import DigestGroup
from bot.discord_ui.views import ResultsPaginator, SimilarPages, SimilarPapersButton, send_abstract
from bot.errors import PaperNotFound, UserInputError
from bot.lookup import MAX_QUERY_CHARS, lookup_paper
from bot.models import Paper
from bot.render.limits import AUTOCOMPLETE_CHOICES_MAX, CHOICE_TEXT_MAX
from bot.render.papers import (
    SEARCH_COMMAND_DESCRIPTION,
    SEARCH_PAGE_SIZE,
    SEARCH_QUERY_DESCRIPTION,
    choice_name,
    no_results_text,
    no_similar_text,
    trending_embed,
)
from bot.render.specs import MessageSpec
from bot.render.text import one_line

if TYPE_CHECKING:
    from bot.discord_ui.client import PaperBot

__all__ = ["MAX_QUERY_CHARS", "PaperCog", "setup"]

log = logging.getLogger(__name__)

# MAX_QUERY_CHARS comes from the lookup use case (the CLI applies it too); it is also sent to Discord as the
# options' max_length, and checked again here because a payload can claim anything.
AUTOCOMPLETE_TIMEOUT_S = 2.0  # Discord drops autocomplete answers after 3 s; an empty list beats none
SHUTDOWN_EXPIRE_TIMEOUT_S = 5.0  # a slow Discord must not hold up SIGTERM for long


def _member_budget(interaction: discord.Interaction[Any]) -> app_commands.Cooldown | None:
    """Per-member budget for the commands that can do real work (an upstream fetch, a full-text query):
    [discord] member_commands per member_window_s seconds, 0 = no limit. Generous for a person, a brake for a
    script; exceeding it gets the tree's "slow down" line."""
    limits = cast("PaperBot", interaction.client).settings.discord
    return app_commands.Cooldown(limits.member_commands, limits.member_window_s) if limits.member_commands else None


def _member_key(interaction: discord.Interaction[Any]) -> Hashable:
    # Per bot as well as per member: the buckets live in the decorator, shared by every bot in the process.
    return (interaction.client, interaction.user.id)


def _clean_query(text: str, what: str) -> str:
    """Collapse whitespace and enforce the length Discord was told about; raise UserInputError otherwise."""
    query = one_line(text)
    if not query:
        raise UserInputError(f"Please type a {what}.")
    if len(query) > MAX_QUERY_CHARS:
        raise UserInputError(f"That {what} is {len(query)} characters long; please keep it under {MAX_QUERY_CHARS}.")
    return query


class PaperCog(commands.GroupCog, group_name="paper", group_description="Hugging Face Daily Papers"):
    """`/paper search|similar|abstract|trending`, the "Similar papers" button, and the `/paper digest` subgroup."""

    def __init__(self, bot: PaperBot) -> None:
        super().__init__()
        self.bot = bot
        # Paginators still listening, so shutting down can disable their buttons (see ResultsPaginator.expire).
        self._paginators: weakref.WeakSet[ResultsPaginator] = weakref.WeakSet()
        group = self.app_command
        assert group is not None  # a GroupCog always has its group
        group.add_command(DigestGroup(bot))

    async def cog_load(self) -> None:
        """Answer "Similar papers" presses on any abstract, also one sent before this process started."""
        self.bot.add_dynamic_items(SimilarPapersButton)

    async def cog_unload(self) -> None:
        """Disable the buttons of live search results before the bot goes away (bounded, best effort)."""
        self.bot.remove_dynamic_items(SimilarPapersButton)
        live = [view for view in self._paginators if not view.is_finished()]
        if not live:
            return
        tasks = [asyncio.create_task(view.expire()) for view in live]
        _done, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_EXPIRE_TIMEOUT_S)
        for task in pending:
            task.cancel()
        log.info("Disabled %d open search result view(s) on shutdown", len(live) - len(pending))

    @app_commands.command(name="search", description=SEARCH_COMMAND_DESCRIPTION)
    @app_commands.checks.dynamic_cooldown(_member_budget, key=_member_key)
    @app_commands.describe(query=SEARCH_QUERY_DESCRIPTION, sort="How to order the results (default: relevance)")
    async def search(
        self,
        interaction: discord.Interaction[Any],
        query: app_commands.Range[str, 1, MAX_QUERY_CHARS],
        sort: Literal["relevance", "upvotes", "newest"] = "relevance",
    ) -> None:
        """Show the first page of results with Previous/Next buttons and an abstract picker.

        A corrected typo ("did you mean") and anything degrading the results (no semantic model, an index being
        rebuilt) are said above them; no results get the search syntax as a hint.
        """
        text = _clean_query(query, "search query")
        await interaction.response.defer(thinking=True)
        results = await self.bot.search.search(text, limit=SEARCH_PAGE_SIZE, offset=0, sort=sort)
        if not results.papers:
            await interaction.followup.send(no_results_text(text, results), allowed_mentions=NO_MENTIONS)
            return
        await self._send_results(interaction, ResultsPaginator(self.bot.search, results, owner_id=interaction.user.id))

    @app_commands.command(name="similar", description="Papers most like one paper, by what they are about")
    @app_commands.checks.dynamic_cooldown(_member_budget, key=_member_key)
    @app_commands.describe(paper="A title (pick from the suggestions), an arXiv id, or an arXiv / Hugging Face URL")
    async def similar(
        self, interaction: discord.Interaction[Any], paper: app_commands.Range[str, 1, MAX_QUERY_CHARS]
    ) -> None:
        """Look the paper up (fetching it when the catalogue lacks it) and page through its nearest papers."""
        text = _clean_query(paper, "title or id")
        await interaction.response.defer(thinking=True)
        found = await lookup_paper(text, self.bot.search, self.bot.sources)
        await self.show_similar(interaction, found)

    async def show_similar_of(self, interaction: discord.Interaction[Any], paper_id: str) -> None:
        """A "Similar papers" press: the papers most like that stored paper, to the presser only."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        paper = await self.bot.catalogue.get(paper_id)
        if paper is None:
            raise PaperNotFound(paper_id)
        await self.show_similar(interaction, paper, ephemeral=True)

    async def show_similar(
        self, interaction: discord.Interaction[Any], paper: Paper, *, ephemeral: bool = False
    ) -> None:
        """The first page of papers like `paper`, paged like search (the interaction is already deferred)."""
        results = await self.bot.search.similar(paper, limit=SEARCH_PAGE_SIZE, offset=0)
        if not results.papers:
            await interaction.followup.send(
                no_similar_text(paper, results), ephemeral=ephemeral, allowed_mentions=NO_MENTIONS
            )
            return
        pages = SimilarPages(self.bot.search, paper)
        view = ResultsPaginator(self.bot.search, results, owner_id=interaction.user.id, pages=pages)
        await self._send_results(interaction, view, ephemeral=ephemeral)

    async def _send_results(
        self, interaction: discord.Interaction[Any], view: ResultsPaginator, *, ephemeral: bool = False
    ) -> None:
        view.message = await interaction.followup.send(
            embed=view.embed(), view=view, ephemeral=ephemeral, allowed_mentions=NO_MENTIONS, wait=True
        )
        self._paginators.add(view)

    @app_commands.command(name="abstract", description="Show a paper's abstract and links")
    @app_commands.checks.dynamic_cooldown(_member_budget, key=_member_key)
    @app_commands.describe(title="A title (pick from the suggestions), an arXiv id, or an arXiv / Hugging Face URL")
    async def abstract(
        self, interaction: discord.Interaction[Any], title: app_commands.Range[str, 1, MAX_QUERY_CHARS]
    ) -> None:
        """Look the paper up (fetching and storing it when the catalogue lacks it) and show its abstract."""
        text = _clean_query(title, "title or id")
        await interaction.response.defer(thinking=True)
        paper = await lookup_paper(text, self.bot.search, self.bot.sources)
        await send_abstract(interaction, paper)

    @abstract.autocomplete("title")
    async def abstract_title_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """Suggest up to 25 stored titles for what has been typed; local DB only, never raises."""
        return await self._title_choices(current)

    @similar.autocomplete("paper")
    async def similar_paper_autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        """The same title suggestions as `/paper abstract`."""
        return await self._title_choices(current)

    async def _title_choices(self, current: str) -> list[app_commands.Choice[str]]:
        """Up to 25 stored titles (value: the paper id) for what has been typed, within 2 s; never raises."""
        lookup = asyncio.ensure_future(self.bot.search.autocomplete(current[:MAX_QUERY_CHARS], limit=25))
        # asyncio.wait, not wait_for: wait_for would wait for the cancelled read to unwind (its cursor close
        # queues behind the connection's other work), which is exactly the delay the timeout must cap.
        done, _ = await asyncio.wait({lookup}, timeout=AUTOCOMPLETE_TIMEOUT_S)
        if not done:
            lookup.cancel()
            lookup.add_done_callback(_consume_outcome)
            log.warning("title autocomplete timed out after %.1fs for %r", AUTOCOMPLETE_TIMEOUT_S, current[:100])
            return []
        try:
            hits = lookup.result()
        except Exception:
            # An autocomplete error only leaves the user without suggestions; log and answer empty.
            log.exception("title autocomplete failed for %r", current[:100])
            return []
        choices: list[app_commands.Choice[str]] = []
        for paper_id, paper_title in hits[:AUTOCOMPLETE_CHOICES_MAX]:
            if not paper_id or len(paper_id) > CHOICE_TEXT_MAX:
                continue
            name = choice_name(paper_title, paper_id)
            # The value is the id: picking a suggestion then resolves exactly, whatever the title says.
            choices.append(app_commands.Choice(name=name, value=paper_id))
        return choices

    @app_commands.command(name="trending", description="The most upvoted papers of the latest day, week or month")
    @app_commands.describe(
        period="Time window ending at the latest stored list (default: week)", limit="How many papers (1–25)"
    )
    async def trending(
        self,
        interaction: discord.Interaction[Any],
        period: Literal["day", "week", "month"] = "week",
        limit: app_commands.Range[int, 1, 25] = 10,
    ) -> None:
        """Rank the window's papers by their latest upvotes."""
        if not 1 <= limit <= 25:
            raise UserInputError("The limit must be between 1 and 25.")
        await interaction.response.defer(thinking=True)
        trending = await self.bot.catalogue.trending(period, limit=limit)
        await send_followups(interaction, [MessageSpec(embeds=(trending_embed(trending),))])


async def setup(bot: PaperBot) -> None:
    """Extension entry point (`bot.load_extension`)."""
    await bot.add_cog(PaperCog(bot))


def _consume_outcome(task: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned task's outcome so asyncio never logs 'exception was never retrieved'."""
    if not task.cancelled():
        task.exception()
