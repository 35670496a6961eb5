"""One-typo correction for search text ("did you mean …"); pure: the index is asked through a callback.

A word the index has never seen (document frequency 0) and that is long enough to be a real word is replaced
by its most frequent neighbour at one edit — a letter dropped, added, changed, or two neighbours swapped
(Damerau distance 1, which covers most real typing slips). Known words are never changed, however rare: a
rare real word ("grokked") must not become a common one. Short words (< 4 letters) and numbers are left
alone: at one edit from almost everything, they would be "corrected" at random.

How the keyword index plugs in (tantivy): `document_frequency` is `searcher.doc_freq(Term)` summed over the
searched fields (title, abstract) — a microsecond each, and a 10-letter word has ~550 candidates, so a
correction costs about a millisecond. Run it only when the query found nothing or only any-word matches, then
search again with the corrected text and show the "did you mean" line. `tantivy.Query.fuzzy_term_query(schema,
field, word, distance=1, transposition_cost_one=True)` finds the same papers in one query, but cannot say
which spelling matched, so it is the fallback for recall (e.g. autocomplete's title prefix), not for the
message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["Correction", "correct_query", "correct_word", "known_words", "one_edit_candidates"]

MIN_LENGTH = 4
# Longer "words" are never corrected: no real word is that long (the keyword index's tokenizer drops tokens over
# 40 bytes, so none is indexed), and a word of n letters has ~72n candidates of n letters each — a 6,000-letter
# paste would build gigabytes of them.
MAX_LENGTH = 40
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

DocumentFrequency = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Correction:
    """A corrected query: the new text and each (typed, corrected) word pair, in query order."""

    text: str
    changes: tuple[tuple[str, str], ...]


def one_edit_candidates(word: str) -> set[str]:
    """Every string at Damerau–Levenshtein distance 1 from `word` over a–z, 0–9 (the word itself excluded)."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return (deletes | swaps | replaces | inserts) - {word, ""}


def _correctable(word: str) -> bool:
    return MIN_LENGTH <= len(word) <= MAX_LENGTH and not word.isdigit() and any(ch.isalpha() for ch in word)


def correct_word(word: str, document_frequency: DocumentFrequency) -> str | None:
    """The most frequent indexed word one edit away from an unknown `word`; None if known or nothing fits.

    Ties go to the alphabetically first candidate, so the answer is stable.
    """
    word = word.lower()
    if not _correctable(word) or document_frequency(word) > 0:
        return None
    best: tuple[int, str] | None = None
    for candidate in one_edit_candidates(word):
        frequency = document_frequency(candidate)
        if frequency > 0 and (best is None or (-frequency, candidate) < (-best[0], best[1])):
            best = (frequency, candidate)
    return best[1] if best else None


def correct_query(text: str, document_frequency: DocumentFrequency, *, max_words: int = 8) -> Correction | None:
    """Correct every unknown word of `text` (at most `max_words` are tried); None when nothing changed.

    The rest of the text — other words, punctuation, quotes, field syntax — is kept exactly as typed.
    """
    changes: list[tuple[str, str]] = []
    pieces: list[str] = []
    position = 0
    tried = 0
    for match in _WORD.finditer(text):
        word = match.group(0)
        replacement: str | None = None
        if tried < max_words and _correctable(word.lower()):
            tried += 1
            replacement = correct_word(word, document_frequency)
        if replacement is not None:
            pieces.append(text[position : match.start()])
            pieces.append(replacement)
            position = match.end()
            changes.append((word, replacement))
    if not changes:
        return None
    pieces.append(text[position:])
    return Correction(text="".join(pieces), changes=tuple(changes))


def known_words(words: Sequence[str], document_frequency: DocumentFrequency) -> list[bool]:
    """Which of `words` the index has (for deciding whether a correction is worth trying)."""
    return [document_frequency(w.lower()) > 0 for w in words]
