"""ArxivClient over real HTTP against the loopback fixture server (recorded id_list answers)."""

from __future__ import annotations

import pytest

from bot.errors import SourceError
from bot.sources._http import USER_AGENT, HttpClient
from bot.sources.arxiv import ArxivClient
from tests.fixture_server import Fault, FixtureServer
from tests.sources.conftest import VirtualTime

PATH = "/api/query"


def _client(server: FixtureServer, http: HttpClient, min_interval_s: float = 0.0, **kwargs: int) -> ArxivClient:
    return ArxivClient(http, server.base_url, min_interval_s, **kwargs)


async def test_fetch_one_recorded_id(server: FixtureServer, http: HttpClient) -> None:
    (paper,) = await _client(server, http).fetch(["1605.08386"])
    assert paper.id == "1605.08386"
    assert paper.title and paper.abstract and paper.authors and paper.categories
    (request,) = server.requests_to(PATH)
    assert request.query == {"id_list": "1605.08386", "max_results": "1"}
    assert request.headers["User-Agent"] == USER_AGENT
    assert "atom" in request.headers["Accept"]


async def test_unknown_id_is_silently_absent(server: FixtureServer, http: HttpClient) -> None:
    assert await _client(server, http).fetch(["2401.99999"]) == []
    assert len(server.requests_to(PATH)) == 1


async def test_recorded_empty_answer(server: FixtureServer, http: HttpClient) -> None:
    # arXiv itself accepts 0808.05394 (recorded: HTTP 200, no entries); `fetch` would not even send it,
    # since 2008 ids have four digits after the dot.
    assert await _client(server, http).query(["0808.05394"]) == []
    assert await _client(server, http).fetch(["0808.05394"]) == []
    assert len(server.requests_to(PATH)) == 1


async def test_many_ids_any_form_in_request_order(server: FixtureServer, http: HttpClient) -> None:
    papers = await _client(server, http).fetch(
        ["arXiv:1707.08567v1", "2401.99999", "https://arxiv.org/abs/1605.08386v2", "1707.08567", "1201.4869"]
    )
    assert [p.id for p in papers] == ["1707.08567", "1605.08386", "1201.4869"]
    (request,) = server.requests_to(PATH)
    assert request.query["id_list"] == "1707.08567,2401.99999,1605.08386,1201.4869"  # normalised, deduplicated
    assert request.query["max_results"] == "4"


async def test_old_style_id(server: FixtureServer, http: HttpClient) -> None:
    (paper,) = await _client(server, http).fetch(["quant-ph/0201082v1"])
    assert paper.id == "quant-ph/0201082"
    (request,) = server.requests_to(PATH)
    assert request.query["id_list"] == "quant-ph/0201082"
    (legacy,) = await _client(server, http).fetch(["https://arxiv.org/abs/cond-mat/0607501"])
    assert legacy.id == "cond-mat/0607501"


async def test_malformed_ids_are_never_sent(server: FixtureServer, http: HttpClient) -> None:
    assert await _client(server, http).fetch(["abc", "Chronos: Learning the Language of Time Series", ""]) == []
    assert server.requests == []


async def test_raw_query_with_a_malformed_id_gives_arxivs_error(server: FixtureServer, http: HttpClient) -> None:
    with pytest.raises(SourceError) as info:
        await _client(server, http).query(["abc"])
    error = info.value
    assert (error.source, error.status) == ("arxiv", 400)
    assert error.message == "arXiv rejected the query: incorrect id format for abc"
    assert len(server.requests_to(PATH)) == 1  # a 400 is not retried


async def test_batches_keep_the_min_interval(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    client = _client(server, http, min_interval_s=3.0, batch_size=2)
    papers = await client.fetch(["1605.08386", "1707.08567", "1201.4869", "quant-ph/0201082", "2401.99999"])
    assert len(papers) == 4
    assert len(server.requests_to(PATH)) == 3
    assert len(vtime.sleeps) == 2 and all(2.5 < s <= 3.0 for s in vtime.sleeps)


async def test_retries_then_succeeds(server: FixtureServer, http: HttpClient, vtime: VirtualTime) -> None:
    server.fail_next(PATH, [503, Fault.retry_after(5)])
    (paper,) = await _client(server, http).fetch(["1605.08386"])
    assert paper.id == "1605.08386"
    assert vtime.sleeps[1] == 5.0


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault.html(), "expected an Atom <feed>, got <html>"),
        (Fault(status=200, body=b"<html><p>unclosed</html>"), "not an XML feed"),
        (Fault(status=200, body=b"<rss/>", content_type="application/xml"), "expected an Atom <feed>"),
        (Fault(status=403, body=b"<html>Forbidden</html>", content_type="text/html"), "unexpected HTTP 403"),
    ],
)
async def test_unusable_answers_are_source_errors(
    server: FixtureServer, http: HttpClient, fault: Fault, message: str
) -> None:
    server.fail_next(PATH, [fault])
    with pytest.raises(SourceError, match=message) as info:
        await _client(server, http).fetch(["1605.08386"])
    assert info.value.source == "arxiv"


async def test_non_200_feed_without_error_entry(server: FixtureServer, http: HttpClient) -> None:
    body = b'<feed xmlns="http://www.w3.org/2005/Atom"></feed>'
    server.fail_next(PATH, [Fault(status=404, body=body, content_type="application/atom+xml")])
    with pytest.raises(SourceError, match="unexpected HTTP 404"):
        await _client(server, http).fetch(["1605.08386"])


async def test_recorded_search_pages_are_served(server: FixtureServer, http: HttpClient) -> None:
    """The fixture server also replays the recorded `search_query=testing` pages (for teammates' tests)."""
    response = await http.get(
        server.base_url + PATH,
        source="arxiv",
        params={"search_query": "testing", "start": "10", "max_results": "10"},
    )
    assert response.status == 200 and response.body.count(b"<entry>") == 10
