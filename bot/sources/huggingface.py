"""Hugging Face Daily Papers client and its pure JSON parser.

The API has changed shape several times: early 2024 items carry `mediaUrl`, late 2024
adds `thumbnail`/`submittedBy`/`discussionId`, 2025+ adds AI summaries, GitHub and organisation fields, at
item or paper level. The parser therefore never relies on one era's layout: every field is looked up with
fallbacks (paper → item and item → paper), `null` and missing are the same "unknown", and counts may be
floats (`12.0`). Each item is parsed on its own, so one malformed item is logged and skipped while the rest
of the day still lands; a body that is not a JSON array at all is a SourceError.

Decisions worth knowing:

* Authors with `"hidden": true` are kept. The flag is a Hugging Face display setting on the author
  record, not a statement about authorship: the name is printed on the paper and listed by arXiv, so
  dropping it would make author search miss it and make HF- and arXiv-sourced records disagree.
* `Paper.published` is the arXiv v1 date (`paper.publishedAt`); `DailyEntry.day` is the date that was
  asked for, never the item's `publishedAt` (that is when it was added to Daily Papers).
* Entries come back sorted by upvotes, highest first (stable, so ties keep the served order): the served
  order is not documented, so it is not trusted.
* Requests to the Hugging Face host are paced (`MIN_INTERVAL_S` apart by default). Unauthenticated clients
  get about 500 requests per 5 minutes and every day costs at least two (a page, then the empty page that
  ends the list), so an unpaced backfill of a few months runs into HTTP 429 within minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from bot.errors import SourceError
from bot.models import DailyEntry, Paper
from bot.sources._http import HttpClient, HttpResponse
from bot.sources._text import (
    MalformedResponse,
    as_int,
    as_str,
    collapse,
    collapse_paragraphs,
    parse_date,
)
from bot.sources.ids import is_old_style, parse_paper_ref

__all__ = ["HuggingFaceClient", "decode_json", "parse_daily_papers", "parse_paper"]

SOURCE = "huggingface"
#: Seconds between request starts to the Hugging Face host: 300 requests per 5 minutes, well under the ~500
#: Hugging Face allows an unauthenticated client, leaving room for the bot's own lookups; a 30-day first-run
#: fill (60 requests) takes a minute.
MIN_INTERVAL_S = 1.0
_log = logging.getLogger("bot.sources.huggingface")


# --------------------------------------------------------------------------------------------- parsing


def decode_json(body: bytes) -> Any:
    """Decode a JSON body, raising MalformedResponse that says what arrived instead (HTML, cut-off JSON)."""
    stripped = body.strip()
    if not stripped:
        raise MalformedResponse("empty body where JSON was expected")
    try:
        text = stripped.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedResponse(f"body is not UTF-8 JSON ({exc.reason} at byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if text[:1] == "<":
            raise MalformedResponse(f"expected JSON, got an HTML/XML page ({collapse(text[:80])!r}…)") from exc
        if exc.pos >= len(text) or exc.msg.startswith("Unterminated"):
            raise MalformedResponse(f"truncated JSON: {exc.msg} at character {exc.pos} of {len(text)}") from exc
        raise MalformedResponse(f"invalid JSON: {exc.msg} at character {exc.pos}") from exc


def _mapping(value: object) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _first(*values: object) -> object:
    """The first value that is not None (missing and null are the same "unknown")."""
    return next((v for v in values if v is not None), None)


def _organization(value: object) -> str | None:
    if isinstance(value, str):
        return as_str(value)
    org = _mapping(value)
    if org is None:
        return None
    return as_str(org.get("fullname")) or as_str(org.get("name"))


def _authors(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedResponse(f"paper.authors is {type(value).__name__}, expected a list")
    names: list[str] = []
    for author in value:
        # Hidden authors are kept on purpose: see the module docstring.
        name = as_str(author.get("name")) if isinstance(author, Mapping) else as_str(author)
        if name:
            names.append(collapse(name))
    return tuple(names)


def _keywords(value: object) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    seen: dict[str, None] = {}
    for keyword in value:
        text = as_str(keyword)
        if text:
            seen.setdefault(collapse(text), None)
    return tuple(seen)


def _withdrawn(paper: Mapping[str, Any], item: Mapping[str, Any]) -> bool | None:
    for scope in (paper, item):
        if "withdrawnAt" in scope:
            return scope["withdrawnAt"] is not None
    return None


def parse_paper(paper: Mapping[str, Any], item: Mapping[str, Any] | None = None) -> Paper:
    """Build a Paper from a paper object (`/api/papers/{id}` or `item.paper`), with item-level fallbacks."""
    item = item or {}
    raw_id = as_str(paper.get("id"))
    if raw_id is None:
        raise MalformedResponse("paper has no id")
    paper_id = parse_paper_ref(raw_id)
    if paper_id is None:
        raise MalformedResponse(f"paper id {raw_id!r} is not an arXiv id")
    title_text = as_str(paper.get("title")) or as_str(item.get("title"))
    if title_text is None:
        raise MalformedResponse(f"paper {paper_id} has no title")
    abstract = as_str(_first(paper.get("summary"), item.get("summary")))
    ai_summary = as_str(_first(paper.get("ai_summary"), item.get("ai_summary")))
    github_repo = as_str(_first(paper.get("githubRepo"), item.get("githubRepo")))
    return Paper(
        id=paper_id,
        title=collapse(title_text),
        abstract=collapse_paragraphs(abstract) if abstract else None,
        authors=_authors(paper.get("authors")),
        published=parse_date(paper.get("publishedAt")),
        upvotes=as_int(_first(paper.get("upvotes"), item.get("upvotes"))),
        num_comments=as_int(_first(item.get("numComments"), paper.get("numComments"))),
        github_repo=github_repo,
        github_stars=as_int(_first(paper.get("githubStars"), item.get("githubStars"))),
        project_page=as_str(_first(paper.get("projectPage"), item.get("projectPage"))),
        organization=_organization(_first(item.get("organization"), paper.get("organization"))),
        thumbnail=as_str(_first(item.get("thumbnail"), item.get("mediaUrl"), paper.get("thumbnail"))),
        ai_summary=collapse(ai_summary) if ai_summary else None,
        ai_keywords=_keywords(_first(paper.get("ai_keywords"), item.get("ai_keywords"))),
        withdrawn=_withdrawn(paper, item),
    )


def parse_daily_item(item: object, day: dt.date) -> DailyEntry:
    """Parse one element of `/api/daily_papers`; raises MalformedResponse if it cannot be a paper."""
    item_map = _mapping(item)
    if item_map is None:
        raise MalformedResponse(f"item is {type(item).__name__}, expected an object")
    paper = _mapping(item_map.get("paper"))
    if paper is None:
        raise MalformedResponse("item has no paper object")
    parsed = parse_paper(paper, item_map)
    return DailyEntry(day=day, paper=parsed, upvotes=parsed.upvotes or 0)


def _ensure_list(payload: object) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        if "error" in payload:
            raise MalformedResponse(f"Hugging Face answered an error: {collapse(str(payload['error']))}")
        keys = ", ".join(sorted(map(str, payload))[:8])
        raise MalformedResponse(f"expected a JSON array of daily items, got an object (keys: {keys})")
    raise MalformedResponse(f"expected a JSON array of daily items, got {type(payload).__name__}")


def parse_daily_papers(payload: object, day: dt.date) -> list[DailyEntry]:
    """Turn a decoded `/api/daily_papers?date=D` body into entries for `day`, upvotes highest first.

    Malformed items are logged and skipped; a payload that is not a list raises MalformedResponse.
    Duplicate ids keep their first occurrence.
    """
    entries: dict[str, DailyEntry] = {}
    for index, item in enumerate(_ensure_list(payload)):
        try:
            entry = parse_daily_item(item, day)
        except (MalformedResponse, TypeError, ValueError, AttributeError) as exc:
            _log.warning("skipping malformed daily item #%d for %s: %s", index, day.isoformat(), exc)
            continue
        if entry.paper.id in entries:
            _log.info("duplicate paper %s in the list for %s; keeping the first", entry.paper.id, day)
            continue
        entries[entry.paper.id] = entry
    return sorted(entries.values(), key=lambda e: -e.upvotes)


def _item_ids(payload: Sequence[Any]) -> set[str]:
    """Ids named by a page's items, valid or not: what "a page bringing new ids" compares."""
    ids: set[str] = set()
    for item in payload:
        paper = _mapping(item.get("paper")) if isinstance(item, Mapping) else None
        if paper is not None and paper.get("id") is not None:
            ids.add(str(paper.get("id")))
    return ids


# --------------------------------------------------------------------------------------------- client


class HuggingFaceClient:
    """Reads `{base_url}/api/daily_papers?date=D` (paged) and `{base_url}/api/papers/{id}`."""

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        min_interval_s: float = MIN_INTERVAL_S,
        *,
        page_size: int = 100,
        max_pages: int = 20,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.max_pages = max_pages
        http.set_min_interval(urlsplit(self.base_url).netloc, min_interval_s)

    async def fetch_day(self, day: dt.date) -> list[DailyEntry]:
        """Return the Daily Papers list for the UTC date `day`, all pages, upvotes highest first.

        Pages with `p`/`limit` until a page is empty or brings no new ids (the API may ignore `p`, in
        which case the second page repeats the first and paging stops). Raises SourceError.
        """
        url = f"{self.base_url}/api/daily_papers"
        seen_ids: set[str] = set()
        entries: dict[str, DailyEntry] = {}
        previous_full = False
        for page in range(self.max_pages):
            params = {"date": day.isoformat(), "limit": str(self.page_size), "p": str(page)}
            response = await self._http.get(url, source=SOURCE, params=params, accept="application/json")
            payload = self._decode(response)
            try:
                items = _ensure_list(payload)
            except MalformedResponse as exc:
                raise SourceError(SOURCE, str(exc), url=response.url, status=response.status) from exc
            page_ids = _item_ids(items)
            if not items or page_ids <= seen_ids:
                if items and page > 0 and previous_full:
                    # A full page, then the same ids again: the API ignored `p`, so the rest of the list is
                    # out of reach. Say so rather than pass a cut list off as the whole day.
                    _log.warning(
                        "%s: page %d of %s repeated earlier ids after a full page of %d; the API seems to "
                        "ignore paging, so this day may be cut at %d papers",
                        SOURCE,
                        page,
                        day,
                        self.page_size,
                        len(seen_ids),
                    )
                break
            previous_full = len(items) >= self.page_size
            seen_ids |= page_ids
            for entry in parse_daily_papers(items, day):
                entries.setdefault(entry.paper.id, entry)
        else:
            _log.warning("stopped paging %s for %s after %d pages", url, day, self.max_pages)
        return sorted(entries.values(), key=lambda e: -e.upvotes)

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """Return one paper from `/api/papers/{id}`, or None if Hugging Face does not know it (404).

        Any id form is accepted (see `ids.parse_paper_ref`). Old-style ids (`hep-th/9901001`) return
        None without a request: Hugging Face only lists new-style ids.
        """
        ref = parse_paper_ref(paper_id)
        if ref is None or is_old_style(ref):
            return None
        response = await self._http.get(f"{self.base_url}/api/papers/{ref}", source=SOURCE, accept="application/json")
        if response.status == 404:
            return None
        payload = self._decode(response)
        if not isinstance(payload, Mapping):
            raise SourceError(
                SOURCE,
                f"expected a paper object, got {type(payload).__name__}",
                url=response.url,
                status=response.status,
            )
        try:
            return parse_paper(payload)
        except MalformedResponse as exc:
            raise SourceError(SOURCE, str(exc), url=response.url, status=response.status) from exc

    @staticmethod
    def _decode(response: HttpResponse) -> Any:
        """The decoded JSON of a 200 answer; any other status or a non-JSON body is a SourceError."""
        if response.status != 200:
            detail = f"unexpected HTTP {response.status}"
            try:
                error = decode_json(response.body)
            except MalformedResponse:
                error = None
            if isinstance(error, Mapping) and as_str(error.get("error")):
                detail += f": {collapse(str(error['error']))}"
            raise SourceError(SOURCE, detail, url=response.url, status=response.status)
        try:
            return decode_json(response.body)
        except MalformedResponse as exc:
            raise SourceError(SOURCE, str(exc), url=response.url, status=response.status) from exc
