"""HuggingFaceClient over real HTTP against the loopback fixture server."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from bot.errors import SourceError
from bot.sources._http import USER_AGENT, HttpClient
from bot.sources.huggingface import HuggingFaceClient
from tests.fixture_server import Fault, FixtureServer
from tests.sources.conftest import VirtualTime

PATH = "/api/daily_papers"
DAY = dt.date(2024, 3, 15)  # 14 papers


def _client(server: FixtureServer, http: HttpClient, **kwargs: int) -> HuggingFaceClient:
    """A client without pacing, so the sleeps these tests count are retries only (pacing: test_rate_limits.py)."""
    return HuggingFaceClient(http, server.base_url + "/", min_interval_s=0, **kwargs)


async def test_every_recorded_day_over_http(server: FixtureServer, http: HttpClient) -> None:
    client = _client(server, http)
    total = 0
    for day in server.days:
        entries = await client.fetch_day(day)
        assert {e.paper.id for e in entries} == {i["paper"]["id"] for i in server.day_items(day)}
        assert all(e.day == day for e in entries)
        total += len(entries)
    assert total == 212
    assert len(server.days) == 18


async def test_request_shape_and_paging_stop_at_empty_page(server: FixtureServer, http: HttpClient) -> None:
    entries = await _client(server, http).fetch_day(DAY)
    assert len(entries) == 14
    first, second = server.requests_to(PATH)
    assert first.query == {"date": "2024-03-15", "limit": "100", "p": "0"}
    assert second.query == {"date": "2024-03-15", "limit": "100", "p": "1"}
    assert first.headers["User-Agent"] == USER_AGENT
    assert first.headers["Accept"] == "application/json"


async def test_pages_are_joined(server: FixtureServer, http: HttpClient) -> None:
    entries = await _client(server, http, page_size=5).fetch_day(DAY)
    assert len(entries) == 14
    assert [r.query["p"] for r in server.requests_to(PATH)] == ["0", "1", "2", "3"]
    assert [e.upvotes for e in entries] == sorted((e.upvotes for e in entries), reverse=True)


async def test_api_that_ignores_p_stops_after_a_repeated_page(server: FixtureServer, http: HttpClient) -> None:
    server.paging_ignored = True
    entries = await _client(server, http, page_size=5).fetch_day(DAY)
    assert len(entries) == 5
    assert len(server.requests_to(PATH)) == 2


async def test_paging_has_a_safety_cap(
    server: FixtureServer, http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="bot.sources.huggingface"):
        entries = await _client(server, http, page_size=2, max_pages=3).fetch_day(DAY)
    assert len(entries) == 6
    assert len(server.requests_to(PATH)) == 3
    assert "stopped paging" in caplog.text


async def test_unknown_day_is_empty(server: FixtureServer, http: HttpClient) -> None:
    assert await _client(server, http).fetch_day(dt.date(2024, 3, 16)) == []
    assert len(server.requests_to(PATH)) == 1


async def test_malformed_item_is_skipped_and_the_day_lands(
    server: FixtureServer, http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    items = server.day_items(DAY)
    del items[2]["paper"]["id"]
    items[5] = ["not", "an", "item"]
    server.set_day(DAY, items)
    with caplog.at_level(logging.WARNING, logger="bot.sources.huggingface"):
        entries = await _client(server, http).fetch_day(DAY)
    assert len(entries) == 12
    assert len([r for r in caplog.records if r.name == "bot.sources.huggingface"]) == 2


async def test_500_then_200(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    server.fail_next(PATH, [500, 500])
    entries = await _client(server, http).fetch_day(DAY)
    assert len(entries) == 14
    assert len(vtime.sleeps) == 2
    assert len(server.requests_to(PATH)) == 4  # 3 tries for page 0, then the empty page 1


async def test_429_with_retry_after(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    server.fail_next(PATH, [Fault.retry_after(12)])
    assert len(await _client(server, http).fetch_day(DAY)) == 14
    assert vtime.sleeps == [12.0]


async def test_html_error_page_is_a_source_error(server: FixtureServer, http: HttpClient) -> None:
    server.fail_next(PATH, [Fault.html()])
    with pytest.raises(SourceError) as info:
        await _client(server, http).fetch_day(DAY)
    assert info.value.source == "huggingface"
    assert info.value.status == 200
    assert "got an HTML/XML page" in info.value.message
    assert "502 Bad Gateway" in info.value.message


async def test_html_502_page_is_retried(server: FixtureServer, http: HttpClient) -> None:
    server.fail_next(PATH, [Fault.html(502)])
    assert len(await _client(server, http).fetch_day(DAY)) == 14


async def test_truncated_json_is_a_source_error(server: FixtureServer, http: HttpClient) -> None:
    server.fail_next(PATH, [Fault.truncated_json()])
    with pytest.raises(SourceError, match="JSON") as info:
        await _client(server, http).fetch_day(DAY)
    assert info.value.url is not None and "date=2024-03-15" in info.value.url


async def test_object_instead_of_list_is_a_source_error(server: FixtureServer, http: HttpClient) -> None:
    server.fail_next(PATH, [Fault.object_not_list()])
    with pytest.raises(SourceError, match="expected a JSON array of daily items, got an object"):
        await _client(server, http).fetch_day(DAY)


async def test_error_object_with_200(server: FixtureServer, http: HttpClient) -> None:
    server.fail_next(PATH, [Fault(status=200, body=b'{"error":"Invalid date"}')])
    with pytest.raises(SourceError, match="Hugging Face answered an error: Invalid date"):
        await _client(server, http).fetch_day(DAY)


async def test_404_names_the_hf_error(server: FixtureServer, http: HttpClient) -> None:
    client = HuggingFaceClient(http, server.base_url + "/mirror")
    with pytest.raises(SourceError) as info:
        await client.fetch_day(DAY)
    assert info.value.status == 404
    assert "Sorry, we can't find the page" in info.value.message


async def test_persistent_failure_reports_the_attempts(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    server.fail_next(PATH, [503] * 5)
    with pytest.raises(SourceError) as info:
        await _client(server, http).fetch_day(DAY)
    assert (info.value.status, info.value.attempt) == (503, 5)


# ------------------------------------------------------------------------------------------ fetch_paper


async def test_fetch_paper(server: FixtureServer, http: HttpClient) -> None:
    paper = await _client(server, http).fetch_paper("https://huggingface.co/papers/2403.07815v2?x=1")
    assert paper is not None
    assert paper.id == "2403.07815"
    assert paper.title == "Chronos: Learning the Language of Time Series"
    assert paper.published == dt.date(2024, 3, 12)
    assert paper.upvotes == 15
    (request,) = server.requests
    assert request.path == "/api/papers/2403.07815"


async def test_fetch_paper_2025_fields(server: FixtureServer, http: HttpClient) -> None:
    paper = await _client(server, http).fetch_paper("2509.07969")
    assert paper is not None
    assert paper.github_repo == "https://github.com/Mini-o3/Mini-o3" and paper.github_stars == 44
    assert paper.ai_keywords


async def test_fetch_unknown_paper_is_none(server: FixtureServer, http: HttpClient) -> None:
    assert await _client(server, http).fetch_paper("2401.99999") is None
    assert len(server.requests) == 1


async def test_fetch_paper_without_request_for_non_ids_and_old_style(server: FixtureServer, http: HttpClient) -> None:
    client = _client(server, http)
    assert await client.fetch_paper("Chronos") is None
    assert await client.fetch_paper("hep-th/9901001") is None
    assert server.requests == []


async def test_fetch_paper_errors(server: FixtureServer, http: HttpClient) -> None:
    client = _client(server, http)
    server.fail_next("/api/papers/2403.07815", [Fault(status=200, body=b"[]")])
    with pytest.raises(SourceError, match="expected a paper object, got list"):
        await client.fetch_paper("2403.07815")
    server.fail_next("/api/papers/2403.07815", [Fault(status=200, body=b'{"title": "no id"}')])
    with pytest.raises(SourceError, match="paper has no id"):
        await client.fetch_paper("2403.07815")
    server.fail_next("/api/papers/2403.07815", [Fault(status=403, body=b'{"error":"Forbidden"}')])
    with pytest.raises(SourceError, match="unexpected HTTP 403: Forbidden"):
        await client.fetch_paper("2403.07815")
    server.fail_next("/api/papers/2403.07815", [500, 500])
    assert await client.fetch_paper("2403.07815") is not None


async def test_an_api_ignoring_paging_after_a_full_page_is_reported(
    server: FixtureServer, http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The list is cut at one page: say so in the log instead of passing it off as the whole day."""
    server.paging_ignored = True
    with caplog.at_level(logging.WARNING, logger="bot.sources.huggingface"):
        entries = await _client(server, http, page_size=5).fetch_day(DAY)
    assert len(entries) == 5
    (line,) = [r.getMessage() for r in caplog.records if r.name == "bot.sources.huggingface"]
    assert "ignore paging" in line and "2024-03-15" in line
    # A short page followed by an empty one is the normal end of a list: nothing to report.
    caplog.clear()
    server.paging_ignored = False
    with caplog.at_level(logging.WARNING, logger="bot.sources.huggingface"):
        assert len(await _client(server, http).fetch_day(DAY)) == 14
    assert not caplog.records
