"""`SearchService`: search, similar papers, autocomplete and best-title lookups from this process's views.

The views (the keyword index, the paper vectors) map text to paper ids; the papers themselves are always read
back from the catalogue, in the views' order, so a stale view can at worst miss a paper for a second — never
serve one the catalogue lacks.

Ranking a query (`[search] mode`, or per call):
1. the search syntax is parsed (`ti:`, `au:`, `cat:`, `-word`, `since:`/`until:` filter; free text ranks);
2. an arXiv id or URL, or an exact title, is pinned first;
3. keyword: the tantivy index, all words else any word, with the filters;
4. when not every word matched, a one-typo correction is tried against the index's own vocabulary, and kept
   (with a "did you mean") when it matches better;
5. semantic: the query's embedding against the paper vectors, with the filters;
6. hybrid fuses both (`bot.semantic.fuse`, weights tuned on our own tuning set): all-words keyword matches
   stay on the first page, papers described in other words come in beside them.
Sorting by upvotes or date is a keyword-side operation over every match. Without the model (missing, broken)
the ranking is keyword's, said once in the results and once in the log — never an error. While no trusted
keyword index exists yet (a first start on a big catalogue, an upgrade) search answers from the catalogue's
own title scan and says the index is being rebuilt, with its progress and the time left.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.catalogue import Catalogue
from bot.models import Paper, SearchMode, SearchResults, SortOrder
from bot.search.follower import Follower, Role
from bot.search.keyword_index import IndexHits, KeywordIndex
from bot.search.keyword_view import KeywordView
from bot.search.lease import Lease
from bot.search.syntax import SearchQuery, parse_search
from bot.search.terms import parse_query
from bot.search.typos import correct_query
from bot.search.vector_view import VectorView
from bot.semantic import DEFAULT_WEIGHTS, Embedder, ModelUnavailable, OnnxEmbedder, document_text, fuse
from bot.sources.ids import parse_paper_ref

__all__ = ["SearchService", "open_search"]

log = logging.getLogger(__name__)

MAX_LIMIT = 100
DEPTH = DEFAULT_WEIGHTS.depth  # candidates taken from each side before fusing
FILTERED_DEPTH = 400  # semantic candidates read when filters will drop some
NO_MODEL = "Semantic ranking is unavailable right now, so these are keyword matches."


def _eta_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f", about {max(1, round(seconds))} s left"
    return f", about {round(seconds / 60)} min left"


def _notice(*parts: str | None) -> str | None:
    text = " ".join(p for p in parts if p)
    return text or None


class SearchService:
    """Search over this process's views of one catalogue (see the module docstring)."""

    def __init__(
        self,
        catalogue: Catalogue,
        keyword: KeywordView,
        follower: Follower,
        *,
        vectors: VectorView | None = None,
        mode: SearchMode = "hybrid",
    ) -> None:
        self.catalogue = catalogue
        self.keyword = keyword
        self.vectors = vectors
        self.follower = follower
        self.mode: SearchMode = mode
        self._warned_no_model = False

    # ---- search -------------------------------------------------------------------------------------------

    async def search(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        sort: SortOrder = "relevance",
        mode: SearchMode | None = None,
    ) -> SearchResults:
        """One page of papers for `query` (see the module docstring for how they are ranked)."""
        limit = max(1, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        mode = mode or self.mode
        index = await self.keyword.readable()
        if index is None:
            return await self._title_scan(query, limit=limit, offset=offset, sort=sort)
        parsed = parse_search(query)
        where = parsed if parsed.has_filters else None
        if sort != "relevance" or mode == "keyword":
            return await self._keyword_page(index, query, parsed, where, limit=limit, offset=offset, sort=sort)
        return await self._ranked_page(index, query, parsed, where, mode, limit=limit, offset=offset)

    async def _keyword_page(
        self,
        index: KeywordIndex,
        query: str,
        parsed: SearchQuery,
        where: SearchQuery | None,
        *,
        limit: int,
        offset: int,
        sort: SortOrder,
    ) -> SearchResults:
        hits, corrected = await self._keyword_hits(index, parsed.text, where, limit=limit, offset=offset, sort=sort)
        pinned = await self._pinned(query) if offset == 0 and sort == "relevance" else []
        ids = list(dict.fromkeys([*pinned, *hits.ids]))[:limit]
        papers = await self.catalogue.get_many(ids)
        return SearchResults(
            query=query,
            papers=tuple(papers),
            matched=hits.matched if papers else "none",
            sort=sort,
            offset=offset,
            has_more=hits.has_more,
            corrected_query=corrected,
            ranked_by="keyword",
        )

    async def _keyword_hits(
        self,
        index: KeywordIndex,
        text: str,
        where: SearchQuery | None,
        *,
        limit: int,
        offset: int = 0,
        sort: SortOrder = "relevance",
    ) -> tuple[IndexHits, str | None]:
        """Keyword hits, retried with one typo corrected when not every word matched and that does better."""
        hits = await asyncio.to_thread(index.search, text, limit=limit, offset=offset, sort=sort, where=where)
        if hits.matched == "all" or not text.strip():
            return hits, None
        correction = await asyncio.to_thread(correct_query, text, index.document_frequency)
        if correction is None:
            return hits, None
        retry = await asyncio.to_thread(
            index.search, correction.text, limit=limit, offset=offset, sort=sort, where=where
        )
        if retry.matched == "all" or (retry.ids and not hits.ids):
            return retry, correction.text
        return hits, None

    async def _ranked_page(
        self,
        index: KeywordIndex,
        query: str,
        parsed: SearchQuery,
        where: SearchQuery | None,
        mode: SearchMode,
        *,
        limit: int,
        offset: int,
    ) -> SearchResults:
        depth = max(DEPTH, offset + limit + 1)
        # Both sides at once: tantivy, onnxruntime and numpy's scan release the GIL, so on 2 cores the page
        # costs about the slower side instead of their sum (bench/README.md, issue 11: 1M papers).
        keyword = asyncio.ensure_future(self._keyword_hits(index, parsed.text, where, limit=min(depth, MAX_LIMIT)))
        nearest = asyncio.ensure_future(self._semantic(parsed.text, parsed, depth))
        try:
            pinned = await self._pinned(query)
            hits, corrected = await keyword
            semantic, unavailable = await nearest
        finally:
            for side in (keyword, nearest):
                side.cancel()
        if corrected is not None and not unavailable:
            # The typo corrected on the keyword side: the meaning is the corrected words' (rare; a second look).
            semantic, unavailable = await self._semantic(corrected, parsed, depth)
        if mode == "semantic" and not unavailable:
            ranked = list(dict.fromkeys([*pinned, *(paper_id for paper_id, _score in semantic)]))
        else:
            ranked = fuse(list(hits.ids), hits.matched, semantic, pinned=pinned, page_size=limit)
        page_ids = ranked[offset : offset + limit]
        papers = await self.catalogue.get_many(page_ids)
        matched = hits.matched if hits.matched != "none" or not papers else "any"
        return SearchResults(
            query=query,
            papers=tuple(papers),
            matched=matched if papers else "none",
            sort="relevance",
            offset=offset,
            has_more=len(ranked) > offset + limit,
            notice=NO_MODEL if unavailable else None,
            corrected_query=corrected,
            ranked_by="keyword" if unavailable else mode,
        )

    async def _semantic(self, text: str, parsed: SearchQuery, depth: int) -> tuple[list[tuple[str, float]], bool]:
        """(id, cosine) pairs nearest to `text` that pass the filters, and whether the model was unavailable."""
        if self.vectors is None:
            return [], False
        if not text.strip():
            return [], False
        try:
            store = await self.vectors.readable()
            if store is None:
                return [], False
            vector = await asyncio.to_thread(self.vectors.embedder.embed_query, text)
            wanted = FILTERED_DEPTH if parsed.has_filters else depth
            pairs = await asyncio.to_thread(store.search, vector, wanted)
        except ModelUnavailable as exc:
            self._model_unavailable(exc)
            return [], True
        if parsed.has_filters and pairs:
            papers = {p.id: p for p in await self.catalogue.get_many([paper_id for paper_id, _ in pairs])}
            pairs = [(i, s) for i, s in pairs if i in papers and parsed.admits(papers[i])]
        return pairs[:depth], False

    def _model_unavailable(self, exc: ModelUnavailable) -> None:
        if not self._warned_no_model:
            self._warned_no_model = True
            log.warning("Semantic ranking is off, keyword ranking is used instead: %s", exc)

    async def _pinned(self, text: str) -> list[str]:
        """An arXiv id or URL, else an exact title, that names a stored paper: it comes first."""
        paper_id = parse_paper_ref(text.strip())
        if paper_id is not None and await self.catalogue.get(paper_id) is not None:
            return [paper_id]
        exact = await self.catalogue.find_title(text)
        return [exact.id] if exact is not None else []

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
        words = [word for term in parse_query(parse_search(query).text or query) for word in term.words]
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

    # ---- similar papers -----------------------------------------------------------------------------------

    async def similar(self, paper: Paper, *, limit: int = 10, offset: int = 0) -> SearchResults:
        """Papers most like `paper` by their vectors (the paper itself left out), one page.

        A paper not embedded yet is embedded on the spot. Without the model: no papers and a notice.
        """
        limit = max(1, min(limit, MAX_LIMIT))
        offset = max(0, offset)
        pairs: list[tuple[str, float]] = []
        notice: str | None = None
        try:
            store = await self.vectors.readable() if self.vectors is not None else None
            if self.vectors is None or store is None:
                notice = "Similar papers need the paper vectors, which are not built yet."
            else:
                vector = await asyncio.to_thread(store.vector, paper.id)
                if vector is None:
                    text = document_text(paper.title, paper.abstract)
                    vector = await asyncio.to_thread(self.vectors.embedder.embed_query, text)
                pairs = await asyncio.to_thread(store.search, vector, offset + limit + 1, exclude={paper.id})
        except ModelUnavailable as exc:
            self._model_unavailable(exc)
            notice = "Similar papers need the semantic model, which is unavailable right now."
        ids = [paper_id for paper_id, _score in pairs]
        papers = await self.catalogue.get_many(ids[offset : offset + limit])
        return SearchResults(
            query=paper.title,
            papers=tuple(papers),
            matched="any" if papers else "none",
            offset=offset,
            has_more=len(ids) > offset + limit,
            notice=notice,
            ranked_by="semantic",
        )

    # ---- lookups ------------------------------------------------------------------------------------------

    async def find_title(self, text: str) -> Paper | None:
        """The paper titled exactly `text` (ignoring case and spacing), else the best all-words match."""
        exact = await self.catalogue.find_title(text)
        if exact is not None:
            return exact
        # A best match must contain every word: an any-word hit for a title would be a different paper.
        results = await self.search(text, limit=1, mode="keyword")
        return results.papers[0] if results.matched == "all" and results.papers else None

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[tuple[str, str]]:
        """Up to `limit` (id, title) pairs: titles starting with the text, then titles containing every word
        (one typo forgiven), then — when nothing in a title matches — the best search results."""
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
        if not ids and not found and len(text.split()) >= 2:
            results = await self.search(text, limit=limit)
            return [(p.id, p.title) for p in results.papers]
        if not ids:
            return found
        titles = await self.catalogue.titles_by_id(ids)
        return found + [(paper_id, titles[paper_id]) for paper_id in ids if paper_id in titles]

    # ---- keeping up ---------------------------------------------------------------------------------------

    async def embedded(self) -> int:
        """Papers with a vector in the vectors this process reads."""
        return await self.vectors.embedded() if self.vectors is not None else 0

    async def index_lag(self) -> int:
        """Change-log entries committed but not yet in the index this process reads (all of them while none)."""
        await self.keyword.readable()  # a reader sees another process's commits only once it refreshes
        position = await self.catalogue.log_position()
        applied = await asyncio.to_thread(self.keyword.applied_through)
        return position.last_seq - (applied if applied is not None else 0)

    async def sync(self) -> None:
        """Bring the keyword index up to the catalogue's latest write now, when this process writes it."""
        await self.follower.sync()

    async def close(self) -> None:
        """Stop following (a CLI writer first applies what is left) and close the views."""
        try:
            await self.follower.close()
        finally:
            await self.keyword.close()
            if self.vectors is not None:
                await self.vectors.close()


def _views_written(role: Role, keyword: KeywordView, vectors: VectorView | None) -> list[KeywordView | VectorView]:
    """Which views a process writes when it holds the lease: vectors only in the bot and `db embed`."""
    if vectors is not None and role in ("bot", "embed"):
        return [keyword, vectors]
    return [keyword]


@contextlib.asynccontextmanager
async def open_search(
    catalogue: Catalogue,
    folder: Path,
    *,
    role: Role,
    mode: SearchMode = "hybrid",
    embedder: Embedder | None = None,
    model: str = "",
) -> AsyncIterator[SearchService]:
    """Open this process's search over `catalogue`, with its views in `folder` (see `bot.search.follower`).

    `model` names the embedding model (empty: the one installed with paperbot); `embedder` replaces it
    outright (tests). Nothing is loaded until the first semantic query or embedding.
    """
    keyword = KeywordView(folder, catalogue.identity)
    vectors = VectorView(folder, catalogue.identity, embedder or OnnxEmbedder(model), background=role == "bot")
    # With keyword ranking chosen, nothing is embedded (an operator who wants no model work gets none).
    written: Sequence[KeywordView | VectorView] = _views_written(role, keyword, vectors if mode != "keyword" else None)
    follower = Follower(catalogue, Lease(folder, role=f"paperbot {role}"), list(written), role=role, waited=[keyword])
    service = SearchService(catalogue, keyword, follower, vectors=vectors, mode=mode)
    try:
        await follower.start()
        yield service
    finally:
        await service.close()
