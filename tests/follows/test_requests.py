"""`/paper follow` input → a follow to store: what is refused (with words for the member), and one key for the
same terms however they are written."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.catalogue import Follow
from bot.errors import UserInputError
from bot.follows.requests import MAX_KEYWORDS, describe_follow, new_follow


def test_keywords_are_split_on_commas_trimmed_and_deduplicated() -> None:
    made = new_follow(" diffusion ,  Robot   learning,, DIFFUSION ", None)
    assert made.keywords == ("diffusion", "Robot learning") and made.author is None


def test_an_author_is_kept_as_typed_with_spaces_collapsed() -> None:
    made = new_follow(None, "  Jane   Smith ")
    assert made.author == "Jane Smith" and made.keywords == ()
    assert new_follow("", "Jane Smith") == made


def test_the_same_terms_however_written_have_one_key() -> None:
    keys = {
        new_follow("LLM, agents", "Jane Smith").key,
        new_follow("agents,llm", "Smith, Jane").key,
        new_follow(" Agents , LLM ", "JANE SMITH").key,
    }
    assert len(keys) == 1
    assert new_follow("LLM", None).key != new_follow(None, "LLM").key
    assert new_follow("LLM", "Jane Smith").key != new_follow("LLM", "J. Smith").key


@pytest.mark.parametrize(
    ("keywords", "author", "message"),
    [
        (None, None, "an author, or both"),
        (" , ,", "   ", "an author, or both"),
        ("x" * 101, None, "at most 100 characters"),
        (",".join(f"k{i}" for i in range(MAX_KEYWORDS + 1)), None, f"At most {MAX_KEYWORDS} keywords"),
        (None, "J.", "surname"),
        (None, "...", "surname"),
        (None, "J" * 101, "at most 100 characters"),
    ],
)
def test_unusable_terms_are_refused_in_words(keywords: str | None, author: str | None, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        new_follow(keywords, author)


def test_a_follow_in_plain_words() -> None:
    now = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    assert describe_follow(Follow(1, 2, None, ("diffusion",), None, "k", now)) == "keyword “diffusion”"
    both = Follow(1, 2, None, ("diffusion", "robots"), "Jane Smith", "k", now)
    assert describe_follow(both) == "author “Jane Smith” · keywords “diffusion”, “robots”"
