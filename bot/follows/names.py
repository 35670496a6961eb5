"""Whether an author followed by name wrote a paper: tolerant of accents, case, initials and name order.

The rule, in full:

1. **Spelling.** Names are compared after Unicode NFKD with the combining marks removed, case folding, and the
   letters NFKD does not decompose written plainly (ø→o, ł→l, đ→d, æ→ae, œ→oe, ß→ss, …): "Jürgen Schmidhuber",
   "JURGEN SCHMIDHUBER" and "Jurgen Schmidhuber" are one name. Apostrophes vanish (O'Brien = OBrien) and
   periods, hyphens and spaces separate words.
2. **Given names and surname.** "Surname, Given names" when the name has a comma (a trailing "Jr.", "II", …
   is dropped); "Smith J" (a single letter last) is surname first too; otherwise the last word is the
   surname. A hyphenated surname is all of its parts ("García-Márquez"). A single letter, with or without a
   period, is an initial ("J. Smith", "J Smith", "J.-P. Sartre").
3. **Particles** (van, der, de, von, da, di, le, …) inside a name are optional: "Jane van der Berg" is also
   "Jane Berg" and "J. van der Berg". As a name's first word ("Van Nguyen") or its surname ("Quoc V. Le") a
   particle is an ordinary word.
4. **Matching.** A followed name matches an author when the followed surname shares a word with the author's
   surname, and every other word of the followed name pairs with a different word of the author's name:
   a full word with the same word or with its initial, an initial with any word that starts with it.
   Words of the author's name left over (middle names, the other half of a double surname) do not matter.

So "J. Smith", "Jane Smith", "Smith, J." and "J Smith" all match the author "Jane Smith" (and "Jane Smith"
matches an author listed as "J. Smith"), while "John Smith" does not match "Jane Smith". "M. García" matches
"María García-López" but not "María García López" written without the hyphen: for an unhyphenated double
surname, follow the last part or the whole name. Following a surname alone ("Smith") follows every Smith.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Name", "author_matches", "name_key", "parse_name", "surname_words"]

# Letters NFKD leaves whole, written the way an English keyboard user would type them.
_PLAIN = str.maketrans(
    {"ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "æ": "ae", "œ": "oe", "ı": "i", "ħ": "h", "ŀ": "l"}
)
_APOSTROPHES = ("'", "’", "ʼ", "`", "´")
_DASHES = ("-", "‐", "‑", "‒", "–", "—", "―")
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "dei", "degli", "di", "da", "das", "dos", "du", "la", "le"}
    | {"lo", "ter", "ten", "te", "zu", "zur", "af", "av", "bin", "ibn", "al", "el", "y", "e"}
)
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a name, spelled plainly; an initial is a single letter."""

    text: str
    optional: bool = False  # a particle inside the name: may be left unpaired

    @property
    def initial(self) -> bool:
        """Whether the word is only an initial."""
        return len(self.text) == 1


@dataclass(frozen=True, slots=True)
class Name:
    """A name split into given words and surname words (particles marked optional)."""

    given: tuple[Word, ...]
    surname: tuple[Word, ...]

    @property
    def words(self) -> tuple[Word, ...]:
        """Every word, given names first."""
        return self.given + self.surname


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold().translate(_PLAIN)


def _words(raw: str) -> list[list[str]]:
    """The words of a part of a name, grouped by the whitespace token they came from ("García-Márquez" is one
    token of two words), spelled plainly, without punctuation."""
    for apostrophe in _APOSTROPHES:
        raw = raw.replace(apostrophe, "")
    for dash in _DASHES:
        raw = raw.replace(dash, "-")
    tokens: list[list[str]] = []
    for token in raw.replace(".", ". ").split():
        pieces = ["".join(ch for ch in _plain(piece) if ch.isalnum()) for piece in token.split("-")]
        pieces = [piece for piece in pieces if piece]
        if pieces:
            tokens.append(pieces)
    return tokens


def _given(tokens: Iterable[list[str]], *, first_is_given_start: bool) -> tuple[Word, ...]:
    words: list[Word] = []
    for token in tokens:
        for piece in token:
            leading = first_is_given_start and not words
            words.append(Word(piece, optional=piece in _PARTICLES and not leading))
    return tuple(words)


def _surname(tokens: Sequence[list[str]]) -> tuple[Word, ...]:
    flat = [piece for token in tokens for piece in token]
    core = [piece for piece in flat if piece not in _PARTICLES]
    # A surname that is only particles ("Le", "Da") is an ordinary surname.
    return tuple(Word(piece) for piece in (core or flat))


@lru_cache(maxsize=65_536)
def parse_name(text: str) -> Name | None:
    """Split a name into given words and surname words by the module's rule; None when it has no letters."""
    if "," in text:
        parts = [part for part in text.split(",") if _words(part)]
        while len(parts) > 1 and all(p in _SUFFIXES for token in _words(parts[-1]) for p in token):
            parts.pop()
        if len(parts) >= 2:
            surname = _surname(_words(parts[0]))
            given = _given((t for part in parts[1:] for t in _words(part)), first_is_given_start=True)
            return Name(given, surname) if surname else None
        text = " ".join(parts)
    tokens = _words(text)
    while len(tokens) > 1 and all(piece in _SUFFIXES for piece in tokens[-1]):
        tokens.pop()
    if not tokens:
        return None
    if len(tokens) > 1 and len(tokens[-1]) == 1 and len(tokens[-1][0]) == 1 and len(tokens[0][0]) > 1:
        # "Smith J", "Smith J A": written surname first, initials last.
        split = next(i for i in range(len(tokens)) if all(len(piece) == 1 for token in tokens[i:] for piece in token))
        return Name(_given(tokens[split:], first_is_given_start=True), _surname(tokens[:split]))
    return Name(_given(tokens[:-1], first_is_given_start=True), _surname(tokens[-1:]))


def name_key(text: str) -> str:
    """One spelling for every way of writing the same name ("Smith, Jane" and "JANE SMITH" agree), or ""."""
    name = parse_name(text)
    if name is None:
        return ""
    return " ".join(w.text for w in name.given) + " / " + " ".join(w.text for w in name.surname)


def surname_words(text: str) -> frozenset[str]:
    """The full surname words of a name: a followed name can only match an author sharing one of them (rule 4),
    so an index of authors by these words finds every candidate."""
    name = parse_name(text)
    return frozenset(w.text for w in name.surname if not w.initial) if name is not None else frozenset()


def _pairs(followed: Word, author: Word) -> bool:
    if followed.initial or author.initial:
        return followed.text[0] == author.text[0]
    return followed.text == author.text


def _all_paired(followed: Sequence[Word], author: Sequence[Word], taken: int) -> bool:
    """Whether every followed word can pair with a different author word, author word `taken` excluded.

    A bipartite matching (Kuhn's augmenting paths): polynomial, so a name of fifty initials cannot make it
    explode the way trying every assignment would.
    """
    owner: dict[int, int] = {taken: -1}  # author word index -> followed word index holding it

    def place(index: int, seen: set[int]) -> bool:
        for candidate, word in enumerate(author):
            if candidate in seen or not _pairs(followed[index], word):
                continue
            seen.add(candidate)
            holder = owner.get(candidate)
            if holder is None or (holder >= 0 and place(holder, seen)):
                owner[candidate] = index
                return True
        return False

    return all(place(index, set()) for index in range(len(followed)))


@lru_cache(maxsize=262_144)
def _name_matches(followed: Name, author: Name) -> bool:
    author_words = author.words
    offset = len(author.given)
    for s_index, s_word in enumerate(followed.surname):
        # Particles inside the followed name may stay unpaired, so only the other words need a partner.
        rest = [
            w for w in followed.given + followed.surname[:s_index] + followed.surname[s_index + 1 :] if not w.optional
        ]
        for a_index, a_word in enumerate(author.surname):
            # The anchor: a followed surname word equal, in full, to one of the author's surname words.
            if s_word.initial or a_word.initial or s_word.text != a_word.text:
                continue
            if _all_paired(rest, author_words, offset + a_index):
                return True
    return False


def author_matches(followed: str, authors: Sequence[str]) -> bool:
    """Whether the name `followed` matches any of `authors` by the module's rule."""
    wanted = parse_name(followed)
    if wanted is None:
        return False
    for author in authors:
        name = parse_name(author)
        if name is not None and _name_matches(wanted, name):
            return True
    return False
