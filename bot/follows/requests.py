"""What a member typed into `/paper follow` → a follow to store, or a short answer saying what to fix.

The slash command gives two optional text options: `keywords` (comma-separated, any of them) and `author` (one
name). At least one is needed. The same terms however spelled ("LLM, agents" and "agents,llm"; "Jane Smith"
and "Smith, Jane") make one follow: the key the store deduplicates on is built from the normalised terms.
"""

from __future__ import annotations

import json

from bot.catalogue import Follow, NewFollow
from bot.digest.compose import normalise_keywords
from bot.errors import UserInputError
from bot.follows.names import name_key, parse_name

__all__ = ["AUTHOR_MAX_CHARS", "KEYWORD_MAX_CHARS", "MAX_KEYWORDS", "describe_follow", "new_follow", "terms_key"]

MAX_KEYWORDS = 20
KEYWORD_MAX_CHARS = 100
AUTHOR_MAX_CHARS = 100


def _split_keywords(text: str) -> tuple[str, ...]:
    """Comma-separated keywords, trimmed, case-insensitively de-duplicated, in the member's spelling."""
    seen: dict[str, str] = {}
    for raw in text.split(","):
        keyword = " ".join(raw.split())
        if not keyword:
            continue
        if len(keyword) > KEYWORD_MAX_CHARS:
            raise UserInputError(f"A keyword can be at most {KEYWORD_MAX_CHARS} characters long.")
        seen.setdefault(keyword.casefold(), keyword)
    if len(seen) > MAX_KEYWORDS:
        raise UserInputError(f"At most {MAX_KEYWORDS} keywords in one follow, separated by commas.")
    return tuple(seen.values())


def _clean_author(text: str) -> str:
    author = " ".join(text.split())
    if len(author) > AUTHOR_MAX_CHARS:
        raise UserInputError(f"An author's name can be at most {AUTHOR_MAX_CHARS} characters long.")
    name = parse_name(author)
    if name is None or all(word.initial for word in name.surname):
        raise UserInputError("Give the author's surname, like “Jane Smith”, “J. Smith” or “Smith”.")
    return author


def terms_key(keywords: tuple[str, ...], author: str | None) -> str:
    """The follow's identity: its normalised keywords (in any order) and its author's normalised name."""
    return json.dumps([sorted(normalise_keywords(keywords)), name_key(author) if author else ""], ensure_ascii=False)


def new_follow(keywords: str | None, author: str | None) -> NewFollow:
    """The follow a member asked for; UserInputError (a message to show them) when it cannot be followed."""
    words = _split_keywords(keywords or "")
    name = _clean_author(author) if author is not None and author.strip() else None
    if not words and name is None:
        raise UserInputError("Follow keywords (comma-separated), an author, or both — e.g. keywords: diffusion.")
    return NewFollow(keywords=words, author=name, key=terms_key(words, name))


def describe_follow(follow: Follow) -> str:
    """The follow in plain words, e.g. 'author “Jane Smith” · keywords “diffusion”, “robots”'."""
    parts: list[str] = []
    if follow.author:
        parts.append(f"author “{follow.author}”")
    if follow.keywords:
        label = "keyword" if len(follow.keywords) == 1 else "keywords"
        parts.append(f"{label} " + ", ".join(f"“{keyword}”" for keyword in follow.keywords))
    return " · ".join(parts)
