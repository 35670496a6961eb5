"""Which papers a follow matches: the digest's keyword rule (the same function, not a copy), the author rule,
both together, and the batch matcher agreeing with the one-follow rule."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bot.catalogue import Follow, ListEntry
from bot.digest.compose import matches as digest_matches
from bot.follows.matching import FollowHit, Matcher, match_follow
from bot.models import Paper

NOW = dt.datetime(2026, 11, 26, 8, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 25)


def follow(follow_id: int = 1, *keywords: str, author: str | None = None) -> Follow:
    return Follow(follow_id, 1001, None, tuple(keywords), author, "k", NOW)


def paper(n: int, title: str = "A paper", *, authors: tuple[str, ...] = ("Ann Lee",), **fields: object) -> Paper:
    return Paper(id=f"2611.{n:05d}", title=title, authors=authors, **fields)  # type: ignore[arg-type]


def test_keywords_are_alternatives_and_say_which_matched() -> None:
    p = paper(1, "Diffusion policies for robots", abstract="We train robot arms.")
    hit = match_follow(follow(1, "diffusion", "transformer", "robot"), p)
    assert hit == FollowHit(1, ("diffusion", "robot"), None)
    assert hit.labels == ("keyword “diffusion”", "keyword “robot”")
    assert match_follow(follow(1, "transformer"), p) is None


def test_an_author_and_keywords_must_both_match() -> None:
    p = paper(1, "Diffusion policies", authors=("Jane Smith", "Bo Li"))
    assert match_follow(follow(1, author="J. Smith"), p) == FollowHit(1, (), "J. Smith")
    both = match_follow(follow(2, "diffusion", author="Smith, Jane"), p)
    assert both is not None and both.labels == ("author “Smith, Jane”", "keyword “diffusion”")
    assert match_follow(follow(3, "transformer", author="Jane Smith"), p) is None
    assert match_follow(follow(4, "diffusion", author="John Smith"), p) is None


def test_keywords_follow_the_digest_rule_at_word_starts() -> None:
    p = paper(1, "RLHF for world models", ai_keywords=("reward modelling",))
    assert match_follow(follow(1, "RL"), p) is not None  # starts a word
    assert match_follow(follow(1, "orld"), p) is None  # inside a word
    assert match_follow(follow(1, "reward model"), p) is not None  # the AI keywords count too


keyword_text = st.text(alphabet="abcdeRL -", min_size=1, max_size=8)


@given(st.text(alphabet="abcde RL-xy\n", max_size=40), st.text(alphabet="abcde RL-\n", max_size=60), keyword_text)
def test_a_keyword_follow_matches_exactly_where_the_digest_keyword_does(title: str, abstract: str, kw: str) -> None:
    p = paper(1, title, abstract=abstract)
    if not kw.split():
        return  # a blank keyword never reaches a follow (the request refuses it)
    assert (match_follow(follow(1, kw), p) is not None) == digest_matches(p, (kw,))


def _entries() -> list[ListEntry]:
    papers = [
        paper(1, "Diffusion models", authors=("Jane Smith",), upvotes=5),
        paper(2, "Robot diffusion", authors=("Bo Li",), upvotes=50),
        paper(3, "Language agents", authors=("J. Smith", "Ann Lee"), upvotes=20),
        paper(4, "Graph networks", authors=("Ann Lee",), upvotes=None),
    ]
    return [ListEntry(10 + i, DAY, p) for i, p in enumerate(papers)]


def test_a_member_gets_the_new_matches_best_first_each_with_every_follow_that_matched() -> None:
    matcher = Matcher(_entries())
    mine = [follow(1, "diffusion"), follow(2, author="Jane Smith")]
    found = matcher.papers_for(mine, after=0)
    assert [fp.paper.id for fp in found] == ["2611.00002", "2611.00003", "2611.00001"]  # by upvotes
    assert [[h.follow_id for h in fp.hits] for fp in found] == [[1], [2], [1, 2]]
    assert all(fp.list_day == DAY for fp in found)
    # Only entries after the member's position count.
    assert [fp.paper.id for fp in matcher.papers_for(mine, after=11)] == ["2611.00003"]
    assert matcher.papers_for([follow(1, "quantum")], after=0) == []


follows_strategy = st.lists(
    st.builds(
        follow,
        st.integers(1, 9),
        st.sampled_from(("diffusion", "robot", "graph", "agents")),
        author=st.sampled_from((None, "Jane Smith", "A. Lee", "Li, Bo", "John Smith")),
    ),
    max_size=5,
    unique_by=lambda f: f.follow_id,
)


@given(follows_strategy, st.integers(0, 14))
def test_the_batch_matcher_agrees_with_the_one_follow_rule(mine: list[Follow], after: int) -> None:
    entries = _entries()
    matcher = Matcher(entries)
    for _ in range(2):  # the second pass answers from the matcher's caches
        found = {fp.paper.id: fp.hits for fp in matcher.papers_for(mine, after=after)}
        for entry in entries:
            hits = tuple(h for f in mine if (h := match_follow(f, entry.paper)) is not None)
            expected = hits if hits and entry.position > after else None
            assert found.get(entry.paper.id) == expected
