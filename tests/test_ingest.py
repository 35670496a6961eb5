"""Ingest end to end: real HTTP to a loopback server serving the recorded fixtures, into a real SQLite file."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import Catalogue, open_catalogue
from bot.config import Settings, load_settings
from bot.ingest import DayReport, default_days, ingest_day, ingest_range
from bot.search import open_search
from bot.sources import RetryPolicy, Sources, open_sources
from tests.fixture_server import Fault, FixtureServer

FIRST, LAST = dt.date(2024, 3, 13), dt.date(2024, 5, 31)


class Sleeps:
    """Records requested backoff sleeps instead of waiting them out."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def settings(fixture_server: FixtureServer, tmp_path: Path) -> Settings:
    env = fixture_server.environ() | {"PAPERBOT_DATABASE__PATH": str(tmp_path / "papers.db")}
    return load_settings(environ=env)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def sources(settings: Settings, sleeps: Sleeps) -> AsyncIterator[Sources]:
    policy = RetryPolicy(timeout_s=2.0, deadline_s=20.0, backoff_base_s=0.01)
    async with open_sources(settings, policy=policy, sleep=sleeps) as opened:
        yield opened


@pytest.fixture
async def catalogue(settings: Settings) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(settings.database.path)
    yield cat
    await cat.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_range_fills_catalogue_from_every_fixture_day(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    days_seen: list[dt.date] = []
    report = await ingest_range(FIRST, LAST, catalogue, sources, on_day=lambda r: days_seen.append(r.day))
    assert not report.failed and report.aborted is None
    assert days_seen == [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    stats = await catalogue.stats()
    recorded = [d for d in fixture_server.days if FIRST <= d <= LAST]
    assert stats.days == len(recorded)
    for day in recorded:
        assert {p.id for p in await catalogue.day_papers(day)} == {
            item["paper"]["id"] for item in fixture_server.day_items(day)
        }
    assert not fixture_server.requests_to("/api/query"), "ingest must read Hugging Face only"
    async with open_search(catalogue, Path(catalogue.location + ".index"), role="cli") as search:
        found = await search.search("video generation")
    assert found.papers and "video" in found.papers[0].title.lower()


async def test_reingest_is_idempotent(catalogue: Catalogue, sources: Sources) -> None:
    await ingest_range(FIRST, LAST, catalogue, sources)
    await catalogue.close()
    before = _digest(catalogue.path)
    again = await open_catalogue(catalogue.path)
    try:
        report = await ingest_range(FIRST, LAST, again, sources, refetch=True)  # every day asked again
        assert report.added == 0 and not report.skipped
        assert all(r.change is not None and r.change.papers_changed == 0 for r in report.days)
    finally:
        await again.close()
    # An identical response writes nothing: the database file is byte-for-byte the same after checkpoint.
    assert _digest(catalogue.path) == before


async def test_later_fetch_adds_papers_and_updates_upvotes(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    day = dt.date(2024, 3, 15)
    items = fixture_server.day_items(day)
    fixture_server.set_day(day, items[:5])
    assert (await ingest_day(day, catalogue, sources)).listed == 5
    bumped = [dict(item, paper=dict(item["paper"], upvotes=item["paper"]["upvotes"] + 100)) for item in items]
    fixture_server.set_day(day, bumped)
    change = await ingest_day(day, catalogue, sources)
    assert change.added == len(items) - 5
    stored = await catalogue.day_papers(day)
    assert len(stored) == len(items)
    assert all((p.upvotes or 0) >= 100 for p in stored)


async def test_malformed_items_are_skipped_and_the_rest_lands(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    day = dt.date(2024, 3, 18)
    items = fixture_server.day_items(day)
    broken = [{"paper": {"title": "no id"}}, {"paper": None}, "not an object", {"paper": {"id": 5, "title": []}}]
    fixture_server.set_day(day, [*broken, *items])
    change = await ingest_day(day, catalogue, sources)
    assert change.listed == len(items)


async def test_retries_500_then_succeeds(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources, sleeps: Sleeps
) -> None:
    fixture_server.fail_next("/api/daily_papers", [500, 503])
    change = await ingest_day(FIRST, catalogue, sources)
    assert change.listed > 0
    assert len(sleeps.calls) == 2


async def test_429_retry_after_is_honoured(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources, sleeps: Sleeps
) -> None:
    fixture_server.fail_next("/api/daily_papers", [Fault.retry_after(7)])
    change = await ingest_day(FIRST, catalogue, sources)
    assert change.listed > 0
    assert any(6.5 <= s <= 7.5 for s in sleeps.calls), sleeps.calls


@pytest.mark.parametrize("fault", [Fault.html(), Fault.truncated_json(), Fault.object_not_list()])
async def test_unusable_body_fails_that_day_only(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources, fault: Fault
) -> None:
    await ingest_day(FIRST, catalogue, sources)
    before = await catalogue.stats()
    fixture_server.fail_next("/api/daily_papers", [fault])
    report = await ingest_range(dt.date(2024, 3, 15), dt.date(2024, 3, 15), catalogue, sources)
    assert len(report.failed) == 1
    error = report.failed[0].error
    assert error is not None and error.source == "huggingface"
    assert (await catalogue.stats()).papers == before.papers
    report = await ingest_range(dt.date(2024, 3, 15), dt.date(2024, 3, 15), catalogue, sources)
    assert not report.failed


async def test_source_down_aborts_the_range_early(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    fixture_server.fail_next("/api/daily_papers", [503] * 100)
    report = await ingest_range(FIRST, LAST, catalogue, sources)
    assert report.aborted is not None
    assert len(report.days) == 2
    assert (await catalogue.stats()).papers == 0


def test_default_days_are_yesterday_and_today_utc() -> None:
    late = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert default_days(late) == (dt.date(2026, 3, 1), dt.date(2026, 3, 2))  # 04:30 UTC on 2 March


# ------------------------------------------------------------------------------------------ rate limits


DAILY = "/api/daily_papers"


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


async def _assert_every_day_stored(catalogue: Catalogue, server: FixtureServer, first: dt.date, last: dt.date) -> None:
    for day in (d for d in server.days if first <= d <= last):
        served = {item["paper"]["id"] for item in server.day_items(day)}
        assert {p.id for p in await catalogue.day_papers(day)} == served, day


async def test_a_backfill_waits_out_429s_and_continues(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources, sleeps: Sleeps
) -> None:
    """HTTP 429 means "slower", not "down": the range waits what Hugging Face asks and loses no day."""
    first, last = dt.date(2024, 3, 13), dt.date(2024, 3, 22)
    fixture_server.fail_next(DAILY, [Fault.retry_after(30)] * 6)  # each one more than a call's 20 s deadline

    report = await ingest_range(first, last, catalogue, sources)

    assert report.aborted is None and not report.failed
    assert [r.day for r in report.days] == _days(first, last)
    assert len([s for s in sleeps.calls if 29.0 < s <= 30.0]) == 6, "every retry waited the Retry-After"
    await _assert_every_day_stored(catalogue, fixture_server, first, last)


async def test_endless_429s_stop_the_range_on_the_same_day_with_a_clear_reason(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    fixture_server.fail_next(DAILY, [Fault.retry_after(30)] * 1000)

    report = await ingest_range(FIRST, LAST, catalogue, sources)

    assert report.aborted is not None and "429" in report.aborted and "rate" in report.aborted
    assert [r.day for r in report.days] == [FIRST], "the rate-limited day is retried, not skipped"
    assert {r.query["date"] for r in fixture_server.requests_to(DAILY)} == {FIRST.isoformat()}
    assert 3 <= len(fixture_server.requests_to(DAILY)) <= 30
    assert (await catalogue.stats()).papers == 0


async def test_an_outage_after_429s_still_gives_up_fast(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    fixture_server.fail_next(DAILY, [Fault.retry_after(30), *[503] * 100])
    report = await ingest_range(FIRST, LAST, catalogue, sources)
    assert report.aborted is not None and "429" not in report.aborted
    assert len(report.days) == 2
    assert len(fixture_server.requests_to(DAILY)) == 1 + 2 * RetryPolicy().max_attempts


# ------------------------------------------------------------------------------------------ resuming a range


def _dates_requested(server: FixtureServer) -> list[dt.date]:
    return sorted({dt.date.fromisoformat(r.query["date"]) for r in server.requests_to(DAILY)})


async def test_an_interrupted_backfill_resumes_where_it_stopped(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    first, last = dt.date(2024, 3, 13), dt.date(2024, 3, 31)

    def source_dies_after_the_20th(day: DayReport) -> None:
        if day.day == dt.date(2024, 3, 20):
            fixture_server.fail_next(DAILY, [503] * (2 * RetryPolicy().max_attempts))

    interrupted = await ingest_range(first, last, catalogue, sources, on_day=source_dies_after_the_20th)
    assert interrupted.aborted is not None
    assert [r.day for r in interrupted.failed] == [dt.date(2024, 3, 21), dt.date(2024, 3, 22)]
    fixture_server.clear_requests()

    seen: list[DayReport] = []
    rerun = await ingest_range(first, last, catalogue, sources, on_day=seen.append)

    assert not rerun.failed and rerun.aborted is None
    assert _dates_requested(fixture_server) == _days(dt.date(2024, 3, 21), last), "stored final days are skipped"
    assert [r.day for r in seen] == _days(first, last), "skipped days still advance the progress"
    assert [r.day for r in rerun.skipped] == _days(first, dt.date(2024, 3, 20))
    assert all(r.ok and r.change is None for r in rerun.skipped)
    await _assert_every_day_stored(catalogue, fixture_server, first, last)


async def test_days_fetched_too_soon_after_they_ended_are_fetched_again(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    """A list can still grow while its UTC day runs (and just after): only a fetch 24 h after its end is final."""
    first, last = dt.date(2024, 3, 15), dt.date(2024, 3, 21)
    run_at = dt.datetime(2024, 3, 21, 18, tzinfo=dt.UTC)  # the 21st is today, the 20th ended 18 h ago
    await ingest_range(first, last, catalogue, sources, now=lambda: run_at)
    fixture_server.clear_requests()

    await ingest_range(first, last, catalogue, sources, now=lambda: run_at + dt.timedelta(hours=1))
    assert _dates_requested(fixture_server) == [dt.date(2024, 3, 20), dt.date(2024, 3, 21)]

    # Two days later both were fetched again long after they ended: final now, so a third run skips them.
    fixture_server.clear_requests()
    await ingest_range(first, last, catalogue, sources, now=lambda: run_at + dt.timedelta(days=2))
    assert _dates_requested(fixture_server) == [dt.date(2024, 3, 20), dt.date(2024, 3, 21)]
    fixture_server.clear_requests()
    await ingest_range(first, last, catalogue, sources, now=lambda: run_at + dt.timedelta(days=2, hours=1))
    assert _dates_requested(fixture_server) == []


async def test_empty_days_count_as_fetched_and_refetch_fetches_everything(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    first, last = dt.date(2024, 3, 15), dt.date(2024, 3, 17)  # the 16th and 17th are a weekend: empty lists
    await ingest_range(first, last, catalogue, sources)
    fixture_server.clear_requests()
    again = await ingest_range(first, last, catalogue, sources)
    assert _dates_requested(fixture_server) == [] and len(again.skipped) == 3

    refetched = await ingest_range(first, last, catalogue, sources, refetch=True)
    assert _dates_requested(fixture_server) == _days(first, last)
    assert refetched.skipped == [] and refetched.listed == len(fixture_server.day_items(first))
