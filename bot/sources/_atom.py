"""Pure parser from arXiv export API Atom bytes to papers.

arXiv has served two serialisations (FORMATS.md §2.1): a legacy one that declares the `opensearch:` and
`arxiv:` namespaces inline on each element, and the current one that declares them on `<feed>`. Parsing by
namespace URI (never by prefix or element order) reads both the same way.

arXiv reports errors as feeds (A1): a malformed id gives HTTP 400 and one `<entry>` whose `<id>` is
`…/api/errors#…` and whose title is `Error`. `parse_feed` raises `ArxivFeedError` for such a feed before
any entry is counted as a paper, so an error can never be stored as a paper called "Error"; the client
turns it into a SourceError. Unknown but well-formed ids are simply absent from the feed (A2).

The stdlib parser is used on purpose: arXiv is a trusted upstream, expat ≥ 2.4.1 (bundled with the
supported Pythons) limits entity expansion, and external entities are never fetched.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

from bot.models import Paper
from bot.sources._text import MalformedResponse, collapse, collapse_paragraphs, parse_date
from bot.sources.ids import parse_paper_ref

__all__ = ["ArxivFeedError", "parse_feed"]

ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

_log = logging.getLogger("bot.sources.arxiv")


class ArxivFeedError(MalformedResponse):
    """arXiv answered with an error feed (A1); `message` is arXiv's own summary, e.g. `incorrect id format`."""

    def __init__(self, message: str, error_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id


def _text(element: ET.Element | None) -> str:
    return (element.text or "") if element is not None else ""


def _is_error_entry(entry: ET.Element) -> bool:
    entry_id = _text(entry.find(f"{ATOM}id"))
    if "/api/errors" in entry_id:
        return True
    # A real paper may be titled "Error", but it always has an `/abs/` id.
    return collapse(_text(entry.find(f"{ATOM}title"))) == "Error" and "/abs/" not in entry_id


def _base_id(entry_id: str) -> str | None:
    """`http://arxiv.org/abs/hep-ex/0406020v1` → `hep-ex/0406020`; None if it is not an abs URL."""
    marker = entry_id.find("/abs/")
    if marker < 0:
        return None
    return parse_paper_ref(entry_id[marker + len("/abs/") :])


def _categories(entry: ET.Element) -> tuple[str, ...]:
    """Primary category first, then the others in feed order, without duplicates."""
    terms: dict[str, None] = {}
    primary = entry.find(f"{ARXIV}primary_category")
    if primary is not None and primary.get("term"):
        terms[primary.get("term", "").strip()] = None
    for category in entry.iter(f"{ATOM}category"):
        term = (category.get("term") or "").strip()
        if term:
            terms.setdefault(term, None)
    return tuple(terms)


def _parse_entry(entry: ET.Element) -> Paper | None:
    raw_id = collapse(_text(entry.find(f"{ATOM}id")))
    paper_id = _base_id(raw_id)
    if paper_id is None:
        _log.warning("skipping arXiv entry with an unrecognised id %r", raw_id)
        return None
    title = collapse(_text(entry.find(f"{ATOM}title")))
    if not title:
        _log.warning("skipping arXiv entry %s without a title", paper_id)
        return None
    abstract = collapse_paragraphs(_text(entry.find(f"{ATOM}summary")))
    authors = tuple(
        name
        for author in entry.iter(f"{ATOM}author")
        # Names are stored as they arrive, mojibake included (A4): repairing guesses can corrupt good names.
        if (name := collapse(_text(author.find(f"{ATOM}name"))))
    )
    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract or None,
        authors=authors,
        published=parse_date(_text(entry.find(f"{ATOM}published"))),
        categories=_categories(entry) or None,
    )


def parse_feed(body: bytes) -> list[Paper]:
    """Parse an arXiv Atom feed into papers (unversioned ids, whitespace collapsed, feed order).

    Raises ArxivFeedError for an arXiv error feed and MalformedResponse for a body that is not an Atom
    feed. Entries that cannot be papers are logged and skipped; a repeated id keeps its first entry.
    """
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        head = collapse(body[:80].decode("utf-8", "replace"))
        raise MalformedResponse(f"not an XML feed ({exc}); body starts {head!r}") from exc
    if root.tag != f"{ATOM}feed":
        raise MalformedResponse(f"expected an Atom <feed>, got <{root.tag}>")
    entries = root.findall(f"{ATOM}entry")
    for entry in entries:
        if _is_error_entry(entry):
            message = collapse(_text(entry.find(f"{ATOM}summary"))) or "arXiv reported an error"
            raise ArxivFeedError(message, collapse(_text(entry.find(f"{ATOM}id"))) or None)
    papers: dict[str, Paper] = {}
    for entry in entries:
        paper = _parse_entry(entry)
        if paper is not None:
            papers.setdefault(paper.id, paper)
    return list(papers.values())


def total_results(body: bytes) -> int | None:
    """The feed's `opensearch:totalResults`, or None if absent or unreadable."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    text = _text(root.find(f"{OPENSEARCH}totalResults")).strip()
    return int(text) if text.isdigit() else None
