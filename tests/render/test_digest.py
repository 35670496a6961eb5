"""Digest parts (marker, nonce), weekly recaps, thread names and role pings: pure, within Discord's limits."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import given
from hypothesis import strategies as st

from bot.digest.compose import compose
from bot.models import Paper, RolePing, Subscription
from bot.render import limits
from bot.render.digest import (
    WeeklyRecap,
    digest_nonce,
    parse_marker,
    render,
    render_recap,
    role_ping_line,
    thread_name,
    with_role_pings,
)
from bot.render.specs import MessageSpec, limit_problems, messages_from_json, messages_to_json
from tests.digest.conftest import make_paper

DAY = dt.date(2026, 11, 25)
LOCAL = dt.date(2026, 11, 26)
CHANNEL = 1_400_000_000_000_000_777


def long_papers(n: int) -> list[Paper]:
    return [make_paper(i, title="T" * 400, abstract="word " * 3000, organization="O" * 500) for i in range(n)]


def test_every_part_has_the_nonce_of_its_channel_date_and_part() -> None:
    rendered = render(compose(long_papers(25), Subscription(channel_id=CHANNEL, top_n=25), DAY), LOCAL)
    assert len(rendered.messages) >= 3
    for message in rendered.messages:
        assert message.nonce == digest_nonce(CHANNEL, LOCAL, message.part)
        assert limit_problems(message) == []
    assert len({m.nonce for m in rendered.messages}) == len(rendered.messages)
    # Rendering again (a restart, another process) gives the very same nonces: Discord can deduplicate.
    again = render(compose(long_papers(25), Subscription(channel_id=CHANNEL, top_n=25), DAY), LOCAL)
    assert [m.nonce for m in again.messages] == [m.nonce for m in rendered.messages]


@given(
    st.integers(1, 2**64 - 1),
    st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)),
    st.integers(1, 50),
)
def test_nonces_are_short_and_differ_by_channel_date_and_part(channel: int, day: dt.date, part: int) -> None:
    nonce = digest_nonce(channel, day, part)
    assert len(nonce) <= limits.NONCE_MAX and nonce.isascii()
    assert nonce == digest_nonce(channel, day, part)
    others = {digest_nonce(channel + 1, day, part), digest_nonce(channel, day + dt.timedelta(days=1), part)}
    others.add(digest_nonce(channel, day, part + 1))
    assert nonce not in others


def test_payloads_round_trip_and_old_records_still_load() -> None:
    rendered = render(compose([make_paper(1), make_paper(2)], Subscription(channel_id=CHANNEL), DAY), LOCAL)
    assert messages_from_json(messages_to_json(rendered.messages)) == rendered.messages
    # A 'posting' record written before nonces, fields and buttons existed.
    old = json.dumps(
        [{"embeds": [{"title": "t", "url": None, "description": "d", "author": None, "thumbnail": None,
                      "footer": "paperbot digest 2026-11-26 · 1/1", "color": 16765470}],
          "content": None, "part": 1, "parts": 1}]
    )  # fmt: skip
    [message] = messages_from_json(old)
    assert message.nonce is None and message.embeds[0].fields == () and message.embeds[0].title == "t"
    assert parse_marker(message.embeds[0].footer or "") == (LOCAL, 1, 1)


def test_weekly_recap_is_marked_numbered_and_within_limits() -> None:
    recap = WeeklyRecap(
        first_day=dt.date(2026, 11, 16), last_day=dt.date(2026, 11, 22), papers=tuple(long_papers(25)), total_listed=80
    )
    rendered = render_recap(recap, CHANNEL, LOCAL)
    header = rendered.messages[0].embeds[0]
    assert header.title == "Hugging Face Daily Papers — week 2026-11-16 – 2026-11-22"
    assert "The 25 most upvoted of 80 papers" in (header.description or "")
    parts = [parse_marker(m.embeds[-1].footer or "") for m in rendered.messages]
    assert parts == [(LOCAL, i, len(parts)) for i in range(1, len(parts) + 1)]
    assert all(limit_problems(m) == [] for m in rendered.messages)
    # Never the nonce of that day's daily post: Discord would answer the recap with the daily message.
    assert (
        rendered.messages[0].nonce == digest_nonce(CHANNEL, LOCAL, 1, kind="weekly") != digest_nonce(CHANNEL, LOCAL, 1)
    )
    empty = render_recap(WeeklyRecap(recap.first_day, recap.last_day, (), 0), CHANNEL, LOCAL)
    assert "No papers were listed" in (empty.messages[0].embeds[0].description or "")


@given(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)), st.booleans())
def test_thread_names_fit(day: dt.date, weekly: bool) -> None:
    name = thread_name(day, weekly=weekly)
    assert 1 <= len(name) <= limits.THREAD_NAME_MAX and "\n" not in name
    assert day.isoformat() in name or str(day.year) in name


def test_thread_name_reads_well() -> None:
    assert thread_name(dt.date(2026, 10, 24)) == "Daily Papers — Saturday 24 October 2026"


def test_role_pings_mention_exactly_the_matched_roles() -> None:
    pings = [RolePing(11, ("robots",)), RolePing(22, ("diffusion", "robots")), RolePing(11, ("*arms*",))]
    line = role_ping_line(pings)
    assert line == "<@&11> <@&22> — papers on robots, diffusion, \\*arms\\*"
    message = with_role_pings(MessageSpec(content="intro"), pings)
    assert message.allowed_role_ids == (11, 22)
    assert message.content == f"{line}\nintro"
    assert role_ping_line([]) is None
    untouched = MessageSpec(content="x")
    assert with_role_pings(untouched, []) is untouched


def test_hundreds_of_roles_still_fit_and_allow_only_those_mentioned() -> None:
    pings = [RolePing(1_500_000_000_000_000_000 + i, ("k" * 90,)) for i in range(300)]
    message = with_role_pings(MessageSpec(content="intro"), pings)
    assert message.content is not None and len(message.content) <= limits.CONTENT_MAX
    assert message.content.endswith(">") or message.content.endswith("…") or message.content.endswith("intro")
    mentioned = [int(t[3:-1]) for t in message.content.split() if t.startswith("<@&") and t.endswith(">")]
    assert tuple(mentioned) == message.allowed_role_ids and 0 < len(mentioned) < 300
