"""Interactive components: the search results paginator.

A page change runs the catalogue search again with the next offset instead of slicing a cached result
list: results stay correct after an ingest, memory does not grow with open searches, and a view survives
holding only the query. Only the user who ran the search may press its components (others get an
ephemeral explanation), and on timeout the components are disabled on the message so nobody presses a
dead button.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.discord_ui._replies import send_followups
from bot.discord_ui.adapter import NO_MENTIONS, embed_from_spec, select_options
from bot.discord_ui.tree import report_interaction_error
from bot.errors import PaperNotFound
from bot.models import SearchResults
from bot.render.papers import SEARCH_PAGE_SIZE, abstract_messages, search_options, search_page

if TYPE_CHECKING:
    from bot.search import SearchService

__all__ = ["NOT_YOURS", "ResultsPaginator"]

log = logging.getLogger(__name__)

NOT_YOURS = "These buttons belong to whoever ran this search. Run `/paper search` to get your own results."
DEFAULT_TIMEOUT = 300.0  # five minutes: long enough to read a page, far below the 15-minute token life


class ResultsPaginator(discord.ui.View):
    """Previous/Next buttons and an "open abstract" select for one search, usable by its author only."""

    def __init__(
        self,
        search: SearchService,
        results: SearchResults,
        *,
        owner_id: int,
        page_size: int = SEARCH_PAGE_SIZE,
        timeout: float | None = None,
    ) -> None:
        # Read at construction (not bound as a default) so tests can shorten it for the whole bot.
        super().__init__(timeout=DEFAULT_TIMEOUT if timeout is None else timeout)
        self.search = search
        self.results = results
        self.owner_id = owner_id
        self.page_size = page_size
        self._turning = asyncio.Lock()
        # Set by the sender once the message exists, so on_timeout can edit it.
        self.message: discord.Message | discord.WebhookMessage | discord.InteractionMessage | None = None
        self._refresh_components()

    def embed(self) -> discord.Embed:
        """The embed for the page currently shown."""
        return embed_from_spec(search_page(self.results, page_size=self.page_size))

    def _refresh_components(self) -> None:
        """Enable the buttons that lead somewhere and list the current page in the select."""
        self.previous_page.disabled = self.results.offset <= 0
        self.next_page.disabled = not self.results.has_more
        options = search_options(self.results, page_size=self.page_size)
        picker = cast("discord.ui.Select[ResultsPaginator]", self.open_abstract)
        picker.options = select_options(options)
        picker.disabled = not options

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        """Let only the search's author use the components; tell anyone else why nothing happened."""
        if interaction.user.id == self.owner_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True, allowed_mentions=NO_MENTIONS)
        return False

    async def _turn_page(self, interaction: discord.Interaction[Any], pages: int) -> None:
        # Acknowledge first (deferred update): the search is local but the 3 s window is not negotiable.
        await interaction.response.defer()
        # Presses are serialised and the offset is read inside the lock, so two quick Next presses move two
        # pages instead of both computing the same target from the page they started on.
        async with self._turning:
            offset = max(self.results.offset + pages * self.page_size, 0)
            results = await self.search.search(
                self.results.query, limit=self.page_size, offset=offset, sort=self.results.sort
            )
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
        """Send the chosen result's abstract to the user only (ephemeral)."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        paper_id = select.values[0]
        paper = await self.search.catalogue.get(paper_id)
        if paper is None:
            raise PaperNotFound(paper_id)
        await send_followups(interaction, abstract_messages(paper), ephemeral=True)

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
