"""Pure helpers that cut user search text into terms: plain words, "quoted phrases" and `word*` prefixes.

User text never reaches a query parser: the search index builds its query term by term from these, so
operators like NEAR, AND, `:` or `^` typed by a user are just words.
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
