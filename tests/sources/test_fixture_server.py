"""The fixture server itself: recorded bytes served unchanged, real paths, faults consumed in order."""

from __future__ import annotations

import datetime as dt
import json

import aiohttp

from tests.fixture_server import FIXTURES, Fault, FixtureServer


async def _get(server: FixtureServer, path: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as session, session.get(server.base_url + path) as response:
        return response.status, await response.read(), response.content_type


async def test_day_bodies_are_the_recorded_bytes(server: FixtureServer) -> None:
    (path,) = (FIXTURES / "hf").glob("hf_daily_papers_2024-05-27_*.json")
    status, body, content_type = await _get(server, "/api/daily_papers?date=2024-05-27")
    assert (status, content_type) == (200, "application/json")
    assert body == path.read_bytes()


async def test_unknown_day_and_routes(server: FixtureServer) -> None:
    assert (await _get(server, "/api/daily_papers?date=2030-01-01"))[:2] == (200, b"[]")
    status, body, _ = await _get(server, "/api/nothing/here")
    assert status == 404 and json.loads(body) == {"error": "Sorry, we can't find the page you are looking for."}
    status, body, _ = await _get(server, "/api/papers/2401.99999")
    assert status == 404 and b"Sorry" in body


async def test_paging_slices_and_set_day(server: FixtureServer) -> None:
    status, body, _ = await _get(server, "/api/daily_papers?date=2024-03-13&limit=3&p=2")
    assert status == 200
    assert [i["paper"]["id"] for i in json.loads(body)] == [
        i["paper"]["id"] for i in server.day_items(dt.date(2024, 3, 13))[6:9]
    ]
    server.set_day(dt.date(2024, 3, 13), [])
    assert (await _get(server, "/api/daily_papers?date=2024-03-13"))[1] == b"[]"


async def test_arxiv_recorded_bodies_and_statuses(server: FixtureServer) -> None:
    recorded = json.loads(next((FIXTURES / "arxiv").glob("*error400*")).read_bytes())
    status, body, _ = await _get(server, "/api/query?id_list=abc")
    assert (status, body.decode()) == (400, recorded["body"])
    status, body, _ = await _get(server, "/api/query?id_list=not-valid")
    assert status == 400 and b"incorrect id format for not-valid" in body


async def test_faults_are_consumed_in_order_and_requests_recorded(server: FixtureServer) -> None:
    server.fail_next("/api/papers/2403.07815", [503, Fault.retry_after(2)])
    statuses = [(await _get(server, "/api/papers/2403.07815"))[0] for _ in range(3)]
    assert statuses == [503, 429, 200]
    assert server.pending_faults("/api/papers/2403.07815") == 0
    assert [r.path for r in server.requests] == ["/api/papers/2403.07815"] * 3
    server.clear_requests()
    assert server.requests == []


async def test_environ_points_both_sources_here(server: FixtureServer) -> None:
    env = server.environ()
    assert env["PAPERBOT_SOURCES__HUGGINGFACE__BASE_URL"] == server.base_url
    assert env["PAPERBOT_SOURCES__ARXIV__BASE_URL"] == server.base_url
    assert server.base_url.startswith("http://127.0.0.1:")
