"""Find one paper from whatever a user typed: an arXiv id, an arXiv or Hugging Face URL, or a title.

Shared by `paperbot abstract` and `/paper abstract`, so both accept exactly the same input. A paper that is not
in the catalogue (or is stored without an abstract) is fetched from Hugging Face, then arXiv, and stored, so
the next lookup is local. Upstream failures only matter when nothing is known locally.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.catalogue import PaperReader, PaperWriter
from bot.errors import PaperNotFound, SourceError, UserInputError
from bot.models import Paper
from bot.search import SearchService
from bot.sources import Sources
from bot.sources.ids import parse_paper_ref

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500


class _Store(PaperReader, PaperWriter, Protocol):
    """Read a paper, and store one fetched from upstream."""


async def lookup_paper(text: str, search: SearchService, sources: Sources | None) -> Paper:
    """Resolve `text` to a stored paper; raise PaperNotFound, UserInputError or (upstream down) SourceError."""
    catalogue = search.catalogue
    text = " ".join(text.replace("\x00", " ").split())
    if not text:
        raise UserInputError("Give a paper title, an arXiv id like 2401.12345, or an arXiv / Hugging Face link.")
    if len(text) > MAX_QUERY_CHARS:
        raise UserInputError(f"That is too long for a title or id (at most {MAX_QUERY_CHARS} characters).")
    paper_id = parse_paper_ref(text)
    if paper_id is None:
        paper = await search.find_title(text)
        if paper is None:
            raise PaperNotFound(text)
        return paper
    stored = await catalogue.get(paper_id)
    if stored is not None and stored.abstract:
        return stored
    fetched = await fetch_and_store(paper_id, catalogue, sources)
    if fetched is not None:
        return fetched
    if stored is not None:
        return stored
    raise PaperNotFound(text)


async def fetch_and_store(paper_id: str, catalogue: _Store, sources: Sources | None) -> Paper | None:
    """Fetch a paper from the enabled sources, store what they say, and return the stored result.

    arXiv is authoritative for the bibliographic fields and Hugging Face adds its own (upvotes, GitHub, AI
    summary); the catalogue merges them. Raises SourceError only when every enabled source failed.
    """
    if sources is None:
        return None
    found: list[Paper] = []
    errors: list[SourceError] = []
    if sources.arxiv is not None:
        try:
            found.extend(await sources.arxiv.fetch([paper_id]))
        except SourceError as exc:
            log.warning("arXiv lookup of %s failed: %s", paper_id, exc)
            errors.append(exc)
    if sources.huggingface is not None:
        try:
            hf_paper = await sources.huggingface.fetch_paper(paper_id)
        except SourceError as exc:
            log.warning("Hugging Face lookup of %s failed: %s", paper_id, exc)
            errors.append(exc)
        else:
            if hf_paper is not None:
                found.append(hf_paper)
    found = [paper for paper in found if paper.id == paper_id]
    if not found:
        enabled = (sources.arxiv is not None) + (sources.huggingface is not None)
        if errors and len(errors) == enabled:
            raise errors[0]
        return None
    await catalogue.upsert_papers(found)
    return await catalogue.get(paper_id)
