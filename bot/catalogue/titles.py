"""How titles are compared: the one normalisation every backend stores and every lookup applies."""

from __future__ import annotations

__all__ = ["normalise_title"]


def normalise_title(title: str) -> str:
    """The key used for exact and prefix title lookups: casefolded with whitespace collapsed."""
    return " ".join(title.replace("\x00", " ").split()).casefold()
