"""The fan-out benchmark at a tiny size: it runs end to end through the fake Discord and the real client, and
its results and table have the promised shape. Nothing here is timed or compared (`python -m bench.fanout`)."""

from __future__ import annotations

import argparse

import pytest

from bench.fanout import digest_messages, parse_strategy, render_table, run

POSTS = 60


def test_posts_are_shaped_like_real_digests() -> None:
    post = digest_messages()
    assert len(post) == 2  # header + 10 papers = 11 embeds: over Discord's 10 per message
    assert sum(len(m.embeds) for m in post) == 11
    assert all(len(m.embeds) <= 10 and m.size() <= 6000 for m in post)
    assert [m.part for m in post] == [1, 2]
    assert len(digest_messages(top_n=9)) == 1  # one paper fewer fits one message: half the requests


def test_strategies_parse() -> None:
    assert parse_strategy("unbounded", paced_cap=50).cap is None
    assert parse_strategy("cap 25", paced_cap=50).cap == 25
    paced = parse_strategy("paced 45", paced_cap=50)
    assert (paced.name, paced.rate, paced.cap) == ("paced 45/s", 45.0, 50)
    for bad in ("cap", "cap 0", "paced -1", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_strategy(bad, paced_cap=50)


async def test_fanout_smoke_shape() -> None:
    strategies = [parse_strategy(s, paced_cap=50) for s in ("cap 10", "paced 45")]
    results = await run(POSTS, strategies, rtt_ms=0)
    assert results["posts"] == POSTS and results["parts"] == 2 and results["global_limit"] == 50
    assert [o["strategy"] for o in results["outcomes"]] == ["cap 10", "paced 45/s"]
    for outcome in results["outcomes"]:
        # Every post either landed whole or was counted as given up; what the fake holds agrees.
        assert outcome["posted"] + outcome["gave_up"] == POSTS
        assert outcome["duplicates"] == 0
        assert outcome["messages"] >= outcome["posted"] * results["parts"]
        assert outcome["requests"] >= outcome["messages"]  # 429'd attempts are requests too
        assert outcome["peak_in_flight"] <= (outcome["cap"] or POSTS)
        assert outcome["answer_s"]["p50"] is not None  # the exempt-route probe ran
    paced = results["outcomes"][1]
    assert paced["posted"] == POSTS and paced["partial"] == 0
    table = render_table(results)
    for heading in ("strategy", "posted", "gave up", "429 g/r", "msg/s", "post/s", "answer p50/max s", "vs best"):
        assert heading in table
    assert "recommended:" in table and f"{POSTS} posts due at once, 2 messages each" in table
