"""Upstream faults injected for real: the loopback fixture server misbehaves, paperbot keeps serving.

tests/test_ingest.py and tests/sources/ cover one example per fault at the use-case and client level. This
module is the system-level matrix: every fault class × every upstream path the bot uses (the Daily Papers list
for ingest, `/api/papers/{id}` and arXiv `id_list` for lookups), each checked for the same five properties:

1. bounded retries, counted from the server's request log (transient faults: exactly one request per attempt;
   unusable answers: never retried);
2. a clear log line naming the source, the attempt and the reason;
3. the rest of the data lands (the other days of a range, the other source of a lookup);
4. the catalogue stays intact (`PRAGMA integrity_check`, FTS5 integrity-check, no half-written row, nothing
   lost that was stored before);
5. stored papers keep answering (lookup, search, day lists, trending) while the source is down, with no
   request upstream.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.catalogue import Catalogue
from bot.errors import SourceError
from bot.ingest import ingest_day, ingest_range
from bot.lookup import lookup_paper
from bot.search import SearchService
from bot.sources import Sources
from tests.fixture_server import Fault, FixtureServer
from tests.robustness.conftest import CLIENT_TIMEOUT_S, FAST_POLICY, Sleeps, check_database

DAILY = "/api/daily_papers"
QUERY = "/api/query"
DAY_A, DAY_B, DAY_C = dt.date(2024, 3, 13), dt.date(2024, 3, 15), dt.date(2024, 3, 18)
HF_ONLY_ID = "2403.07815"  # Chronos: listed on Hugging Face, absent from the arXiv recordings
ARXIV_ONLY_ID = "1605.08386"  # in the arXiv recordings, unknown to Hugging Face (404)
MAX_ATTEMPTS = FAST_POLICY.max_attempts

# Faults a client must retry: (id, fault factory, whether aiohttp may add a silent transport-level retry).
TRANSIENT: list[tuple[str, Callable[[], Fault], bool]] = [
    ("http500", lambda: Fault.http(500), False),
    ("http502-html", lambda: Fault.html(502), False),
    ("http503", lambda: Fault.http(503), False),
    ("http429-retry-after", lambda: Fault.retry_after(3), False),
    ("http429-retry-after-date", lambda: Fault.retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), False),
    ("timeout", lambda: Fault.slow(CLIENT_TIMEOUT_S * 4), False),
    ("connection-reset", Fault.connection_reset, True),
]

# Complete 200 answers that are unusable: retrying cannot help, so exactly one request, a SourceError and a log.
UNUSABLE: list[tuple[str, Fault, str]] = [
    ("html-page", Fault.html(), "HTML"),
    ("truncated-json", Fault.truncated_json(), "truncated JSON"),
    ("object-not-list", Fault.object_not_list(), "got an object"),
    ("empty-body", Fault(status=200, body=b""), "empty body"),
    ("not-utf8", Fault(status=200, body=b"\xff\xfe[\x00]"), "not UTF-8"),
    ("json-null", Fault(status=200, body=b"null"), "NoneType"),
    ("error-object", Fault(status=200, body=b'{"error": "Invalid date"}'), "Invalid date"),
]


def _day_ids(server: FixtureServer, day: dt.date) -> set[str]:
    return {item["paper"]["id"] for item in server.day_items(day)}


def _warnings(caplog: pytest.LogCaptureFixture, logger_prefix: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith(logger_prefix) and r.levelno >= logging.WARNING]


async def _assert_stored_papers_still_answer(
    search: SearchService, sources: Sources, server: FixtureServer, day: dt.date
) -> None:
    """Lookups, search, day lists and trending of stored papers work without any upstream request."""
    catalogue = search.catalogue
    await search.sync()
    server.clear_requests()
    stored = await catalogue.day_papers(day)
    assert {p.id for p in stored} == _day_ids(server, day)
    for paper in stored[:3]:
        assert paper.abstract, "fixture papers carry abstracts, so lookups must stay local"
        assert (await lookup_paper(paper.id, search, sources)).id == paper.id
        assert (await lookup_paper(f"https://arxiv.org/abs/{paper.id}v2", search, sources)).id == paper.id
        assert (await lookup_paper(paper.title, search, sources)).id == paper.id
    hits = await search.search(stored[0].title)
    assert stored[0].id in {p.id for p in hits.papers}
    assert (await catalogue.trending("week")).papers
    assert server.requests == [], "stored papers must be answered from the catalogue alone"


# ------------------------------------------------------------------------------------------ Daily Papers


@pytest.mark.parametrize(("name", "make", "transport_retry"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
async def test_daily_list_transient_faults_are_retried_then_land(
    fixture_server: FixtureServer,
    catalogue: Catalogue,
    sources: Sources,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
    name: str,
    make: Callable[[], Fault],
    transport_retry: bool,
) -> None:
    faults = MAX_ATTEMPTS - 1  # the last allowed attempt succeeds
    fixture_server.fail_next(DAILY, [make() for _ in range(faults * (2 if transport_retry else 1))])
    caplog.set_level(logging.INFO)

    change = await ingest_day(DAY_B, catalogue, sources)

    assert change.listed == len(_day_ids(fixture_server, DAY_B))
    page0 = [r for r in fixture_server.requests_to(DAILY) if r.query["p"] == "0"]
    if transport_retry:
        # aiohttp re-sends once, silently, when a pooled connection drops: at most two requests per attempt.
        assert faults + 1 <= len(page0) <= 2 * faults + 1
        assert fixture_server.pending_faults(DAILY) == 0
    else:
        assert len(page0) == faults + 1, "one request per attempt, no more"
    assert len(sleeps.calls) == faults
    if name == "http429-retry-after":
        assert sleeps.calls == [3.0] * faults, "Retry-After must be honoured"
    retry_lines = [m for m in _warnings(caplog, "bot.sources") if "huggingface: attempt" in m]
    assert len(retry_lines) == faults
    assert all("retrying in" in m and "/api/daily_papers" in m for m in retry_lines)
    state = check_database(catalogue.path)
    assert state.days == {DAY_B.isoformat(): _day_ids(fixture_server, DAY_B)}


@pytest.mark.parametrize(("name", "make", "transport_retry"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
async def test_daily_list_persistent_faults_give_up_after_bounded_attempts(
    fixture_server: FixtureServer,
    catalogue: Catalogue,
    search: SearchService,
    sources: Sources,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
    name: str,
    make: Callable[[], Fault],
    transport_retry: bool,
) -> None:
    await ingest_day(DAY_A, catalogue, sources)
    fixture_server.clear_requests()
    fixture_server.fail_next(DAILY, [make() for _ in range(MAX_ATTEMPTS * 2 + 5)])

    with pytest.raises(SourceError) as raised:
        await ingest_day(DAY_B, catalogue, sources)

    error = raised.value
    assert error.source == "huggingface" and error.attempt == MAX_ATTEMPTS
    assert "/api/daily_papers" in str(error)
    attempts = len(fixture_server.requests_to(DAILY))
    if transport_retry:
        assert MAX_ATTEMPTS <= attempts <= 2 * MAX_ATTEMPTS
    else:
        assert attempts == MAX_ATTEMPTS, f"{name}: {attempts} requests for {MAX_ATTEMPTS} attempts"
    assert len(sleeps.calls) == MAX_ATTEMPTS - 1
    # Nothing of the failed day was written and nothing before it was lost.
    state = check_database(catalogue.path)
    assert state.days == {DAY_A.isoformat(): _day_ids(fixture_server, DAY_A)}
    # The source is still down (faults pending): everything stored keeps answering, locally.
    assert fixture_server.pending_faults(DAILY) > 0
    await _assert_stored_papers_still_answer(search, sources, fixture_server, DAY_A)


@pytest.mark.parametrize(("name", "fault", "reason"), UNUSABLE, ids=[u[0] for u in UNUSABLE])
async def test_unusable_daily_list_fails_only_that_day_with_a_clear_log_line(
    fixture_server: FixtureServer,
    catalogue: Catalogue,
    sources: Sources,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
    name: str,
    fault: Fault,
    reason: str,
) -> None:
    # The fault hits the first request for DAY_B, in the middle of a three-day range (faults are per path,
    # so DAY_A is ingested first).
    await ingest_day(DAY_A, catalogue, sources)
    fixture_server.clear_requests()
    caplog.set_level(logging.INFO)
    fixture_server.fail_next(DAILY, [fault])
    report = await ingest_range(DAY_B, DAY_C, catalogue, sources)

    assert [r.day for r in report.failed] == [DAY_B], report
    assert report.aborted is None, "a bad body is not an outage: the range goes on"
    b_requests = [r for r in fixture_server.requests_to(DAILY) if r.query["date"] == DAY_B.isoformat()]
    assert len(b_requests) == 1, "an unusable 200 answer is not retried"
    assert sleeps.calls == []
    failed = report.failed[0].error
    assert failed is not None and failed.source == "huggingface" and reason in str(failed)
    lines = [r for r in caplog.records if r.name == "bot.ingest" and r.levelno == logging.ERROR]
    assert len(lines) == 1
    assert DAY_B.isoformat() in lines[0].getMessage() and reason in lines[0].getMessage()
    state = check_database(catalogue.path)
    assert state.days == {
        DAY_A.isoformat(): _day_ids(fixture_server, DAY_A),
        DAY_C.isoformat(): _day_ids(fixture_server, DAY_C),
    }
    # The next run (the source fixed) fills the hole.
    report = await ingest_range(DAY_B, DAY_B, catalogue, sources)
    assert not report.failed
    assert DAY_B.isoformat() in check_database(catalogue.path).days


async def test_whole_day_outage_aborts_early_and_everything_stored_keeps_answering(
    fixture_server: FixtureServer,
    catalogue: Catalogue,
    search: SearchService,
    sources: Sources,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await ingest_range(DAY_A, DAY_C, catalogue, sources)
    before = check_database(catalogue.path)
    fixture_server.clear_requests()
    fixture_server.fail_next(DAILY, [503] * 1000)
    fixture_server.fail_next(QUERY, [503] * 1000)
    fixture_server.fail_next(f"/api/papers/{ARXIV_ONLY_ID}", [503] * 1000)

    report = await ingest_range(dt.date(2024, 3, 19), dt.date(2024, 5, 31), catalogue, sources)

    assert report.aborted is not None and len(report.days) == 2
    assert len(fixture_server.requests_to(DAILY)) == 2 * MAX_ATTEMPTS, "a dead source fails fast"
    assert any("aborted" in r.getMessage() for r in caplog.records if r.name == "bot.ingest")
    assert check_database(catalogue.path) == before
    await _assert_stored_papers_still_answer(search, sources, fixture_server, DAY_C)
    # A paper that is not stored cannot be fetched: the user gets a SourceError (a clear message), not a crash.
    with pytest.raises(SourceError):
        await lookup_paper(ARXIV_ONLY_ID, search, sources)
    assert check_database(catalogue.path) == before


async def test_partly_published_day_survives_an_outage_and_fills_in_later(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    """5 papers at 08:00, the source down at 10:00, 30 papers at 12:00: nothing lost, the later fetch adds."""
    pool = [item for day in fixture_server.days for item in fixture_server.day_items(day)]
    thirty = pool[:30]
    assert len({i["paper"]["id"] for i in thirty}) == 30
    day = dt.date(2024, 6, 3)  # not a recorded day: served only what we set
    fixture_server.set_day(day, thirty[:5])
    assert (await ingest_day(day, catalogue, sources)).listed == 5

    fixture_server.fail_next(DAILY, [Fault.http(503)] * MAX_ATTEMPTS)
    with pytest.raises(SourceError):
        await ingest_day(day, catalogue, sources)
    assert check_database(catalogue.path).days == {day.isoformat(): {i["paper"]["id"] for i in thirty[:5]}}

    fixture_server.set_day(day, list(reversed(thirty)))
    change = await ingest_day(day, catalogue, sources)
    assert (change.listed, change.added) == (30, 25)
    stored = await catalogue.day_papers(day)
    assert [p.id for p in stored] == [p.id for p in sorted(stored, key=lambda p: (-(p.upvotes or 0), p.id))]
    assert check_database(catalogue.path).days == {day.isoformat(): {i["paper"]["id"] for i in thirty}}


# ------------------------------------------------------------------------------------------ lookups


@pytest.mark.parametrize(("name", "make", "transport_retry"), TRANSIENT, ids=[t[0] for t in TRANSIENT])
@pytest.mark.parametrize("path", [QUERY, f"/api/papers/{HF_ONLY_ID}"], ids=["arxiv", "hf-paper"])
async def test_lookup_of_unknown_paper_retries_each_source_then_lands(
    fixture_server: FixtureServer,
    catalogue: Catalogue,
    search: SearchService,
    sources: Sources,
    sleeps: Sleeps,
    name: str,
    make: Callable[[], Fault],
    transport_retry: bool,
    path: str,
) -> None:
    paper_id = ARXIV_ONLY_ID if path == QUERY else HF_ONLY_ID
    faults = MAX_ATTEMPTS - 1
    fixture_server.fail_next(path, [make() for _ in range(faults * (2 if transport_retry else 1))])

    paper = await lookup_paper(paper_id, search, sources)

    assert paper.id == paper_id and paper.abstract
    sent = len(fixture_server.requests_to(path))
    assert (faults + 1 <= sent <= 2 * faults + 1) if transport_retry else sent == faults + 1
    assert len(sleeps.calls) == faults
    assert set(check_database(catalogue.path).papers) == {paper_id}
    # Stored now: the next lookup is local even if both sources break.
    fixture_server.clear_requests()
    fixture_server.fail_next(path, [503] * 10)
    assert (await lookup_paper(paper_id, search, sources)).id == paper_id
    assert fixture_server.requests == []


@pytest.mark.parametrize(
    ("fault", "requests_per_call"),
    [(Fault.html(), 1), (Fault.truncated_json(), 1), (Fault(status=200, body=b"<feed"), 1), (Fault.http(503), 5)],
    ids=["html", "truncated", "broken-xml", "down"],
)
async def test_one_source_broken_the_other_still_serves_the_lookup(
    fixture_server: FixtureServer,
    catalogue: Catalogue,
    search: SearchService,
    sources: Sources,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
    requests_per_call: int,
) -> None:
    # arXiv broken for the whole call: Hugging Face alone answers the lookup, and the arXiv failure is logged.
    fixture_server.fail_next(QUERY, [fault] * requests_per_call)
    caplog.set_level(logging.WARNING)
    paper = await lookup_paper(HF_ONLY_ID, search, sources)
    assert paper.id == HF_ONLY_ID and paper.title
    assert any(r.name == "bot.lookup" and "arXiv lookup of 2403.07815 failed" in r.getMessage() for r in caplog.records)
    # Hugging Face broken: arXiv alone answers for a paper it knows.
    assert fixture_server.pending_faults(QUERY) == 0, "unusable answers are not retried, outages are (5 attempts)"
    fixture_server.fail_next(f"/api/papers/{ARXIV_ONLY_ID}", [fault] * requests_per_call)
    paper = await lookup_paper(ARXIV_ONLY_ID, search, sources)
    assert fixture_server.pending_faults(f"/api/papers/{ARXIV_ONLY_ID}") == 0
    assert paper.id == ARXIV_ONLY_ID and paper.abstract
    assert set(check_database(catalogue.path).papers) == {HF_ONLY_ID, ARXIV_ONLY_ID}


async def test_arxiv_never_answering_fails_within_its_attempts_and_the_db_is_untouched(
    fixture_server: FixtureServer, catalogue: Catalogue, search: SearchService, sources: Sources, db_path: Path
) -> None:
    fixture_server.fail_next(QUERY, [Fault.slow(CLIENT_TIMEOUT_S * 4)] * MAX_ATTEMPTS)
    fixture_server.fail_next(f"/api/papers/{ARXIV_ONLY_ID}", [Fault.slow(CLIENT_TIMEOUT_S * 4)] * MAX_ATTEMPTS)
    with pytest.raises(SourceError) as raised:
        await lookup_paper(ARXIV_ONLY_ID, search, sources)
    assert "no answer within" in str(raised.value)
    assert len(fixture_server.requests_to(QUERY)) == MAX_ATTEMPTS
    assert check_database(db_path).papers == {}


async def test_out_of_range_number_in_one_item_does_not_sink_the_day_or_the_range(
    fixture_server: FixtureServer, catalogue: Catalogue, sources: Sources
) -> None:
    """An upvote/star count beyond SQLite's 64-bit INTEGER (JSON allows any size) is one bad field, no more."""
    items = fixture_server.day_items(DAY_B)
    items[0] = dict(items[0], paper=dict(items[0]["paper"], upvotes=1e20, githubStars=2**70))
    fixture_server.set_day(DAY_B, items)

    report = await ingest_range(DAY_A, DAY_C, catalogue, sources)

    assert not report.failed
    state = check_database(catalogue.path)
    assert set(state.days) == {DAY_A.isoformat(), DAY_B.isoformat(), DAY_C.isoformat()}
    # The item is either stored without the absurd count or skipped with a warning; its neighbours all land.
    assert _day_ids(fixture_server, DAY_B) - {items[0]["paper"]["id"]} <= state.days[DAY_B.isoformat()]
