"""The author-name rule: accents, case, initials, name order, particles and double surnames — by example, and
by property over generated names."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.follows.names import author_matches, name_key, parse_name


@pytest.mark.parametrize(
    ("followed", "author"),
    [
        ("J. Smith", "Jane Smith"),
        ("Jane Smith", "Jane Smith"),
        ("Smith, J.", "Jane Smith"),
        ("J Smith", "Jane Smith"),
        ("Smith J", "Jane Smith"),
        ("jane smith", "JANE SMITH"),
        ("Jane Smith", "J. Smith"),  # the paper lists only the initial
        ("Smith", "Jane Smith"),  # a surname alone follows every Smith
        ("Jane Smith", "Jane Q. Smith"),  # a middle name on the paper does not matter
        ("Jürgen Schmidhuber", "Jurgen Schmidhuber"),
        ("Jurgen Schmidhuber", "Jürgen Schmidhuber"),
        ("Søren Kierkegaard", "Soren Kierkegaard"),
        ("Łukasz Kaiser", "Lukasz Kaiser"),
        ("Conor O'Brien", "Conor O’Brien"),
        ("Jane van der Berg", "Jane Berg"),
        ("van der Berg", "Jane van der Berg"),
        ("J. van der Berg", "Jane van der Berg"),
        ("Berg, Jane van der", "J. van der Berg"),
        ("Ludwig van Beethoven", "L. Beethoven"),
        ("Quoc Le", "Quoc V. Le"),  # "Le" as the surname is not a particle
        ("Van Nguyen", "Van Nguyen"),  # nor "Van" as a first name
        ("M. García", "María García-López"),
        ("García-López", "María García López"),
        ("J.-P. Sartre", "Jean-Paul Sartre"),
        ("Jean-Paul Sartre", "J.-P. Sartre"),
        ("John Smith Jr.", "John Smith"),
        ("Smith, John, Jr.", "John Smith"),
    ],
)
def test_names_that_match(followed: str, author: str) -> None:
    assert author_matches(followed, [author])


@pytest.mark.parametrize(
    ("followed", "author"),
    [
        ("John Smith", "Jane Smith"),
        ("Jane Smith", "John Smith"),
        ("J. Smith", "Anna Smith"),
        ("Jane Smith", "Jane Smithson"),
        ("Jane Smith", "Smith Jane"),  # no comma, no initial: "Jane" is the surname here
        ("Van Nguyen", "Minh Nguyen"),
        ("Jean-Paul Sartre", "Jean Sartre"),
        ("M. Garcia", "Maria Garcia Lopez"),  # unhyphenated double surname: the last part is the surname
        ("J.", "Jane Smith"),  # an initial is no surname
        ("", "Jane Smith"),
        ("...", "Jane Smith"),
    ],
)
def test_names_that_do_not_match(followed: str, author: str) -> None:
    assert not author_matches(followed, [author])


def test_any_author_of_the_paper_will_do() -> None:
    assert author_matches("G. Hinton", ["Yann LeCun", "Geoffrey E. Hinton", "Yoshua Bengio"])
    assert not author_matches("G. Hinton", [])


def test_fifty_initials_are_answered_at_once() -> None:
    # Trying every assignment of words would take forever here; the matching is polynomial.
    assert not author_matches("A " * 40 + "B Xu", ["a " * 60 + "xu"])
    assert author_matches("A " * 40 + "Xu", ["a " * 60 + "xu"])


def test_one_key_for_every_spelling_of_a_name() -> None:
    keys = {name_key(n) for n in ("Jane Smith", "Smith, Jane", "JANE  SMITH", "Jane Smith Jr.", "Smith , Jane")}
    assert keys == {"jane / smith"}
    assert name_key("Jürgen Schmidhuber") == name_key("jurgen schmidhuber")
    assert name_key("J. Smith") != name_key("Jane Smith") and name_key("!!") == ""


# ---- properties ------------------------------------------------------------------------------------------------

_PARTICLES_AND_SUFFIXES = {"van", "von", "der", "den", "de", "del", "della", "dei", "degli", "di", "da", "das", "dos"}
_PARTICLES_AND_SUFFIXES |= {"du", "la", "le", "lo", "ter", "ten", "te", "zu", "zur", "af", "av", "bin", "ibn", "al"}
_PARTICLES_AND_SUFFIXES |= {"el", "y", "e", "jr", "sr", "ii", "iii", "iv"}
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=9).filter(
    lambda w: w not in _PARTICLES_AND_SUFFIXES
)
MARKS = ("\u0301", "\u0308", "\u0300", "\u0327", "\u030c")  # acute, diaeresis, grave, cedilla, caron


def capitalised(word: str) -> str:
    return word[:1].upper() + word[1:]


@st.composite
def accented(draw: st.DrawFn, word: str) -> str:
    """The word with accents on some letters and some letters upper-cased (composed, as typed)."""
    out = []
    for ch in word:
        mark = draw(st.sampled_from(("", *MARKS)))
        upper = draw(st.booleans())
        out.append((ch.upper() if upper else ch) + mark)
    return unicodedata.normalize("NFC", "".join(out))


@given(words, st.lists(words, max_size=2), words)
def test_every_usual_spelling_matches_the_full_name(first: str, middle: list[str], surname: str) -> None:
    author = " ".join(capitalised(w) for w in (first, *middle, surname))
    initial = first[0].upper()
    for followed in (
        f"{capitalised(first)} {capitalised(surname)}",
        f"{initial}. {capitalised(surname)}",
        f"{initial} {capitalised(surname)}",
        f"{capitalised(surname)}, {initial}.",
        f"{capitalised(surname)}, {capitalised(first)}",
        f"{capitalised(surname)} {initial}",
        capitalised(surname),
        author.upper(),
    ):
        assert author_matches(followed, [author]), followed


@given(st.data(), words, words)
def test_accents_and_case_never_matter(data: st.DataObject, first: str, surname: str) -> None:
    plain = f"{first} {surname}"
    fancy = f"{data.draw(accented(first))} {data.draw(accented(surname))}"
    assert author_matches(plain, [fancy]) and author_matches(fancy, [plain])
    assert name_key(plain) == name_key(fancy)


@given(words, words, words)
def test_a_different_given_name_is_a_different_person(mine: str, theirs: str, surname: str) -> None:
    assume(mine[0] != theirs[0])
    assert not author_matches(f"{mine} {surname}", [f"{theirs} {surname}"])
    assert not author_matches(f"{mine[0]}. {surname}", [f"{theirs} {surname}"])


@given(words, words, words)
def test_a_different_surname_is_a_different_person(first: str, mine: str, theirs: str) -> None:
    assume(mine != theirs)
    assert not author_matches(f"{first} {mine}", [f"{first} {theirs}"])


@given(st.text(max_size=60), st.lists(st.text(max_size=60), max_size=5))
def test_any_text_gets_an_answer(followed: str, authors: list[str]) -> None:
    assert isinstance(author_matches(followed, authors), bool)
    assert isinstance(name_key(followed), str)
    parse_name(followed)
