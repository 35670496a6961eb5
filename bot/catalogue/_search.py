"""Pure helpers that turn user text into safe FTS5 MATCH expressions.

User text never reaches FTS5 syntax directly: it is cut into plain words and "quoted phrases", each emitted
as a double-quoted FTS5 string (quotes doubled), so operators like NEAR, AND, `*`, `:` or `^` typed by a user
are just words. The only syntax we add ourselves is AND/OR between terms and a trailing `*` for a word the user
ended with `*` (an explicit prefix search).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# Words as FTS5's unicode61 tokenizer sees them: runs of letters, digits and marks.
_TOKEN = re.compile(r"[^\W_]+(?:\*)?|\*", re.UNICODE)
_PHRASE = re.compile(r'"([^"]*)"')
_MAX_TERMS = 32  # a 6000-character query must not become a 6000-term AND: keep the first terms
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Term:
    """One search term: a single word, a phrase of several words, or a word prefix."""

    words: tuple[str, ...]
    prefix: bool = False

    def to_fts(self) -> str:
        """Render as an FTS5 string literal (always quoted, so never parsed as syntax)."""
        body = " ".join(self.words).replace('"', '""')
        return f'"{body}"' + ("*" if self.prefix else "")


def parse_query(text: str) -> list[Term]:
    """Split user text into terms: "quoted phrases" and plain words; a trailing `*` marks a prefix."""
    text = text.replace("\x00", " ")
    terms: list[Term] = []
    seen: set[Term] = set()

    def add(term: Term) -> None:
        if term.words and term not in seen and len(terms) < _MAX_TERMS:
            seen.add(term)
            terms.append(term)

    position = 0
    for match in _PHRASE.finditer(text):
        _add_words(text[position : match.start()], add)
        add(Term(tuple(w.lower() for w in _WORD.findall(match.group(1)))))
        position = match.end()
    _add_words(text[position:], add)
    return terms


def _add_words(chunk: str, add: Callable[[Term], None]) -> None:
    for token in _TOKEN.findall(chunk):
        prefix = token.endswith("*")
        word = token.rstrip("*").lower()
        if word:
            # Single letters as prefixes would match most of the catalogue; treat them as plain words.
            add(Term((word,), prefix=prefix and len(word) >= 2))


def match_all(terms: list[Term]) -> str:
    """An FTS5 expression requiring every term."""
    return " AND ".join(term.to_fts() for term in terms)


def match_any(terms: list[Term]) -> str:
    """An FTS5 expression requiring at least one term."""
    return " OR ".join(term.to_fts() for term in terms)


def autocomplete_match(text: str) -> str | None:
    """Titles containing every typed word, the last one as a prefix (the user is still typing it)."""
    words = [w.lower() for w in _WORD.findall(text.replace("\x00", " "))][:_MAX_TERMS]
    if not words:
        return None
    still_typing = not text[-1:].isspace()
    terms = [Term((w,)) for w in words[:-1]]
    terms.append(Term((words[-1],), prefix=still_typing))
    return match_all(terms)


def normalise_title(title: str) -> str:
    """The key used for exact title lookups: casefolded with whitespace collapsed."""
    return " ".join(title.split()).casefold()
