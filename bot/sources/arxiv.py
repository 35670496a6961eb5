"""arXiv export API client: look papers up by id.

Used for papers the catalogue does not have (abstract lookups) and for best-effort enrichment; ingest
never depends on it. arXiv asks clients for one request every 3 seconds, so the client registers its host's
minimum interval with the shared HttpClient, which enforces it across concurrent callers.

`fetch` normalises and de-duplicates the ids first and never sends one that is not a valid arXiv id: one
malformed id would make arXiv reject the whole request with HTTP 400 (FORMATS.md A1). Unknown but valid ids
are silently absent from the answer (A2), and so from the result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from bot.errors import SourceError
from bot.models import Paper
from bot.sources._atom import ArxivFeedError, parse_feed
from bot.sources._http import HttpClient
from bot.sources._text import MalformedResponse
from bot.sources.ids import parse_paper_ref

__all__ = ["ArxivClient"]

SOURCE = "arxiv"
_log = logging.getLogger("bot.sources.arxiv")


class ArxivClient:
    """Reads `{base_url}/api/query?id_list=…`; at most `batch_size` ids per request."""

    def __init__(self, http: HttpClient, base_url: str, min_interval_s: float = 3.0, *, batch_size: int = 100) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.batch_size = batch_size
        http.set_min_interval(urlsplit(self.base_url).netloc, min_interval_s)

    async def fetch(self, ids: Sequence[str]) -> list[Paper]:
        """Return the papers arXiv knows among `ids` (any id form); unknown or malformed ids are absent."""
        wanted: dict[str, None] = {}
        for raw in ids:
            ref = parse_paper_ref(raw)
            if ref is None:
                _log.info("not asking arXiv for %r: not an arXiv id", raw)
                continue
            wanted.setdefault(ref, None)
        ordered = list(wanted)
        found: dict[str, Paper] = {}
        for start in range(0, len(ordered), self.batch_size):
            batch = ordered[start : start + self.batch_size]
            for paper in await self.query(batch):
                if paper.id in wanted:
                    found.setdefault(paper.id, paper)
        return [found[i] for i in ordered if i in found]

    async def query(self, id_list: Sequence[str]) -> list[Paper]:
        """Send one `id_list` request as given (no normalisation) and parse the feed.

        Raises SourceError on transport failure, on an arXiv error feed (HTTP 400 "Error" entry, with
        arXiv's message) and on a body that is not an Atom feed.
        """
        url = f"{self.base_url}/api/query"
        params = {"id_list": ",".join(id_list), "max_results": str(max(1, len(id_list)))}
        response = await self._http.get(url, source=SOURCE, params=params, accept="application/atom+xml")
        try:
            papers = parse_feed(response.body)
        except ArxivFeedError as exc:
            raise SourceError(
                SOURCE, f"arXiv rejected the query: {exc.message}", url=response.url, status=response.status
            ) from exc
        except MalformedResponse as exc:
            detail = str(exc) if response.status == 200 else f"unexpected HTTP {response.status}; {exc}"
            raise SourceError(SOURCE, detail, url=response.url, status=response.status) from exc
        if response.status != 200:
            raise SourceError(SOURCE, f"unexpected HTTP {response.status}", url=response.url, status=response.status)
        return papers
