"""PostgreSQL rows ↔ models: how a Paper is stored (native arrays, dates and timestamps) and read back.

The stored values follow the SQLite backend's rules exactly, so a paper reads back the same from either:
whitespace in a title is collapsed, an empty author/keyword/category list is stored as NULL (authors read
back as `()`, the others as None), times are UTC. One thing only PostgreSQL needs: text may not contain the
NUL character (SQLite accepts it), so NULs from a source are dropped rather than failing the whole write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from bot.catalogue.titles import normalise_title
from bot.models import Paper

Row = Mapping[str, Any]


def utc(value: dt.datetime) -> dt.datetime:
    """An aware datetime in UTC (naive datetimes are refused, as by the SQLite backend)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; pass an aware UTC time")
    return value.astimezone(dt.UTC)


def when(value: dt.datetime | None) -> dt.datetime | None:
    """A stored timestamp as an aware UTC datetime, or None."""
    return None if value is None else value.astimezone(dt.UTC)


def text(value: str | None) -> str | None:
    """Text as PostgreSQL can store it: without NUL characters."""
    return value.replace("\x00", "") if value is not None and "\x00" in value else value


def text_list(values: Iterable[str] | None) -> list[str] | None:
    """A list of strings as a text[] value; None and empty lists are stored as NULL."""
    if values is None:
        return None
    items = [str(text(v)) for v in values]
    return items or None


def clean_title(title: str) -> str:
    """The title as stored: whitespace collapsed, NULs dropped."""
    return " ".join(title.replace("\x00", "").split())


def paper_params(paper: Paper, seen: dt.datetime) -> dict[str, Any]:
    """The named parameters of the paper upsert (first/last seen both `seen`)."""
    title = clean_title(paper.title)
    return {
        "id": paper.id,
        "title": title,
        "title_key": normalise_title(title),
        "abstract": text(paper.abstract),
        "authors": text_list(paper.authors),
        "published": paper.published,
        "upvotes": paper.upvotes,
        "num_comments": paper.num_comments,
        "github_repo": text(paper.github_repo),
        "github_stars": paper.github_stars,
        "project_page": text(paper.project_page),
        "organization": text(paper.organization),
        "thumbnail": text(paper.thumbnail),
        "ai_summary": text(paper.ai_summary),
        "ai_keywords": text_list(paper.ai_keywords),
        "withdrawn": paper.withdrawn,
        "categories": text_list(paper.categories),
        "first_seen": seen,
        "last_seen": seen,
    }


def _tuple(values: list[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


def paper_from_row(row: Row) -> Paper:
    """Turn a `papers` row (a dict row) into the model; rows never leave the backend."""
    return Paper(
        id=row["id"],
        title=row["title"],
        abstract=row["abstract"],
        authors=_tuple(row["authors"]) or (),
        published=row["published"],
        upvotes=row["upvotes"],
        num_comments=row["num_comments"],
        github_repo=row["github_repo"],
        github_stars=row["github_stars"],
        project_page=row["project_page"],
        organization=row["organization"],
        thumbnail=row["thumbnail"],
        ai_summary=row["ai_summary"],
        ai_keywords=_tuple(row["ai_keywords"]),
        withdrawn=row["withdrawn"],
        categories=_tuple(row["categories"]),
        first_seen=when(row["first_seen"]),
        last_seen=when(row["last_seen"]),
    )
