"""Discord faults injected for real on the loopback fake Discord: the bot keeps its state right and answers.

The bot is composed as the runtime does (tests/robustness/_discord.py) with a hand-moved clock; the fake
scripts the faults: 429s with Retry-After on message posts and on interaction callbacks and followups, a
gateway disconnect with resume in the middle of a digest, a channel's permissions removed while a digest post
is in flight, and an interaction response that arrives after Discord's 3 s deadline.

Covered elsewhere, not repeated here (tests/digest/test_discord_digest.py): a channel deleted or forbidding the
bot between subscribing and posting (test_a_channel_deleted_after_subscribing_is_marked_failing_and_not_retried,
test_a_channel_that_forbids_posting_after_subscribing_is_marked_failing), and a crash between `posting` and
`posted` (test_crash_between_posting_and_posted_then_restart_completes_the_post_once; also
tests/digest/test_service.py::test_crash_between_posting_and_posted_is_reconciled).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from fake_discord import FakeDiscord, ManualClock, Overwrite, P, ids
from tests.digest.conftest import Clock
from tests.robustness._discord import (
    assert_exactly_one_complete_digest,
    bot_messages,
    digest_parts,
    filled_catalogue,
    serving,
    settings_for,
    step_to,
)

UTC = dt.UTC
START = dt.datetime(2024, 3, 16, 8, 0, tzinfo=UTC)  # the post at 09:00 UTC shows the list of 2024-03-15
POST_DAY = dt.date(2024, 3, 16)
CHANNEL = ids.GENERAL_CHANNEL_ID
CONFIG_CHANNEL = [{"channel_id": CHANNEL, "time": dt.time(9), "timezone": "UTC", "top_n": 14}]
POSTS = "POST /channels/*/messages"


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await filled_catalogue(tmp_path / "papers.db")
    try:
        yield cat
    finally:
        await cat.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        server.assert_clean()


async def _search_still_answers(fake: FakeDiscord, query: str = "diffusion") -> None:
    handle = await fake.slash("paper search", query=query, user_id=ids.MEMBER_USER_ID)
    response = await handle.response()
    assert response.latency < 3.0
    message = await handle.original()
    assert message.embeds and not handle.errors


# ------------------------------------------------------------------------------------------ digest posts


async def test_429s_on_digest_message_posts_are_waited_out_and_the_digest_lands_once(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    clock = Clock(START)
    async with serving(fake, catalogue, clock, settings_for(fake, tmp_path / "x.db", CONFIG_CHANNEL)) as (_, svc):
        fake.rate_limit_next(POSTS, retry_after=0.05, times=3)
        await step_to(clock, svc.scheduler, START.replace(hour=12))

        parts = assert_exactly_one_complete_digest(fake, CHANNEL, POST_DAY)
        posts = fake.requests_to(POSTS)
        assert [r.status for r in posts].count(429) == 3
        assert len([r for r in posts if r.status == 200]) == parts, "every part sent exactly once"
        record = await catalogue.digests.post(CHANNEL, POST_DAY)
        assert record is not None and record.state == "posted"
        await _search_still_answers(fake)


async def test_gateway_disconnect_and_resume_in_the_middle_of_a_digest(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    clock = Clock(START)
    async with serving(fake, catalogue, clock, settings_for(fake, tmp_path / "x.db", CONFIG_CHANNEL)) as (_, svc):
        # Hold the first part behind a rate limit so the digest is provably in flight when the gateway drops.
        fake.rate_limit_next(POSTS, retry_after=0.4, times=1)
        posting = asyncio.create_task(step_to(clock, svc.scheduler, START.replace(hour=12)))
        await fake.wait_for(lambda: any(r.status == 429 for r in fake.requests_to(POSTS)), what="the held post")
        assert not posting.done()
        resumes_before = len(fake.gateway.resumes)
        await fake.gateway.disconnect(code=4000)
        await fake.wait_for(lambda: len(fake.gateway.resumes) > resumes_before, timeout=15, what="a RESUME")
        await posting

        assert_exactly_one_complete_digest(fake, CHANNEL, POST_DAY)
        assert len(fake.gateway.identifies) == 1, "a resumable disconnect must resume, not re-identify"
        # The next day's start-up reconciliation (READY after resume re-runs on_ready hooks) posts nothing more.
        await step_to(clock, svc.scheduler, START.replace(hour=23))
        assert [d for d, _, _ in digest_parts(fake, CHANNEL)].count(POST_DAY) == len(digest_parts(fake, CHANNEL))
        assert_exactly_one_complete_digest(fake, CHANNEL, POST_DAY)
        await _search_still_answers(fake)


async def test_permissions_removed_while_a_digest_post_is_in_flight(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(START)
    caplog.set_level(logging.WARNING)
    async with serving(fake, catalogue, clock, settings_for(fake, tmp_path / "x.db", CONFIG_CHANNEL)) as (_, svc):
        # The first part is held by a 429; while discord.py waits it out, Send Messages is taken away.
        fake.rate_limit_next(POSTS, retry_after=0.3, times=1)
        posting = asyncio.create_task(step_to(clock, svc.scheduler, START.replace(hour=9, minute=1)))
        await fake.wait_for(lambda: any(r.status == 429 for r in fake.requests_to(POSTS)), what="the held post")
        channel = next(c for c in fake.guilds[0].channels if c.id == CHANNEL)
        deny = Overwrite(id=ids.BOT_ROLE_ID, type=0, deny=int(P.SEND_MESSAGES))
        channel.overwrites.append(deny)
        await posting
        sent_before_removal = len(bot_messages(fake, CHANNEL))
        assert sent_before_removal == 0
        assert [r.status for r in fake.requests_to(POSTS)] == [429, 403], "one refusal, then no retry"

        sub = await svc.subscription(CHANNEL)
        assert sub is not None and sub.failing_reason and "50013" in sub.failing_reason
        # Failing means no retry storm: the rest of the day's catch-up runs make no new attempt.
        attempts = len(fake.requests_to(POSTS))
        await step_to(clock, svc.scheduler, START.replace(hour=23, minute=50))
        assert len(fake.requests_to(POSTS)) == attempts
        await _search_still_answers(fake)

        # Permission restored: the next day's post goes out, once, and the channel is no longer failing.
        channel.overwrites.remove(deny)
        await step_to(clock, svc.scheduler, START.replace(day=17, hour=12))
        assert_exactly_one_complete_digest(fake, CHANNEL, POST_DAY + dt.timedelta(days=1))
        sub = await svc.subscription(CHANNEL)
        assert sub is not None and sub.failing_reason is None
        # Nothing of the interrupted day was sent twice.
        day_parts = [(p, t) for d, p, t in digest_parts(fake, CHANNEL) if d == POST_DAY]
        assert len(day_parts) == len(set(day_parts)) == sent_before_removal


# ------------------------------------------------------------------------------------------ interactions


@pytest.mark.parametrize(
    ("route", "times"),
    [
        ("POST /interactions/*/*/callback", 1),
        ("POST /interactions/*/*/callback", 2),
        ("/webhooks/*", 2),  # the followup that turns the "thinking…" message into the answer
    ],
    ids=["callback-once", "callback-twice", "followup"],
)
async def test_429_on_interaction_responses_still_answers_in_time(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path, route: str, times: int
) -> None:
    clock = Clock(START)
    async with serving(fake, catalogue, clock, settings_for(fake, tmp_path / "x.db")):
        fake.rate_limit_next(route, retry_after=0.2, times=times)
        handle = await fake.slash("paper search", query="video generation", user_id=ids.MEMBER_USER_ID)
        response = await handle.response()
        assert response.deferred and response.latency < 3.0
        message = await handle.original()
        assert message.embeds and "video" in message.embeds[0]["description"].lower()
        assert [r.status for r in handle.requests].count(429) == times
        assert not [r for r in handle.errors if r.status != 429]
        await _search_still_answers(fake, "language model")


async def test_an_interaction_answered_after_the_deadline_is_dropped_cleanly_and_the_bot_keeps_answering(
    catalogue: Catalogue, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    manual = ManualClock()
    caplog.set_level(logging.WARNING)
    async with FakeDiscord(clock=manual) as fake:
        clock = Clock(START)
        async with serving(fake, catalogue, clock, settings_for(fake, tmp_path / "x.db")):
            # Discord makes the bot wait (429), and by the time it retries the interaction is 5 s old.
            fake.rate_limit_next("POST /interactions/*/*/callback", retry_after=0.1)
            late = await fake.slash("paper search", query="diffusion", user_id=ids.MEMBER_USER_ID)
            await late.wait_for(lambda: late.requests, what="the first callback attempt")
            manual.advance(5.0)
            rejected = await late.wait_for(
                lambda: [r for r in late.errors if r.code == 10062], what="the late callback to be refused"
            )
            assert rejected
            # The bot gives up on that interaction (no followups against an unknown interaction, no storm)...
            assert late.record.response is None
            # ...and keeps answering the next ones on time.
            await _search_still_answers(fake)
            await _search_still_answers(fake, "language model")
            attempts_for_late = len(late.requests)
            assert attempts_for_late <= 4, [str(r) for r in late.requests]
        fake.assert_clean()


async def test_title_autocomplete_answers_within_3s_while_the_catalogue_reader_is_busy(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    """Under a burst (bench.load: 500 interactions on 50k papers) the read connections are busy for seconds;
    autocomplete cannot defer, so it must answer (even with no suggestions) inside Discord's 3 s or be lost."""
    clock = Clock(START)
    async with serving(fake, catalogue, clock, settings_for(fake, tmp_path / "x.db")):
        # Stands in for the searches a burst queues on the catalogue's one reader thread: a feeder keeps ~1.5 s
        # of 50 ms reads queued (white-box: aiosqlite's own executor hook, so the test does not depend on a big
        # catalogue's timings). Every read of the autocomplete, and any cleanup after cancelling one, waits
        # behind that queue, as it does under real load.
        stop = asyncio.Event()

        async def feeder() -> None:
            queued: list[asyncio.Future[object]] = []
            while not stop.is_set():
                queued = [f for f in queued if not f.done()]
                while len(queued) < 30:
                    for reader in catalogue._db._all[2:]:  # the pooled readers every search uses (not autocomplete's)
                        queued.append(asyncio.ensure_future(reader._execute(time.sleep, 0.05)))  # type: ignore[no-untyped-call]
                await asyncio.sleep(0.01)  # the feeder's pace, not synchronisation
            await asyncio.gather(*queued)

        feeding = asyncio.create_task(feeder())
        try:
            await asyncio.sleep(0.2)  # let the queue fill before the user types
            handle = await fake.autocomplete("paper abstract", "title", title="diffu", user_id=ids.MEMBER_USER_ID)
            await handle.wait_for(lambda: handle.record.response or handle.errors, timeout=10, what="an answer")
            assert not handle.errors, [str(e) for e in handle.errors]
            assert (await handle.response()).latency < 3.0
        finally:
            stop.set()
            await feeding
