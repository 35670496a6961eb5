"""A real aiohttp server on 127.0.0.1 that serves the recorded API fixtures at the real API paths.

Use it wherever code talks to Hugging Face or arXiv: the code under test makes real HTTP requests over
loopback, exactly as in production, and the server answers with the unchanged recorded bodies from
`tests/fixtures/`. Tests can script faults per path and read back every request.

API
---
`tests/conftest.py` registers this module as a pytest plugin, so every test can ask for the
function-scoped ``fixture_server`` fixture (elsewhere: ``from tests.fixture_server import fixture_server``)::

    async def test_x(fixture_server: FixtureServer) -> None:
        settings = load_settings(environ=fixture_server.environ())    # both sources → this server
        ...

or by hand: ``async with FixtureServer() as server: ...`` (or ``await server.start()`` / ``await
server.close()``).

Attributes and methods of `FixtureServer`:

* ``base_url`` — ``http://127.0.0.1:<port>``; use it as both ``[sources.huggingface] base_url`` and
  ``[sources.arxiv] base_url``. ``environ()`` returns the ``PAPERBOT_SOURCES__…`` variables doing that
  (arXiv ``min_interval_s`` = 0 so tests do not wait).
* ``days`` — sorted dates that have a recorded Hugging Face list; ``day_items(day)`` their decoded items.
* ``set_day(day, items)`` — replace or add a day's list (a list of items, or raw ``bytes`` served as is),
  e.g. to simulate upvotes changing between two ingests. ``paging_ignored = True`` makes the server ignore
  ``p`` like an API that does not page (every page is the first one).
* ``fail_next(path, faults)`` — the next requests to exactly ``path`` (e.g. ``"/api/daily_papers"``,
  ``"/api/papers/2403.07815"``, ``"/api/query"``) get these faults, in order, before normal service
  resumes. A fault is an ``int`` status or a ``Fault``: ``Fault.http(503)``, ``Fault.retry_after(7)``
  (429 + ``Retry-After: 7``; a string gives an HTTP date), ``Fault.html()`` (200 with an HTML page),
  ``Fault.truncated_json()`` (the real answer cut in half), ``Fault.object_not_list()``,
  ``Fault.slow(seconds)`` (answer normally after a delay; use it to trip client timeouts),
  ``Fault.connection_reset()`` (close the connection without answering; note aiohttp's client silently
  retries once when a *reused* connection drops, so script two), ``Fault.chunked_body(body)`` (streamed with
  no Content-Length), ``Fault(status, body, …)``.
* ``requests`` — every request as ``RecordedRequest(method, path, query, headers)`` (faulted ones too);
  ``requests_to(path)`` filters by path; ``clear_requests()``.

Served paths
------------
* ``GET /api/daily_papers?date=D[&limit=L][&p=P]`` — the recorded list for D (the recorded bytes when the
  page covers the whole list), paged ``items[P*L:(P+1)*L]`` (L defaults to 50); unknown date → ``[]``.
* ``GET /api/papers/{id}`` — the paper object from the latest day file listing it; unknown → 404 with HF's
  recorded error body.
* ``GET /api/query?id_list=a,b,…`` — a recorded single-id request is answered with its recorded body and
  status (``0808.05394`` → 200 and no entries, ``abc`` → the recorded HTTP 400 error feed); other lists are
  answered with a current-format feed built from every recorded entry of those ids (HF-only ids and
  unknown ids are silently absent, as arXiv does); an id of invalid format → HTTP 400 error feed.
  ``search_query=…&start=…&max_results=…`` answers the recorded ``testing`` pages; anything else → an empty
  feed.
* anything else → 404 with HF's error body.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import email.utils
import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp import web
from multidict import CIMultiDict

__all__ = ["FIXTURES", "Fault", "FixtureServer", "RecordedRequest", "fixture_server"]

FIXTURES = Path(__file__).parent / "fixtures"

_ATOM_NS = "http://www.w3.org/2005/Atom"
_ARXIV_NS = "http://arxiv.org/schemas/atom"
_OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
ET.register_namespace("", _ATOM_NS)
ET.register_namespace("arxiv", _ARXIV_NS)
ET.register_namespace("opensearch", _OPENSEARCH_NS)

# Deliberately independent of bot.sources.ids: the server must not share the code it tests.
_VALID_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z]+(-[a-z]+)?(\.[A-Za-z]{2})?/\d{7})(v\d+)?")
_HF_ERROR_FILE = "hf_error_404_deep-diver-hf-daily-paper-newsletter_papers.json"
_DAY_FILE = re.compile(r"hf_daily_papers_(\d{4}-\d{2}-\d{2})_")
_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream is having a moment.</p></body></html>\n"
)


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # case-insensitive


@dataclass(frozen=True, slots=True)
class Fault:
    """A scripted answer that replaces (or, with `pass_through`, delays/cuts) the normal one."""

    status: int = 500
    body: bytes = b'{"error":"Internal Error"}'
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    pass_through: bool = False  # serve the normal answer (after delay_s, truncated if `truncate`)
    truncate: bool = False
    disconnect: bool = False
    chunked: bool = False  # send `body` with chunked transfer encoding: no Content-Length up front

    @classmethod
    def http(cls, status: int, body: bytes | None = None) -> Fault:
        """An error status with a JSON error body."""
        return cls(status=status, body=body if body is not None else b'{"error":"Internal Error"}')

    @classmethod
    def retry_after(cls, value: float | str | dt.datetime, status: int = 429) -> Fault:
        """429 (or `status`) with `Retry-After`: seconds, a raw header string, or a datetime (HTTP date)."""
        if isinstance(value, dt.datetime):
            header = email.utils.format_datetime(value.astimezone(dt.UTC), usegmt=True)
        elif isinstance(value, str):
            header = value
        else:
            header = f"{value:g}"
        return cls(status=status, body=b'{"error":"Too Many Requests"}', headers={"Retry-After": header})

    @classmethod
    def html(cls, status: int = 200) -> Fault:
        """An HTML error page, like a CDN or proxy in front of the API sends."""
        return cls(status=status, body=_HTML_PAGE, content_type="text/html")

    @classmethod
    def truncated_json(cls) -> Fault:
        """The normal answer cut in half (a complete HTTP response whose JSON is truncated)."""
        return cls(status=200, pass_through=True, truncate=True)

    @classmethod
    def object_not_list(cls) -> Fault:
        """A JSON object where the endpoint returns an array."""
        return cls(status=200, body=b'{"papers": [], "count": 0}')

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """The normal answer after `seconds` (interrupted when the server closes)."""
        return cls(status=200, delay_s=seconds, pass_through=True)

    @classmethod
    def chunked_body(cls, body: bytes, status: int = 200) -> Fault:
        """`body` streamed without a Content-Length (the client learns its size only by reading it)."""
        return cls(status=status, body=body, chunked=True)

    @classmethod
    def connection_reset(cls) -> Fault:
        """Close the connection without any answer."""
        return cls(disconnect=True)


def _arxiv_feed_bytes(entries: Sequence[ET.Element], title: str, per_page: int) -> bytes:
    """A current-format feed (namespaces on <feed>) holding `entries`."""
    feed = ET.Element(f"{{{_ATOM_NS}}}feed")
    ET.SubElement(feed, f"{{{_ATOM_NS}}}id").text = "https://arxiv.org/api/fixture-server"
    ET.SubElement(feed, f"{{{_ATOM_NS}}}title").text = title
    ET.SubElement(feed, f"{{{_ATOM_NS}}}updated").text = "2026-04-12T22:09:33Z"
    ET.SubElement(feed, f"{{{_OPENSEARCH_NS}}}itemsPerPage").text = str(per_page)
    ET.SubElement(feed, f"{{{_OPENSEARCH_NS}}}totalResults").text = str(len(entries))
    ET.SubElement(feed, f"{{{_OPENSEARCH_NS}}}startIndex").text = "0"
    feed.extend(copy.deepcopy(list(entries)))
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + bytes(
        ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    )


def _arxiv_error_feed(bad_id: str) -> bytes:
    """The error feed arXiv sends with HTTP 400 for a malformed id (same shape as the recorded one)."""
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", bad_id)
    feed = ET.Element(f"{{{_ATOM_NS}}}feed")
    ET.SubElement(feed, f"{{{_ATOM_NS}}}id").text = "https://arxiv.org/"
    ET.SubElement(feed, f"{{{_ATOM_NS}}}title").text = "arXiv Search Results"
    ET.SubElement(feed, f"{{{_OPENSEARCH_NS}}}totalResults").text = "1"
    entry = ET.SubElement(feed, f"{{{_ATOM_NS}}}entry")
    ET.SubElement(entry, f"{{{_ATOM_NS}}}id").text = f"https://arxiv.org/api/errors#incorrect_id_format_for_{slug}"
    ET.SubElement(entry, f"{{{_ATOM_NS}}}title").text = "Error"
    ET.SubElement(entry, f"{{{_ATOM_NS}}}summary").text = f"incorrect id format for {bad_id}"
    author = ET.SubElement(entry, f"{{{_ATOM_NS}}}author")
    ET.SubElement(author, f"{{{_ATOM_NS}}}name").text = "arXiv api core"
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + bytes(ET.tostring(feed, encoding="utf-8"))


def _base(arxiv_id: str) -> str:
    return re.sub(r"v\d+$", "", arxiv_id)


class FixtureServer:
    """Serves `tests/fixtures/` at the Hugging Face and arXiv API paths on 127.0.0.1 (see module doc)."""

    def __init__(self, fixtures: Path = FIXTURES) -> None:
        self.fixtures = fixtures
        self.requests: list[RecordedRequest] = []
        self.paging_ignored = False
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._day_bodies: dict[dt.date, bytes] = {}
        self._day_items: dict[dt.date, list[Any]] = {}
        self._hf_error = (fixtures / "hf" / _HF_ERROR_FILE).read_bytes()
        self._arxiv_recorded: dict[str, tuple[int, bytes]] = {}
        self._arxiv_search: dict[tuple[str, str, str], bytes] = {}
        self._arxiv_entries: dict[str, ET.Element] = {}
        self._load_hf()
        self._load_arxiv()
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self.base_url = ""

    # ------------------------------------------------------------------ loading

    def _load_hf(self) -> None:
        for path in sorted((self.fixtures / "hf").glob("hf_daily_papers_*.json")):
            match = _DAY_FILE.search(path.name)
            if match is None:
                continue
            body = path.read_bytes()
            day = dt.date.fromisoformat(match[1])
            self._day_bodies[day] = body
            self._day_items[day] = json.loads(body)

    def _load_arxiv(self) -> None:
        bodies: list[bytes] = []
        for path in sorted((self.fixtures / "arxiv").iterdir()):
            if path.suffix == ".xml":
                bodies.append(path.read_bytes())
            elif path.suffix == ".json":
                record = json.loads(path.read_bytes())
                body = record["body"].encode("utf-8")
                bodies.append(body)
                query = dict(_parse_query(record["url"]))
                if query.get("id_list"):
                    self._arxiv_recorded[query["id_list"]] = (int(record["status_code"]), body)
                elif query.get("search_query"):
                    key = (query["search_query"], query.get("start", "0"), query.get("max_results", "10"))
                    self._arxiv_search[key] = body
        for body in bodies:
            root = ET.fromstring(body)
            for entry in root.findall(f"{{{_ATOM_NS}}}entry"):
                entry_id = entry.findtext(f"{{{_ATOM_NS}}}id") or ""
                if "/abs/" in entry_id:
                    self._arxiv_entries.setdefault(_base(entry_id.split("/abs/", 1)[1]), entry)

    # ------------------------------------------------------------------ public API

    @property
    def days(self) -> list[dt.date]:
        """Dates with a Hugging Face list, oldest first."""
        return sorted(self._day_items)

    def day_items(self, day: dt.date) -> list[Any]:
        """The decoded items served for `day` (a copy)."""
        return copy.deepcopy(self._day_items.get(day, []))

    def set_day(self, day: dt.date, items: Sequence[Any] | bytes) -> None:
        """Serve `items` (or raw bytes, as is) for `day` from now on."""
        if isinstance(items, bytes):
            self._day_bodies[day] = items
            try:
                self._day_items[day] = json.loads(items)
            except ValueError:
                self._day_items[day] = []
        else:
            self._day_items[day] = list(items)
            self._day_bodies[day] = json.dumps(list(items), ensure_ascii=False).encode("utf-8")

    def fail_next(self, path: str, faults: Sequence[Fault | int]) -> None:
        """Answer the next requests to `path` with `faults`, in order (ints are HTTP statuses)."""
        self._faults[path].extend(f if isinstance(f, Fault) else Fault.http(f) for f in faults)

    def pending_faults(self, path: str) -> int:
        """How many scripted faults for `path` have not been used yet."""
        return len(self._faults[path])

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Recorded requests whose path is exactly `path`."""
        return [r for r in self.requests if r.path == path]

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self.requests.clear()

    def environ(self) -> dict[str, str]:
        """Environment variables pointing both sources at this server (for `load_settings(environ=…)`)."""
        return {
            "PAPERBOT_SOURCES__HUGGINGFACE__BASE_URL": self.base_url,
            "PAPERBOT_SOURCES__ARXIV__BASE_URL": self.base_url,
            "PAPERBOT_SOURCES__ARXIV__MIN_INTERVAL_S": "0",
        }

    async def start(self) -> Self:
        """Listen on 127.0.0.1 on a free port; sets `base_url`."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/api/daily_papers", self._daily_papers)
        app.router.add_get("/api/papers/{paper_id:.+}", self._paper)
        app.router.add_get("/api/query", self._arxiv_query)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        """Stop serving; slow faults still waiting are released at once."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ serving

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.query), CIMultiDict(request.headers))
        )
        queue = self._faults.get(request.path)
        fault = queue.popleft() if queue else None
        if fault is None:
            response: web.StreamResponse = await handler(request)
            return response
        if fault.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay_s)
        if fault.disconnect:
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        if fault.chunked:
            stream = web.StreamResponse(status=fault.status, headers={"Content-Type": fault.content_type})
            stream.enable_chunked_encoding()
            await stream.prepare(request)
            for start in range(0, len(fault.body), 64 * 1024):
                await stream.write(fault.body[start : start + 64 * 1024])
            await stream.write_eof()
            return stream
        if not fault.pass_through:
            return web.Response(
                status=fault.status, body=fault.body, content_type=fault.content_type, headers=fault.headers
            )
        normal: web.StreamResponse = await handler(request)
        if fault.truncate and isinstance(normal, web.Response) and normal.body is not None:
            body = bytes(normal.body)  # type: ignore[arg-type]
            return web.Response(status=normal.status, body=body[: len(body) // 2], content_type=normal.content_type)
        return normal

    def _json(self, body: bytes, status: int = 200) -> web.Response:
        return web.Response(status=status, body=body, content_type="application/json", charset="utf-8")

    async def _daily_papers(self, request: web.Request) -> web.Response:
        try:
            day = dt.date.fromisoformat(request.query.get("date", ""))
        except ValueError:
            return self._json(b'{"error":"Invalid date"}', 400)
        try:
            limit = int(request.query.get("limit", "50"))
            page = 0 if self.paging_ignored else int(request.query.get("p", "0"))
        except ValueError:
            return self._json(b'{"error":"Invalid paging parameters"}', 400)
        items = self._day_items.get(day, [])
        if page == 0 and limit >= len(items) and day in self._day_bodies:
            return self._json(self._day_bodies[day])  # the recorded bytes, unchanged
        chunk = items[page * limit : (page + 1) * limit]
        return self._json(json.dumps(chunk, ensure_ascii=False).encode("utf-8"))

    async def _paper(self, request: web.Request) -> web.Response:
        paper_id = request.match_info["paper_id"]
        for day in sorted(self._day_items, reverse=True):
            for item in self._day_items[day]:
                paper = item.get("paper") if isinstance(item, dict) else None
                if isinstance(paper, dict) and paper.get("id") == paper_id:
                    return self._json(json.dumps(paper, ensure_ascii=False).encode("utf-8"))
        return self._json(self._hf_error, 404)

    async def _arxiv_query(self, request: web.Request) -> web.Response:
        atom = "application/atom+xml"
        id_list = request.query.get("id_list", "")
        if id_list:
            if id_list in self._arxiv_recorded:
                status, body = self._arxiv_recorded[id_list]
                return web.Response(status=status, body=body, content_type=atom, charset="utf-8")
            ids = [i.strip() for i in id_list.split(",") if i.strip()]
            for arxiv_id in ids:
                if not _VALID_ARXIV_ID.fullmatch(arxiv_id):
                    return web.Response(status=400, body=_arxiv_error_feed(arxiv_id), content_type=atom)
            entries = [self._arxiv_entries[_base(i)] for i in ids if _base(i) in self._arxiv_entries]
            per_page = int(request.query.get("max_results", "10") or 10)
            title = f"arXiv Query: search_query=&id_list={id_list}"
            return web.Response(body=_arxiv_feed_bytes(entries, title, per_page), content_type=atom)
        key = (
            request.query.get("search_query", ""),
            request.query.get("start", "0"),
            request.query.get("max_results", "10"),
        )
        if key in self._arxiv_search:
            return web.Response(body=self._arxiv_search[key], content_type=atom, charset="utf-8")
        return web.Response(body=_arxiv_feed_bytes([], "arXiv Query: (no recording)", 10), content_type=atom)

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._json(self._hf_error, 404)


def _parse_query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


@pytest.fixture
async def fixture_server() -> AsyncIterator[FixtureServer]:
    """A started FixtureServer, closed after the test."""
    server = FixtureServer()
    await server.start()
    try:
        yield server
    finally:
        await server.close()
