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
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bot.catalogue import Follow, ListEntry
from bot.digest.compose import matches as keyword_matches
from bot.follows.names import author_matches, name_key, surname_words
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

    The daily run asks it once per member. Each distinct keyword and author is checked against the entries
    once, when first asked for, into the set of entries it matches (an author only against the entries with
    an author of that surname); a member's follows then cost set operations, not a pass over every entry.
    The regex of a keyword over a paper's abstract (tens of microseconds) is what remains: one per distinct
    keyword and entry, whatever the number of members following it.
    """

    def __init__(self, entries: Sequence[ListEntry]) -> None:
        self._entries = sorted(entries, key=lambda entry: entry.position)
        self._positions = [entry.position for entry in self._entries]
        self._by_keyword: dict[str, frozenset[int]] = {}
        self._by_author: dict[str, frozenset[int]] = {}
        # Entries by their authors' surname words: the only entries an author follow can match.
        self._by_surname: dict[str, set[int]] = {}
        for index, entry in enumerate(self._entries):
            for author in entry.paper.authors:
                for word in surname_words(author):
                    self._by_surname.setdefault(word, set()).add(index)

    def _keyword(self, keyword: str) -> frozenset[int]:
        """Indexes of the entries whose paper `keyword` matches."""
        key = " ".join(keyword.split()).casefold()
        found = self._by_keyword.get(key)
        if found is None:
            found = self._by_keyword[key] = frozenset(
                i for i, entry in enumerate(self._entries) if keyword_matches(entry.paper, (keyword,))
            )
        return found

    def _author(self, author: str) -> frozenset[int]:
        """Indexes of the entries whose paper `author` wrote."""
        key = name_key(author)
        found = self._by_author.get(key)
        if found is None:
            candidates = set().union(*(self._by_surname.get(word, ()) for word in surname_words(author)))
            found = self._by_author[key] = frozenset(
                i for i in candidates if author_matches(author, self._entries[i].paper.authors)
            )
        return found

    def papers_for(self, follows: Sequence[Follow], *, after: int) -> list[FollowedPaper]:
        """The entries after position `after` that any of `follows` match, best first."""
        first = bisect_right(self._positions, after)
        hits: dict[int, list[FollowHit]] = {}
        for follow in follows:
            candidates = self._author(follow.author) if follow.author else frozenset(range(len(self._entries)))
            by_keyword = [(keyword, self._keyword(keyword)) for keyword in follow.keywords]
            if by_keyword:
                candidates = candidates & frozenset().union(*(found for _, found in by_keyword))
            for index in candidates:
                if index >= first:
                    found = tuple(keyword for keyword, matched in by_keyword if index in matched)
                    hits.setdefault(index, []).append(FollowHit(follow.follow_id, found, follow.author))
        # Follows were visited in the member's order, so each paper's hits are in that order too.
        return best_first(
            FollowedPaper(self._entries[i].paper, self._entries[i].day, tuple(found)) for i, found in hits.items()
        )
