"""HttpClient against a real loopback server: retries, backoff, Retry-After, timeouts, deadline, rate limit."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest

from bot import __version__
from bot.errors import SourceError
from bot.sources._http import USER_AGENT, HttpClient, RetryPolicy, parse_retry_after
from tests.fixture_server import Fault, FixtureServer
from tests.sources.conftest import MakeHttp, VirtualTime

PATH = "/api/daily_papers"
PARAMS = {"date": "2024-03-13"}


def _url(server: FixtureServer) -> str:
    return server.base_url + PATH


async def test_plain_get_sends_the_user_agent(server: FixtureServer, http: HttpClient) -> None:
    response = await http.get(_url(server), source="huggingface", params=PARAMS, accept="application/json")
    assert response.status == 200
    assert response.body.startswith(b'[{"paper"')
    assert response.content_type == "application/json"
    (request,) = server.requests
    assert request.headers["User-Agent"] == USER_AGENT
    assert request.headers["User-Agent"] == f"paperbot/{__version__} (+https://github.com/paperbot)"
    assert request.headers["Accept"] == "application/json"
    assert request.query == PARAMS


async def test_500_then_200_is_retried_with_growing_backoff(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    server.fail_next(PATH, [500, 502])
    response = await http.get(_url(server), source="huggingface", params=PARAMS)
    assert response.status == 200
    assert len(server.requests_to(PATH)) == 3
    first, second = vtime.sleeps
    assert 0.5 <= first <= 1.0  # equal jitter on a 1 s base
    assert 1.0 <= second <= 2.0  # then 2 s


async def test_jitter_varies_between_clients(server: FixtureServer, make_http: MakeHttp, vtime: VirtualTime) -> None:
    import random

    delays = set()
    for seed in range(3):
        client = make_http(rng=random.Random(seed))
        server.fail_next(PATH, [503])
        await client.get(_url(server), source="huggingface", params=PARAMS)
        delays.add(vtime.sleeps[-1])
    assert len(delays) == 3


async def test_five_failures_raise_source_error_with_context(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    server.fail_next(PATH, [500] * 5)
    with pytest.raises(SourceError) as info:
        await http.get(_url(server), source="huggingface", params=PARAMS)
    error = info.value
    assert (error.source, error.status, error.attempt) == ("huggingface", 500, 5)
    assert error.url == f"{_url(server)}?date=2024-03-13"
    assert "HTTP 500" in str(error)
    assert len(server.requests_to(PATH)) == 5
    assert len(vtime.sleeps) == 4
    assert server.pending_faults(PATH) == 0


async def test_429_retry_after_seconds_is_honoured(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    server.fail_next(PATH, [Fault.retry_after(7)])
    response = await http.get(_url(server), source="huggingface", params=PARAMS)
    assert response.status == 200
    assert vtime.sleeps == [7.0]


async def test_retry_after_is_capped_at_60_seconds(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    server.fail_next(PATH, [Fault.retry_after(3600)])
    await http.get(_url(server), source="huggingface", params=PARAMS)
    assert vtime.sleeps == [60.0]


async def test_retry_after_http_date_is_honoured(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    server.fail_next(PATH, [Fault.retry_after(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30), status=503)])
    await http.get(_url(server), source="huggingface", params=PARAMS)
    (slept,) = vtime.sleeps
    assert 27.0 <= slept <= 30.0  # HTTP dates have whole seconds


async def test_retry_after_beyond_the_deadline_gives_up_early(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    server.fail_next(PATH, [Fault.retry_after(60)] * 5)
    with pytest.raises(SourceError) as info:
        await http.get(_url(server), source="huggingface", params=PARAMS)
    # 60 s + 60 s would pass the 110 s deadline: two attempts, one sleep, then a clear error.
    assert vtime.sleeps == [60.0]
    assert info.value.attempt == 2
    assert info.value.status == 429
    assert "deadline" in info.value.message


async def test_404_is_returned_not_retried(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    response = await http.get(server.base_url + "/api/papers/0000.00000", source="huggingface")
    assert response.status == 404
    assert vtime.sleeps == []
    assert len(server.requests) == 1


async def test_timeout_is_retried_then_succeeds(server: FixtureServer, make_http: MakeHttp) -> None:
    http = make_http(RetryPolicy(timeout_s=0.2))
    server.fail_next(PATH, [Fault.slow(10)])
    started = time.monotonic()
    response = await http.get(_url(server), source="huggingface", params=PARAMS)
    assert response.status == 200
    assert time.monotonic() - started < 5
    assert len(server.requests_to(PATH)) == 2


async def test_never_answering_source_fails_within_its_attempt_budget(
    server: FixtureServer, make_http: MakeHttp
) -> None:
    http = make_http(RetryPolicy(timeout_s=0.2))
    server.fail_next(PATH, [Fault.slow(30)] * 5)
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        await http.get(_url(server), source="huggingface", params=PARAMS)
    elapsed = time.monotonic() - started
    assert info.value.attempt == 5
    assert "no answer within 0.2 s" in info.value.message
    assert 5 * 0.2 <= elapsed < 5 * 0.2 + 3  # five real timeouts; the backoff sleeps are virtual


async def test_deadline_bounds_the_whole_call(server: FixtureServer, make_http: MakeHttp, vtime: VirtualTime) -> None:
    http = make_http(RetryPolicy(timeout_s=0.3, deadline_s=2.0, backoff_base_s=0.5))
    server.fail_next(PATH, [Fault.slow(30)] * 5)
    started = vtime.clock()
    with pytest.raises(SourceError) as info:
        await http.get(_url(server), source="huggingface", params=PARAMS)
    assert vtime.clock() - started <= 2.0 + 0.3
    assert info.value.attempt is not None and info.value.attempt < 5


def test_default_policy_keeps_the_contract_limits() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 5
    assert policy.timeout_s <= 30
    assert policy.max_retry_after_s == 60
    # "A source that never answers makes ingest exit 1 within 2 minutes", sleeps included.
    assert policy.deadline_s < 120
    with pytest.raises(ValueError):
        RetryPolicy(timeout_s=31)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


async def test_connection_refused_is_retried_then_source_error(make_http: MakeHttp, vtime: VirtualTime) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    http = make_http()
    with pytest.raises(SourceError) as info:
        await http.get(f"http://127.0.0.1:{port}/api/daily_papers", source="huggingface")
    assert info.value.attempt == 5
    assert info.value.status is None
    assert "connection failed" in info.value.message
    assert len(vtime.sleeps) == 4


async def test_dropped_connection_is_retried(server: FixtureServer, http: HttpClient) -> None:
    server.fail_next(PATH, [Fault.connection_reset(), Fault.connection_reset()])
    response = await http.get(_url(server), source="huggingface", params=PARAMS)
    assert response.status == 200


async def test_min_interval_spaces_requests_to_one_host(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    http.set_min_interval(server.base_url.removeprefix("http://"), 3.0)
    for _ in range(3):
        await http.get(_url(server), source="arxiv", params=PARAMS)
    assert len(vtime.sleeps) == 2
    assert all(2.5 < s <= 3.0 for s in vtime.sleeps)


async def test_min_interval_is_per_host(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    http.set_min_interval("export.arxiv.org", 3.0)
    for _ in range(3):
        await http.get(_url(server), source="huggingface", params=PARAMS)
    assert vtime.sleeps == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("12", 12.0), (" 1.5 ", 1.5), ("-3", 0.0), ("soon", None), ("nan", None)],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:45 GMT", now=now) == 45.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/api", "ftp://127.0.0.1/api", "not a url"])
async def test_unusable_urls_fail_at_once(url: str, http: HttpClient, vtime: VirtualTime) -> None:
    with pytest.raises(SourceError) as info:
        await http.get(url, source="huggingface", params=PARAMS)
    assert info.value.attempt == 1
    assert "request failed" in info.value.message
    assert vtime.sleeps == []


async def test_source_that_never_answers_fails_fast_afterwards(
    server: FixtureServer, make_http: MakeHttp, vtime: VirtualTime
) -> None:
    http = make_http(RetryPolicy(timeout_s=0.2))
    server.fail_next(PATH, [Fault.slow(30)] * 5)
    with pytest.raises(SourceError):
        await http.get(_url(server), source="huggingface", params=PARAMS)
    assert len(server.requests_to(PATH)) == 5
    # The next request (e.g. the next day of an ingest) does not spend another budget.
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        await http.get(_url(server), source="huggingface", params={"date": "2024-03-15"})
    assert time.monotonic() - started < 0.5
    assert info.value.message.startswith("not trying: the last request got no answer (no answer within 0.2 s)")
    assert len(server.requests_to(PATH)) == 5
    # Other sources on the same host are not affected.
    assert (await http.get(_url(server), source="arxiv", params=PARAMS)).status == 200
    # After the cool-down the source is tried again, and an answer closes the breaker.
    vtime.offset += RetryPolicy().unreachable_cooldown_s
    assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200
    assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200


async def test_a_server_that_answers_5xx_does_not_trip_the_breaker(server: FixtureServer, http: HttpClient) -> None:
    server.fail_next(PATH, [500] * 5)
    with pytest.raises(SourceError):
        await http.get(_url(server), source="huggingface", params=PARAMS)
    assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200


async def test_breaker_can_be_disabled(server: FixtureServer, make_http: MakeHttp) -> None:
    http = make_http(RetryPolicy(timeout_s=0.2, unreachable_cooldown_s=0))
    server.fail_next(PATH, [Fault.slow(30)] * 5)
    with pytest.raises(SourceError):
        await http.get(_url(server), source="huggingface", params=PARAMS)
    assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200
