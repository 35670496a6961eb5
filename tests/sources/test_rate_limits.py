"""Being a polite client: Hugging Face is paced like arXiv, and a 429 holds back every request to its host.

Hugging Face allows about 500 requests per 5 minutes to an unauthenticated client, and every day of a backfill
costs at least two requests (a page and the empty page that ends it). Real HTTP to the loopback server, on
virtual time: sleeps are recorded, never waited out.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import SourceError
from bot.sources import huggingface, open_sources
from bot.sources._http import HttpClient, RetryPolicy
from bot.sources.huggingface import HuggingFaceClient
from tests.fixture_server import Fault, FixtureServer
from tests.sources.conftest import MakeHttp, VirtualTime

PATH = "/api/daily_papers"
PARAMS = {"date": "2024-03-13"}
DAY_A, DAY_B = dt.date(2024, 3, 13), dt.date(2024, 3, 15)
HF_LIMIT_REQUESTS, HF_LIMIT_WINDOW_S = 500, 300.0


def _url(server: FixtureServer) -> str:
    return server.base_url + PATH


def _http_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when.astimezone(dt.UTC), usegmt=True)


# ------------------------------------------------------------------------------------------ pacing


def test_the_default_interval_keeps_a_backfill_under_hugging_faces_limit() -> None:
    interval = huggingface.MIN_INTERVAL_S
    assert HF_LIMIT_WINDOW_S / interval < HF_LIMIT_REQUESTS, "a long backfill would hit HTTP 429"
    assert interval <= 2.0, "a 30-day first-run fill (60 requests) should take about a minute, not ages"


async def test_the_huggingface_client_paces_its_host(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    client = HuggingFaceClient(http, server.base_url)
    await client.fetch_day(DAY_A)
    await client.fetch_day(DAY_B)
    assert len(server.requests_to(PATH)) == 4  # a page and the empty page that ends each day
    interval = huggingface.MIN_INTERVAL_S
    assert len(vtime.sleeps) == 3
    assert all(interval - 0.5 < s <= interval for s in vtime.sleeps), vtime.sleeps


async def test_open_sources_paces_huggingface(server: FixtureServer, tmp_path: Path, vtime: VirtualTime) -> None:
    environ = server.environ() | {"PAPERBOT_SOURCES__ARXIV__ENABLED": "false"}
    settings = load_settings(environ=environ)
    async with open_sources(settings, sleep=vtime.sleep) as sources:
        assert sources.huggingface is not None
        for _ in range(3):
            await sources.huggingface.fetch_paper("2403.07815")
    assert len(vtime.sleeps) == 2 and all(s > huggingface.MIN_INTERVAL_S - 0.5 for s in vtime.sleeps)


async def test_the_huggingface_interval_comes_from_settings(
    server: FixtureServer, tmp_path: Path, vtime: VirtualTime
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[sources.huggingface]\nmin_interval_s = 4.0\n[sources.arxiv]\nenabled = false\n")
    environ = {k: v for k, v in server.environ().items() if "MIN_INTERVAL" not in k}
    settings = load_settings(config, environ=environ)
    async with open_sources(settings, sleep=vtime.sleep) as sources:
        assert sources.huggingface is not None
        await sources.huggingface.fetch_paper("2403.07815")
        await sources.huggingface.fetch_paper("2403.07815")
    assert len(vtime.sleeps) == 1 and 3.5 < vtime.sleeps[0] <= 4.0


# ------------------------------------------------------------------------------------------ 429


async def test_a_429_holds_back_every_request_to_that_host(
    server: FixtureServer, make_http: MakeHttp, vtime: VirtualTime
) -> None:
    http = make_http(RetryPolicy(timeout_s=5.0, max_attempts=1))
    server.fail_next(PATH, [Fault.retry_after(20)])
    with pytest.raises(SourceError) as info:
        await http.get(_url(server), source="huggingface", params=PARAMS)
    assert info.value.status == 429
    assert vtime.sleeps == []
    # The limit is the client's, not the URL's: another caller on another path waits what the server asked.
    response = await http.get(server.base_url + "/api/papers/2403.07815", source="huggingface")
    assert response.status == 200
    assert len(vtime.sleeps) == 1 and 19.5 < vtime.sleeps[0] <= 20.0


async def test_a_429_without_retry_after_still_backs_the_host_off(
    server: FixtureServer, make_http: MakeHttp, vtime: VirtualTime
) -> None:
    http = make_http(RetryPolicy(timeout_s=5.0, max_attempts=1))
    server.fail_next(PATH, [429])
    with pytest.raises(SourceError):
        await http.get(_url(server), source="huggingface", params=PARAMS)
    await http.get(_url(server), source="huggingface", params=PARAMS)
    assert len(vtime.sleeps) == 1 and 0.4 < vtime.sleeps[0] <= 1.0  # the first backoff step (1 s, jittered)


async def test_a_5xx_is_an_outage_not_a_rate_limit_and_pauses_nobody(
    server: FixtureServer, make_http: MakeHttp, vtime: VirtualTime
) -> None:
    http = make_http(RetryPolicy(timeout_s=5.0, max_attempts=1))
    server.fail_next(PATH, [Fault.retry_after(30, status=503)])
    with pytest.raises(SourceError):
        await http.get(_url(server), source="huggingface", params=PARAMS)
    await http.get(server.base_url + "/api/papers/2403.07815", source="huggingface")
    assert vtime.sleeps == []


async def test_waiting_for_the_hosts_turn_does_not_eat_the_next_calls_budget(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    server.fail_next(PATH, [Fault.retry_after(60)] * 2)
    with pytest.raises(SourceError):  # 60 s + 60 s would pass the 110 s deadline
        await http.get(_url(server), source="huggingface", params=PARAMS)
    # The next call first waits out the last Retry-After, then still has its own 110 s for attempts.
    server.fail_next(PATH, [Fault.retry_after(60)])
    response = await http.get(_url(server), source="huggingface", params=PARAMS)
    assert response.status == 200
    assert len(server.requests_to(PATH)) == 4
    assert [round(s) for s in vtime.sleeps] == [60, 60, 60]


@pytest.mark.parametrize("server_clock_off_by", [dt.timedelta(minutes=-10), dt.timedelta(minutes=10)])
async def test_a_retry_after_date_is_read_against_the_servers_own_clock(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime, server_clock_off_by: dt.timedelta
) -> None:
    """An HTTP-date is the server's clock; ours may differ. The response's Date header says by how much."""
    server_now = dt.datetime.now(dt.UTC).replace(microsecond=0) + server_clock_off_by
    fault = Fault(
        status=429,
        body=b'{"error":"Too Many Requests"}',
        headers={"Date": _http_date(server_now), "Retry-After": _http_date(server_now + dt.timedelta(seconds=30))},
    )
    server.fail_next(PATH, [fault])
    assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200
    assert vtime.sleeps == [30.0]


# ------------------------------------------------------------------------------------------ hostile bodies


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_size_limit_is_refused_not_buffered(
    server: FixtureServer, vtime: VirtualTime, streamed: bool
) -> None:
    """A wrong base_url serving a huge file must cost a clear error, not the bot's memory."""
    http = HttpClient.create(
        policy=RetryPolicy(timeout_s=5.0), sleep=vtime.sleep, clock=vtime.clock, max_body_bytes=4096
    )
    try:
        body = b"[" + b" " * 100_000 + b"]"
        fault = Fault.chunked_body(body) if streamed else Fault(status=200, body=body)
        server.fail_next(PATH, [fault])
        with pytest.raises(SourceError) as info:
            await http.get(_url(server), source="huggingface", params=PARAMS)
        assert "4096-byte limit" in info.value.message
        assert info.value.attempt == 1 and vtime.sleeps == []
        # A normal answer within the limit still arrives whole, streamed or not.
        small = b'[{"paper": {"id": "2403.07815", "title": "Chronos"}}]'
        server.fail_next(PATH, [Fault.chunked_body(small)])
        assert (await http.get(_url(server), source="huggingface", params=PARAMS)).body == small
    finally:
        await http.close()


# ------------------------------------------------------------------------------------------ RateLimit header

# Hugging Face answers a 429 with the IETF draft's `RateLimit` header (`"api";r=<remaining>;t=<seconds to reset>`)
# and not necessarily with Retry-After (https://huggingface.co/docs/hub/rate-limits).


def _ratelimited(remaining: int, reset_s: int, status: int = 429) -> Fault:
    body = b'{"error":"Too Many Requests"}' if status == 429 else b"[]"
    return Fault(status=status, body=body, headers={"RateLimit": f'"api";r={remaining};t={reset_s}'})


async def test_a_429_with_only_a_ratelimit_header_waits_for_the_quota_reset(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    server.fail_next(PATH, [_ratelimited(0, 42)])
    assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200
    assert vtime.sleeps == [42.0]


async def test_a_ratelimit_reset_is_capped_like_retry_after(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    server.fail_next(PATH, [_ratelimited(0, 280)])  # a 5-minute window that just began
    assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200
    assert vtime.sleeps == [60.0]


async def test_retry_after_wins_over_the_ratelimit_header(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    fault = Fault(status=429, body=b"{}", headers={"Retry-After": "5", "RateLimit": '"api";r=0;t=50'})
    server.fail_next(PATH, [fault])
    await http.get(_url(server), source="huggingface", params=PARAMS)
    assert vtime.sleeps == [5.0]


async def test_an_exhausted_quota_on_a_good_answer_holds_the_host_until_it_resets(
    server: FixtureServer, http: HttpClient, vtime: VirtualTime
) -> None:
    """The last allowed request says so (r=0): the next one waits for the reset instead of earning a 429."""
    server.fail_next(PATH, [_ratelimited(3, 30, status=200), _ratelimited(0, 30, status=200)])
    for _ in range(2):
        assert (await http.get(_url(server), source="huggingface", params=PARAMS)).status == 200
    assert vtime.sleeps == []  # quota left after the first answer: no wait
    response = await http.get(server.base_url + "/api/papers/2403.07815", source="huggingface")
    assert response.status == 200
    assert len(vtime.sleeps) == 1 and 29.5 < vtime.sleeps[0] <= 30.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('"api";r=0;t=55', 55.0),
        ('"api";r=12;t=55', None),  # quota left: nothing to wait for
        ('"api";t=55', None),
        ('"api";r=0', None),
        ('"api";r=0;t=-3', 0.0),
        ('"pages";r=4;t=10, "api";r=0;t=20', 20.0),
        ('"api";r=0;t=abc', None),
        ("", None),
        (None, None),
        ("garbage", None),
    ],
)
def test_parse_ratelimit_reset(header: str | None, expected: float | None) -> None:
    from bot.sources._http import parse_ratelimit_reset

    assert parse_ratelimit_reset(header) == expected
