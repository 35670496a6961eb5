"""Frozen value types shared by every layer.

Papers are keyed by the unversioned arXiv id (`2403.07815`, `hep-th/9901001`). Optional fields are `None`
when the source did not say: the catalogue never lets a `None` erase a value it already knows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

HF_PAPER_URL = "https://huggingface.co/papers/{id}"
HF_DAY_URL = "https://huggingface.co/papers/date/{day}"
ARXIV_ABS_URL = "https://arxiv.org/abs/{id}"
ARXIV_PDF_URL = "https://arxiv.org/pdf/{id}"

SortOrder = Literal["relevance", "upvotes", "newest"]
SearchMode = Literal["keyword", "semantic", "hybrid"]
TrendingPeriod = Literal["day", "week", "month"]
EmptyDays = Literal["skip", "note", "week"]
Cadence = Literal["daily", "weekly"]


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as the catalogue knows it; any field but id/title may be unknown (None)."""

    id: str
    title: str
    abstract: str | None = None
    authors: tuple[str, ...] = ()
    published: dt.date | None = None  # arXiv v1 date
    upvotes: int | None = None
    num_comments: int | None = None
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    organization: str | None = None  # display name (fullname, else slug)
    thumbnail: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] | None = None
    withdrawn: bool | None = None
    categories: tuple[str, ...] | None = None
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None

    @property
    def url(self) -> str:
        """The Hugging Face paper page (works for any arXiv id)."""
        return HF_PAPER_URL.format(id=self.id)

    @property
    def arxiv_url(self) -> str:
        """The arXiv abstract page."""
        return ARXIV_ABS_URL.format(id=self.id)

    @property
    def pdf_url(self) -> str:
        """The arXiv PDF."""
        return ARXIV_PDF_URL.format(id=self.id)


@dataclass(frozen=True, slots=True)
class DailyEntry:
    """A paper as listed on one Daily Papers day, with its upvotes at fetch time."""

    day: dt.date
    paper: Paper
    upvotes: int


@dataclass(frozen=True, slots=True)
class SearchResults:
    """One page of search hits; `matched` says whether all words matched or the any-word fallback ran."""

    query: str
    papers: tuple[Paper, ...]
    matched: Literal["all", "any", "none"]
    sort: SortOrder = "relevance"
    offset: int = 0
    has_more: bool = False
    notice: str | None = None  # something the reader should know (e.g. the index is being rebuilt)
    corrected_query: str | None = None  # "did you mean": the query as corrected for a typo, when it was
    ranked_by: SearchMode = "keyword"  # how the papers were ranked (keyword when the model is unavailable)


@dataclass(frozen=True, slots=True)
class Trending:
    """Papers ranked by latest upvotes over a window of stored days ending at `last_day`."""

    period: TrendingPeriod
    first_day: dt.date | None
    last_day: dt.date | None
    papers: tuple[Paper, ...]


@dataclass(frozen=True, slots=True)
class CatalogueStats:
    """What `paperbot db stats` reports."""

    papers: int
    days: int
    first_day: dt.date | None
    last_day: dt.date | None
    db_bytes: int
    backend: Literal["sqlite", "postgresql"] = "sqlite"


@dataclass(frozen=True, slots=True)
class RolePing:
    """Mention `role_id` (and only it) in a digest post when a paper in it matches one of `keywords`."""

    role_id: int
    keywords: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Subscription:
    """A channel's digest settings, from the config file or a slash command (`source`).

    `weekday` (Monday = 0 … Sunday = 6) is the posting day when `cadence` is "weekly"; `update_after_hours`
    > 0 edits each post once, that many hours later, with settled upvotes (0: never).
    """

    channel_id: int
    guild_id: int | None = None
    time: dt.time = dt.time(9, 0)
    timezone: str = "UTC"
    top_n: int = 10
    min_upvotes: int = 0
    keywords: tuple[str, ...] = ()
    empty_days: EmptyDays = "note"
    source: Literal["config", "db"] = "db"
    created_at: dt.datetime | None = None  # when it began to be owed posts (config: first seen running)
    failing_reason: str | None = None
    failing_since: dt.datetime | None = None
    thread: bool = False  # open a discussion thread on each post
    pings: tuple[RolePing, ...] = ()
    update_after_hours: float = 0
    cadence: Cadence = "daily"
    weekday: int = 0


@dataclass(frozen=True, slots=True)
class Digest:
    """What one subscription's post for list day `day` contains; `papers` empty means an empty day."""

    day: dt.date
    subscription: Subscription
    papers: tuple[Paper, ...]
    kind: Literal["list", "note", "week", "skip"] = "list"
    total_listed: int = 0
    notes: tuple[str, ...] = field(default=())
