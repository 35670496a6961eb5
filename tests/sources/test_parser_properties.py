"""Properties of the pure parsers: arbitrary input never escapes as anything but MalformedResponse."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sources._atom import parse_feed
from bot.sources._text import MalformedResponse, collapse, collapse_paragraphs
from bot.sources.huggingface import decode_json, parse_daily_papers

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)
item_keys = st.sampled_from(["paper", "title", "summary", "numComments", "thumbnail", "organization", "mediaUrl"])
paper_keys = st.sampled_from(
    ["id", "title", "summary", "authors", "publishedAt", "upvotes", "githubStars", "ai_keywords", "withdrawnAt"]
)
items = st.dictionaries(
    item_keys,
    st.one_of(json_values, st.dictionaries(paper_keys, json_values | st.just("2401.12345"), max_size=9)),
    max_size=7,
)


@pytest.fixture(autouse=True)
def _quiet_parsers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="bot.sources")


@given(st.lists(items | json_values, max_size=6))
def test_daily_parser_skips_anything_malformed(payload: list[object]) -> None:
    entries = parse_daily_papers(payload, dt.date(2026, 1, 1))
    assert len(entries) <= len(payload)
    assert len({e.paper.id for e in entries}) == len(entries)
    for entry in entries:
        assert entry.paper.title and entry.paper.title == collapse(entry.paper.title)
        assert isinstance(entry.upvotes, int)


@given(json_values)
def test_daily_parser_on_any_json(payload: object) -> None:
    try:
        parse_daily_papers(payload, dt.date(2026, 1, 1))
    except MalformedResponse:
        assert not isinstance(payload, list)


@given(st.binary(max_size=300))
def test_decode_json_only_raises_malformed(body: bytes) -> None:
    with contextlib.suppress(MalformedResponse):
        decode_json(body)


@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: f"<feed>{t}</feed>".encode()))
def test_atom_parser_only_raises_malformed(body: bytes) -> None:
    with contextlib.suppress(MalformedResponse):
        parse_feed(body)


@given(st.text(max_size=300))
def test_collapse_paragraphs_is_idempotent(text: str) -> None:
    once = collapse_paragraphs(text)
    assert collapse_paragraphs(once) == once
    assert collapse(once) == collapse(text)
