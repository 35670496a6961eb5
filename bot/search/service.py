"""`SearchService`: search, autocomplete and best-title lookups, answered from this process's views.

The views (today the keyword index) map text to paper ids; the papers themselves are always read back from
the catalogue, in the view's order, so a stale view can at worst miss a paper for a second — never serve one
the catalogue lacks. While no trusted index exists yet (a first start on a big catalogue, an upgrade that
changed the index format) search still answers, from the catalogue's own title scan, and says that the
index is being rebuilt with its progress and an estimate of the time left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from bot.catalogue import Catalogue
from bot.models import Paper, SearchResults, SortOrder
from bot.search.follower import Follower, Role
from bot.search.keyword_view import KeywordView
from bot.search.lease import Lease
from bot.search.terms import parse_query

__all__ = ["SearchService", "open_search"]

log = logging.getLogger(__name__)

MAX_LIMIT = 100


def _eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f", about {max(1, round(seconds))} s left"
    return f", about {round(seconds / 60)} min left"


class SearchService:
    """Search over this process's views of one catalogue (see the module docstring)."""

    def __init__(self, catalogue: Catalogue, keyword: KeywordView, follower: Follower) -> None:
        self.catalogue = catalogue
        self.keyword = keyword
        self.follower = follower

    # ---- search -------------------------------------------------------------------------------------------

    async def search(
        self, query: str, *, limit: int = 10, offset: int = 0, sort: SortOrder = "relevance"
    ) -> SearchResults:
        """All-words search, falling back to any word; ranked by relevance (title first), upvotes or date."""
        limit = max(1, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        index = await self.keyword.readable()
        if index is None:
            return await self._title_scan(query, limit=limit, offset=offset, sort=sort)
        hits = await asyncio.to_thread(index.search, query, limit=limit, offset=offset, sort=sort)
        papers = await self.catalogue.get_many(hits.ids)
        return SearchResults(
            query=query,
            papers=tuple(papers),
            matched=hits.matched if papers else "none",
            sort=sort,
            offset=offset,
            has_more=hits.has_more,
        )

    def unavailable_notice(self) -> str:
        """Why search is answering from titles only, with the rebuild's progress when one runs."""
        progress = self.keyword.rebuild_progress()
        if progress is None:
            return "The search index is not ready yet; showing papers whose titles contain your words."
        return (
            f"The search index is being rebuilt ({progress.percent()}% done{_eta_text(progress.eta_seconds())}); "
            "showing papers whose titles contain your words."
        )

    async def _title_scan(self, query: str, *, limit: int, offset: int, sort: SortOrder) -> SearchResults:
        words = [word for term in parse_query(query) for word in term.words]
        found = await self.catalogue.titles_containing(words, limit=offset + limit + 1) if words else []
        page = found[offset : offset + limit]
        return SearchResults(
            query=query,
            papers=tuple(page),
            matched="all" if page else "none",
            sort=sort,
            offset=offset,
            has_more=len(found) > offset + limit,
            notice=self.unavailable_notice(),
        )

    async def find_title(self, text: str) -> Paper | None:
        """The paper titled exactly `text` (ignoring case and spacing), else the best all-words match."""
        exact = await self.catalogue.find_title(text)
        if exact is not None:
            return exact
        # A best match must contain every word: an any-word hit for a title would be a different paper.
        results = await self.search(text, limit=1)
        return results.papers[0] if results.matched == "all" and results.papers else None

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Up to `limit` (id, title) pairs: titles starting with the text, then titles containing every word."""
        limit = max(1, min(limit, 25))
        text = text.replace("\x00", " ")
        found = await self.catalogue.titles_starting_with(text, limit=limit)
        if len(found) >= limit or not text.strip():
            return found
        index = await self.keyword.readable()
        if index is None:
            return found
        seen = {paper_id for paper_id, _ in found}
        ids = await asyncio.to_thread(index.autocomplete, text, limit=limit)
        ids = [paper_id for paper_id in ids if paper_id not in seen][: limit - len(found)]
        if not ids:
            return found
        titles = await self.catalogue.titles_by_id(ids)
        return found + [(paper_id, titles[paper_id]) for paper_id in ids if paper_id in titles]

    async def index_lag(self) -> int:
        """Change-log entries committed but not yet in the index this process reads (all of them while none)."""
        position = await self.catalogue.log_position()
        applied = await asyncio.to_thread(self.keyword.applied_through)
        return position.last_seq - (applied if applied is not None else 0)

    # ---- keeping up ---------------------------------------------------------------------------------------

    async def sync(self) -> None:
        """Bring the views up to the catalogue's latest write now, when this process writes them."""
        await self.follower.sync()

    async def close(self) -> None:
        """Stop following (a CLI writer first applies what is left) and close the views."""
        try:
            await self.follower.close()
        finally:
            await self.keyword.close()


@contextlib.asynccontextmanager
async def open_search(catalogue: Catalogue, folder: Path, *, role: Role) -> AsyncIterator[SearchService]:
    """Open this process's search over `catalogue`, with its views in `folder` (see `bot.search.follower`)."""
    keyword = KeywordView(folder, catalogue.identity)
    follower = Follower(catalogue, Lease(folder, role=f"paperbot {role}"), [keyword], role=role)
    service = SearchService(catalogue, keyword, follower)
    try:
        await follower.start()
        yield service
    finally:
        await service.close()
