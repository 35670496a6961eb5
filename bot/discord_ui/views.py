"""Interactive components: the results paginator (search and similar papers) and the "Similar papers" button.

A page change asks for the next offset again (`Pages.fetch`) instead of slicing a cached result list: results
stay correct after an ingest, memory does not grow with open searches, and a view survives holding only what
produced its first page — the query, its sort and the ranking the first page got (so later pages are ranked
the same way), or the paper whose neighbours are shown. Only the user who asked may press its components
(others get an ephemeral explanation), and on timeout the components are disabled on the message so nobody
presses a dead button.

The "Similar papers" button under an abstract is a `DynamicItem`: its custom_id carries the paper id, so any
process that serves the guild answers a press, after a restart too, and no view object is kept per abstract.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import discord
from discord.ext import commands

from bot.discord_ui._replies import send_followups
from bot.discord_ui.adapter import NO_MENTIONS, embed_from_spec, select_options
from bot.discord_ui.tree import report_interaction_error
from bot.errors import PaperNotFound
from bot.models import Paper, SearchMode, SearchResults, SortOrder
from bot.render.papers import (
    SEARCH_PAGE_SIZE,
    SIMILAR_BUTTON_LABEL,
    SIMILAR_CUSTOM_ID_PREFIX,
    abstract_messages,
    search_options,
    search_page,
    similar_custom_id,
    similar_page,
)
from bot.render.specs import EmbedSpec, MessageSpec

if TYPE_CHECKING:
    from bot.search import SearchService

__all__ = [
    "NOT_YOURS",
    "SIMILAR_NOT_YOURS",
    "Pages",
    "ResultsPaginator",
    "SearchPages",
    "SimilarHandler",
    "SimilarPages",
    "SimilarPapersButton",
    "abstract_view",
    "send_abstract",
]

log = logging.getLogger(__name__)

NOT_YOURS = "These buttons belong to whoever ran this search. Run `/paper search` to get your own results."
SIMILAR_NOT_YOURS = "These buttons belong to whoever asked for these papers. Run `/paper similar` to get your own."
DEFAULT_TIMEOUT = 300.0  # five minutes: long enough to read a page, far below the 15-minute token life


class Pages(Protocol):
    """Where a paginator's pages come from, and how one is shown."""

    @property
    def not_yours(self) -> str:
        """What a member who did not ask is told when pressing the components."""
        ...

    async def fetch(self, offset: int, limit: int) -> SearchResults:
        """The page starting at `offset`."""
        ...

    def spec(self, results: SearchResults, page_size: int) -> EmbedSpec:
        """The embed showing `results`."""
        ...


@dataclass(frozen=True, slots=True)
class SearchPages:
    """Pages of a search: the same query, sort and ranking mode as its first page.

    A first page ranked by words because the model was unavailable keeps that ranking (and the notice saying
    why) on every later page, even if the model is back meanwhile: pages ranked two ways would repeat some
    papers and skip others.
    """

    search: SearchService
    query: str
    sort: SortOrder
    mode: SearchMode
    fallback_notice: str | None = None
    not_yours: str = NOT_YOURS

    @classmethod
    def continuing(cls, search: SearchService, first: SearchResults) -> SearchPages:
        """The pages after `first`, ranked as it was."""
        fell_back = first.sort == "relevance" and first.ranked_by != search.mode
        return cls(search, first.query, first.sort, first.ranked_by, first.notice if fell_back else None)

    async def fetch(self, offset: int, limit: int) -> SearchResults:
        results = await self.search.search(self.query, limit=limit, offset=offset, sort=self.sort, mode=self.mode)
        if results.notice is None and self.fallback_notice is not None:
            results = replace(results, notice=self.fallback_notice)
        return results

    def spec(self, results: SearchResults, page_size: int) -> EmbedSpec:
        return search_page(results, page_size=page_size)


@dataclass(frozen=True, slots=True)
class SimilarPages:
    """Pages of the papers most like `paper`."""

    search: SearchService
    paper: Paper
    not_yours: str = SIMILAR_NOT_YOURS

    async def fetch(self, offset: int, limit: int) -> SearchResults:
        return await self.search.similar(self.paper, limit=limit, offset=offset)

    def spec(self, results: SearchResults, page_size: int) -> EmbedSpec:
        return similar_page(self.paper, results, page_size=page_size)


class ResultsPaginator(discord.ui.View):
    """Previous/Next buttons and an "open abstract" select for one list of results, usable by its author only.

    `pages` says where later pages come from (default: the search that produced `results`).
    """

    def __init__(
        self,
        search: SearchService,
        results: SearchResults,
        *,
        owner_id: int,
        pages: Pages | None = None,
        page_size: int = SEARCH_PAGE_SIZE,
        timeout: float | None = None,
    ) -> None:
        # Read at construction (not bound as a default) so tests can shorten it for the whole bot.
        super().__init__(timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
        self.search = search
        self.results = results
        self.pages: Pages = pages if pages is not None else SearchPages.continuing(search, results)
        self.owner_id = owner_id
        self.page_size = page_size
        self._turning = asyncio.Lock()
        # Set by the sender once the message exists, so on_timeout can edit it.
        self.message: discord.Message | discord.WebhookMessage | discord.InteractionMessage | None = None
        self._refresh_components()

    def embed(self) -> discord.Embed:
        """The embed for the page currently shown."""
        return embed_from_spec(self.pages.spec(self.results, self.page_size))

    def _refresh_components(self) -> None:
        """Enable the buttons that lead somewhere and list the current page in the select."""
        self.previous_page.disabled = self.results.offset <= 0
        self.next_page.disabled = not self.results.has_more
        options = search_options(self.results, page_size=self.page_size)
        picker = cast("discord.ui.Select[ResultsPaginator]", self.open_abstract)
        picker.options = select_options(options)
        picker.disabled = not options

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Let only the author of the request use the components; tell anyone else why nothing happened."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(self.pages.not_yours, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return False

    async def _turn_page(self, interaction: discord.Interaction[Any], pages: int) -> None:
        # Acknowledge first (deferred update): the search is local but the 3 s window is not negotiable.
        await interaction.response.defer()
        # Presses are serialised and the offset is read inside the lock, so two quick Next presses move two
        # pages instead of both computing the same target from the page they started on.
        async with self._turning:
            offset = max(self.results.offset + pages * self.page_size, 0)
            results = await self.pages.fetch(offset, self.page_size)
            if results.papers:
                self.results = results
            else:
                # The catalogue changed under us (fewer hits than before): stay, but stop offering Next.
                self.results = replace(self.results, has_more=False)
            self._refresh_components()
            await interaction.edit_original_response(embed=self.embed(), view=self, allowed_mentions=NO_MENTIONS)

    @discord.ui.button(label="Previous", emoji="◀️", style=discord.ButtonStyle.secondary)
    async def previous_page(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        """Show the previous page of results."""
        await self._turn_page(interaction, -1)

    @discord.ui.button(label="Next", emoji="▶️", style=discord.ButtonStyle.secondary)
    async def next_page(self, interaction: discord.Interaction[Any], button: discord.ui.Button[Any]) -> None:
        """Show the next page of results."""
        await self._turn_page(interaction, +1)

    @discord.ui.select(placeholder="Open an abstract…", min_values=1, max_values=1)
    async def open_abstract(self, interaction: discord.Interaction[Any], select: discord.ui.Select[Any]) -> None:
        """Send the chosen result's abstract to the user only (ephemeral), with its "Similar papers" button."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        paper_id = select.values[0]
        paper = await self.search.catalogue.get(paper_id)
        if paper is None:
            raise PaperNotFound(paper_id)
        await send_abstract(interaction, paper, ephemeral=True)

    async def on_timeout(self) -> None:
        """Disable every component on the message so the dead view cannot be pressed."""
        await self.expire()

    async def expire(self) -> None:
        """Stop listening and show the components disabled (on timeout, and when the bot shuts down).

        Views live in this process only: after a restart nobody would answer a press, and Discord would show
        "This interaction failed". Disabling them first tells the user the results are over instead.
        """
        self.stop()
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        if self.message is None:
            return
        try:
            await self.message.edit(view=self)
        except discord.HTTPException as exc:  # message deleted or token expired: nothing left to disable
            log.debug("Could not disable an expired paginator: %s", exc)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: Exception, item: discord.ui.Item[Any]
    ) -> None:
        """Route component failures through the same single error path as commands."""
        await report_interaction_error(interaction, error)


# ---- the "Similar papers" button ----------------------------------------------------------------------------


@runtime_checkable
class SimilarHandler(Protocol):
    """What answers a press of a "Similar papers" button: the cog of the bot that got the press (`/paper`)."""

    async def show_similar_of(self, interaction: discord.Interaction[Any], paper_id: str) -> None:
        """Show the presser the papers most like `paper_id`."""
        ...


def _similar_handler(client: discord.Client) -> SimilarHandler:
    """The loaded cog of `client` that shows similar papers (discord.py builds the button from its custom_id
    alone, so it finds its handler through the client that received the press)."""
    cogs = client.cogs.values() if isinstance(client, commands.Bot | commands.AutoShardedBot) else ()
    for cog in cogs:
        if isinstance(cog, SimilarHandler):
            return cog
    raise RuntimeError("no loaded cog answers the Similar papers button")


class SimilarPapersButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=re.escape(SIMILAR_CUSTOM_ID_PREFIX) + r"(?P<paper_id>.+)"
):
    """The "Similar papers" button of an abstract; a press shows the papers most like it to the presser only."""

    def __init__(self, paper_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=SIMILAR_BUTTON_LABEL,
                custom_id=similar_custom_id(paper_id),
                emoji="🧭",
                style=discord.ButtonStyle.secondary,
            )
        )
        self.paper_id = paper_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> SimilarPapersButton:
        return cls(match["paper_id"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Answer through the handler; any failure goes down the one error path, as for commands."""
        try:
            await _similar_handler(interaction.client).show_similar_of(interaction, self.paper_id)
        except Exception as exc:
            await report_interaction_error(interaction, exc)


def abstract_view(message: MessageSpec) -> discord.ui.View | None:
    """The components of one abstract message: its "Similar papers" button as the dynamic item (None without).

    Only dynamic items and links: discord.py keeps no view object per sent abstract.
    """
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for spec in message.buttons:
        if spec.custom_id is not None and spec.custom_id.startswith(SIMILAR_CUSTOM_ID_PREFIX):
            view.add_item(SimilarPapersButton(spec.custom_id.removeprefix(SIMILAR_CUSTOM_ID_PREFIX)))
        elif spec.url is not None:
            view.add_item(discord.ui.Button(label=spec.label, url=spec.url, emoji=spec.emoji))
    return view


async def send_abstract(interaction: discord.Interaction[Any], paper: Paper, *, ephemeral: bool = False) -> None:
    """Send a paper's abstract view as followups, with its "Similar papers" button under the last message."""
    await send_followups(
        interaction, abstract_messages(paper, similar_button=True), ephemeral=ephemeral, view=abstract_view
    )
