"""The `papers` table's columns, the same in every backend (each backend's rows module maps them to its types).

`PAPER_FIELDS` are the columns a source may know: an upsert merges them with COALESCE, so None from a source never
replaces a stored value (Hugging Face knows upvotes but not categories; the arXiv snapshot the reverse).
"""

from __future__ import annotations

__all__ = ["PAPER_COLUMNS", "PAPER_FIELDS"]

PAPER_FIELDS = (
    "abstract",
    "authors",
    "published",
    "upvotes",
    "num_comments",
    "github_repo",
    "github_stars",
    "project_page",
    "organization",
    "thumbnail",
    "ai_summary",
    "ai_keywords",
    "withdrawn",
    "categories",
)
# Every column written on an upsert, in the order the backends' statements list them.
PAPER_COLUMNS = ("id", "title", "title_key", *PAPER_FIELDS, "first_seen", "last_seen")
