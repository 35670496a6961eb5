"""The search box's little language, parsed into a frozen `SearchQuery`; pure, and it never raises.

Free text plus optional fields:

    ti:word   ti:"a phrase"     the title contains the word / the phrase
    au:name   au:"full name"    an author's name contains it (case and accents ignored)
    cat:cs.LG                   the paper is in that arXiv category (case ignored)
    -word     -"a phrase"       the paper's title, abstract and authors do not contain it
    since:2024  since:2024-03  since:2024-03-15     first version on or after that day (a year or month
    until:2024  until:2024-03  until:2024-03-15     starts on its first day with since:, ends on its last
                                                    day with until:)

Fields filter; the free text ranks. Field names ignore case. Several fields of one kind must all hold
(`cat:cs.LG cat:cs.CV` is a paper listed in both). Anything malformed — an unknown field (`http:`, so URLs stay
whole), an empty value, an unclosed quote, an impossible date, a minus before a field — is kept as plain
words of the free text, exactly as typed: a query is never refused.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from bot.models import Paper

__all__ = ["SearchQuery", "parse_search"]

_MAX_TERMS = 16  # per kind: a pasted wall of `ti:` terms must not turn into a thousand-clause filter
# One raw token: an optionally negated, optionally fielded "quoted phrase", else a run of non-space.
_RAW_TOKEN = re.compile(r'-?(?:[A-Za-z]+:)?"[^"]*"|\S+')
_FIELDED = re.compile(r"(?P<neg>-?)(?:(?P<field>[A-Za-z]+):)?(?P<value>.*)", re.DOTALL)
_DATE = re.compile(r"(?P<y>\d{4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?)?")
_CATEGORY = re.compile(r"[A-Za-z][A-Za-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_FIELDS = frozenset({"ti", "au", "cat", "since", "until"})


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search: `text` ranks, every other field filters (see the module docstring for meanings)."""

    text: str = ""
    title: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None

    @property
    def has_filters(self) -> bool:
        """Whether any field narrows the results."""
        return bool(self.title or self.authors or self.categories or self.exclude or self.since or self.until)

    @property
    def is_empty(self) -> bool:
        """Nothing to rank and nothing to filter by."""
        return not self.text and not self.has_filters

    def admits(self, paper: Paper) -> bool:
        """Whether `paper` passes every filter (the free text is for ranking, not checked here).

        Words are compared whole, lower-cased and accent-folded, so `ti:graph` matches "Graph Neural…" but
        not "Graphene"; a paper with an unknown date fails `since:`/`until:`.
        """
        title_words = _words(paper.title)
        if any(not _contains(title_words, _words(term)) for term in self.title):
            return False
        if self.authors:
            names = [_words(name) for name in paper.authors]
            if any(not any(_contains(name, _words(term)) for name in names) for term in self.authors):
                return False
        if self.categories:
            listed = {c.casefold() for c in paper.categories or ()}
            if any(c.casefold() not in listed for c in self.categories):
                return False
        if self.exclude:
            everything = _words(" ".join((paper.title, paper.abstract or "", *paper.authors)))
            if any(_contains(everything, _words(term)) for term in self.exclude):
                return False
        if self.since is not None and (paper.published is None or paper.published < self.since):
            return False
        return not (self.until is not None and (paper.published is None or paper.published > self.until))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(_fold(text)))


def _contains(words: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """`phrase` (a word sequence) occurs in `words`; an empty phrase (punctuation only) never matches."""
    if not phrase:
        return False
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


def _date(value: str, *, end: bool) -> dt.date | None:
    """`2024`, `2024-03` or `2024-03-15` as a day: the first (since) or last (until) day it covers."""
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    year = int(match["y"])
    month = int(match["m"]) if match["m"] else (12 if end else 1)
    if match["d"]:
        day = int(match["d"])
    elif end and 1 <= month <= 12 and year >= 1:
        day = calendar.monthrange(year, month)[1]
    else:
        day = 1
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _phrase_or_word(value: str) -> str | None:
    """A field's value: `"a phrase"` (quotes removed, spaces collapsed) or one unquoted word; else None."""
    if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
        inner = " ".join(value[1:-1].split())
        return inner if _WORD.search(inner) else None
    if not value or '"' in value or not _WORD.search(value):
        return None
    return value


def _tokens(text: str) -> Iterable[str]:
    return _RAW_TOKEN.findall(text.replace("\x00", " "))


def parse_search(text: str) -> SearchQuery:
    """Parse what was typed into a `SearchQuery`; malformed syntax becomes plain words, never an error."""
    free: list[str] = []
    title: list[str] = []
    authors: list[str] = []
    categories: list[str] = []
    exclude: list[str] = []
    since: dt.date | None = None
    until: dt.date | None = None

    def add(bucket: list[str], value: str) -> None:
        if value not in bucket and len(bucket) < _MAX_TERMS:
            bucket.append(value)

    for raw in _tokens(text):
        match = _FIELDED.fullmatch(raw)
        assert match is not None  # the pattern accepts any string
        negated, field, value = bool(match["neg"]), (match["field"] or "").lower(), match["value"]
        accepted = False
        if field in _FIELDS and not negated:
            if field in ("ti", "au"):
                term = _phrase_or_word(value)
                if term is not None:
                    add(title if field == "ti" else authors, term)
                    accepted = True
            elif field == "cat":
                if _CATEGORY.fullmatch(value):
                    add(categories, value)
                    accepted = True
            else:
                day = _date(value, end=field == "until")
                if day is not None:
                    if field == "since":
                        since = day if since is None else max(since, day)
                    else:
                        until = day if until is None else min(until, day)
                    accepted = True
        elif negated and not match["field"]:
            term = _phrase_or_word(value)
            if term is not None and (value.startswith('"') or _WORD.match(value)):
                add(exclude, term)
                accepted = True
        if not accepted:
            free.append(raw)
    return SearchQuery(
        text=" ".join(free),
        title=tuple(title),
        authors=tuple(authors),
        categories=tuple(categories),
        exclude=tuple(exclude),
        since=since,
        until=until,
    )
