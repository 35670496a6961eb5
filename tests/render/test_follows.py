"""The follow DM fits Discord's limits however many papers matched, links every paper, and pings nobody."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.render.follows import DM_PAPERS_MAX, FollowMatch, follow_dm, follow_nonce, parse_follow_marker
from bot.render.specs import limit_problems
from tests.render.test_papers import papers as any_papers

SINCE, UNTIL = dt.date(2026, 10, 23), dt.date(2026, 10, 24)
USER = 1_300_000_000_000_000_004
_LIVE = re.compile(r"(?<!\u200b)@(everyone|here)|<@[!&]?\d+>")


def text_of(messages: tuple[object, ...]) -> str:
    return "\n".join(e.description or "" for m in messages for e in m.embeds)  # type: ignore[attr-defined]


def test_nothing_matched_means_no_dm() -> None:
    assert follow_dm([], user_id=USER, dm_date=UNTIL, since=SINCE, until=UNTIL) == ()


def test_one_paper_with_its_link_and_why() -> None:
    paper = Paper(id="2410.00001", title="Diffusion for robots", authors=("Ann", "Bo"), upvotes=12)
    [message] = follow_dm(
        [FollowMatch(paper, ('keyword "diffusion"',))], user_id=USER, dm_date=UNTIL, since=SINCE, until=UNTIL
    )
    head = message.embeds[0]
    assert head.title == "Papers for your follows — 1 new paper since 2026-10-23"
    assert "[Diffusion for robots](https://huggingface.co/papers/2410.00001)" in (head.description or "")
    assert "▲ 12 · Ann et al." in (head.description or "") and '↳ keyword "diffusion"' in (head.description or "")
    assert "/paper unfollow" in (message.embeds[-1].footer or "")
    assert message.allowed_role_ids == ()


def test_a_thousand_long_papers_fit_and_the_rest_are_counted() -> None:
    matches = [
        FollowMatch(
            Paper(id=f"2410.{i:05d}", title="A very long title " * 20, authors=("@everyone",) * 50, upvotes=i),
            ("author “Yann LeCun”", "keyword " + "x" * 200),
        )
        for i in range(1000)
    ]
    messages = follow_dm(matches, user_id=USER, dm_date=UNTIL, since=None, until=UNTIL)
    for message in messages:
        assert limit_problems(message) == []
    # Every message is marked and carries its nonce, so a DM sent again after a failure part-way is safe.
    markers = [parse_follow_marker(m.embeds[-1].footer or "") for m in messages]
    assert markers == [(UNTIL, i, len(messages)) for i in range(1, len(messages) + 1)]
    assert [m.nonce for m in messages] == [follow_nonce(USER, UNTIL, i) for i in range(1, len(messages) + 1)]
    text = text_of(messages)
    assert text.count("](https://huggingface.co/papers/") == DM_PAPERS_MAX
    assert f"… and {1000 - DM_PAPERS_MAX} more" in text
    assert "1000 new papers up to 2026-10-24" in (messages[0].embeds[0].title or "")
    assert not _LIVE.search(text)


@settings(max_examples=40)
@given(st.lists(any_papers(light=True), max_size=60))
def test_any_papers_fit(found: list[Paper]) -> None:
    messages = follow_dm(
        [FollowMatch(p, ("keyword “x”",)) for p in found], user_id=USER, dm_date=UNTIL, since=SINCE, until=UNTIL
    )
    assert (messages == ()) == (not found)
    for message in messages:
        assert limit_problems(message) == []
    text = text_of(messages)
    for paper in found[:DM_PAPERS_MAX]:
        assert f"]({paper.url})" in text
    assert not _LIVE.search(text)
