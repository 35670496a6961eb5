"""Which papers a member's follows match: pure functions of (follows, papers), no I/O.

A follow matches a paper when:
- its keywords (if any) — any one of them — match by the digest's keyword rule (`bot.digest.compose.matches`:
  the keyword starts a word, case-insensitively, in the title, the abstract or the AI keywords), and
- its author (if any) is among the paper's authors by the name rule of `names.py` (accents, case, initials).

A follow with both needs both. A paper matched by several of a member's follows appears once, with every
follow that matched it, so the DM can say why it is there.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from bot.catalogue import Follow, ListEntry
from bot.digest.compose import matches as keyword_matches
from bot.follows.names import author_matches, name_key
from bot.models import Paper

__all__ = ["FollowHit", "FollowedPaper", "Matcher", "match_follow"]


@dataclass(frozen=True, slots=True)
class FollowHit:
    """One of a member's follows that matched a paper, and with what."""

    follow_id: int
    keywords: tuple[str, ...]  # the follow's keywords found in the paper (empty for an author-only follow)
    author: str | None  # the followed author, when the follow names one

    @property
    def labels(self) -> tuple[str, ...]:
        """Plain phrases for "why is this here", e.g. ('author “Jane Smith”', 'keyword “diffusion”')."""
        named = (f"author “{self.author}”",) if self.author else ()
        return named + tuple(f"keyword “{keyword}”" for keyword in self.keywords)


@dataclass(frozen=True, slots=True)
class FollowedPaper:
    """A paper for a member's DM: the paper, the list day it entered on, and the follows that matched it."""

    paper: Paper
    list_day: dt.date
    hits: tuple[FollowHit, ...]


def _hit(
    follow: Follow, paper: Paper, has_keyword: Callable[[str], bool], has_author: Callable[[str], bool]
) -> FollowHit | None:
    if follow.author and not has_author(follow.author):
        return None
    found = tuple(keyword for keyword in follow.keywords if has_keyword(keyword))
    if follow.keywords and not found:
        return None
    return FollowHit(follow.follow_id, found, follow.author)


def match_follow(follow: Follow, paper: Paper) -> FollowHit | None:
    """What of `follow` matched `paper`, or None when it does not match."""
    return _hit(
        follow,
        paper,
        lambda keyword: keyword_matches(paper, (keyword,)),
        lambda author: author_matches(author, paper.authors),
    )


def best_first(papers: Iterable[FollowedPaper]) -> list[FollowedPaper]:
    """Most upvoted first, ties by id (the digest's order)."""
    return sorted(papers, key=lambda fp: (-(fp.paper.upvotes or 0), fp.paper.id))


class Matcher:
    """Matches many members' follows against one batch of list entries.

    The daily run asks it once per member; members share terms ("diffusion", a popular author), so each
    distinct keyword and author is checked against each paper once, not once per member.
    """

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self._entries = sorted(entries, key=lambda entry: entry.position)
        self._keywords: dict[tuple[str, str], bool] = {}
        self._authors: dict[tuple[str, str], bool] = {}

    def _keyword(self, keyword: str, paper: Paper) -> bool:
        key = (" ".join(keyword.split()).casefold(), paper.id)
        found = self._keywords.get(key)
        if found is None:
            found = self._keywords[key] = keyword_matches(paper, (keyword,))
        return found

    def _author(self, author: str, paper: Paper) -> bool:
        key = (name_key(author), paper.id)
        found = self._authors.get(key)
        if found is None:
            found = self._authors[key] = author_matches(author, paper.authors)
        return found

    def papers_for(self, follows: Sequence[Follow], *, after: int) -> list[FollowedPaper]:
        """The entries after position `after` that any of `follows` match, best first."""
        out: list[FollowedPaper] = []
        for entry in self._entries:
            if entry.position <= after:
                continue
            paper = entry.paper
            has_keyword = partial(self._keyword, paper=paper)
            has_author = partial(self._author, paper=paper)
            hits = tuple(hit for follow in follows if (hit := _hit(follow, paper, has_keyword, has_author)))
            if hits:
                out.append(FollowedPaper(entry.paper, entry.day, hits))
        return best_first(out)
