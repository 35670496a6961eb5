"""Pure helpers shared by the source parsers: whitespace, timestamps, lenient numbers.

Both upstreams hard-wrap text (FORMATS.md Q1, Q2, A7) and type numbers loosely (`12.0` for 12, Q7), so the
parsers normalise through these few functions and stay consistent with each other.
"""

from __future__ import annotations

import datetime as dt
import math
import re

__all__ = ["MalformedResponse", "as_int", "as_str", "collapse", "collapse_paragraphs", "parse_date"]

# A paragraph break in arXiv-derived text is a newline followed by indentation ("\n  ") or a blank line;
# a lone "\n" is only a hard wrap at ~80 columns.
_PARAGRAPH_RE = re.compile(r"\n[ \t]+(?=\S)|\n[ \t]*\n\s*")


class MalformedResponse(ValueError):
    """An upstream body does not have the shape the parser needs (not JSON, wrong type, no papers)."""


def collapse(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space and strip the ends."""
    return " ".join(text.split())


def collapse_paragraphs(text: str) -> str:
    """Collapse whitespace inside paragraphs, keeping paragraph breaks as a blank line ("\\n\\n")."""
    paragraphs = (collapse(p) for p in _PARAGRAPH_RE.split(text.strip()))
    return "\n\n".join(p for p in paragraphs if p)


def as_str(value: object) -> str | None:
    """Return a non-blank string stripped, or None for None, non-strings and blank strings."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def as_int(value: object) -> int | None:
    """Return an integral count from an int or an integral float (`12.0`); None for anything else.

    Values outside SQLite's 64-bit INTEGER are unknown too: one absurd number must not sink a whole day.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and _INT64_MIN <= value <= _INT64_MAX:
        return value
    return None


def parse_date(value: object) -> dt.date | None:
    """The UTC calendar date of an ISO-8601 timestamp (`2024-03-12T17:59:59.000Z`) or date; else None."""
    text = as_str(value)
    if text is None:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC)
    return stamp.date()
