"""The request pipeline every REST call goes through, in Discord's order.

1. record the request (``fake.requests``), with its JSON or multipart ``payload_json`` body;
2. unknown route → Discord's 404 (or 405), kept in ``fake.unhandled``;
3. a scripted answer (``rate_limit_next`` / ``fail_next``) if one is due;
4. bot-token check (401) for routes that need one;
5. rate limits (``fake.rate_limits``): global, then the route's bucket → 429, else the bucket's headers;
6. the handler; a :class:`~fake_discord.DiscordError` becomes Discord's JSON error body;
7. the answer is JSON with ``Content-Type: application/json`` exactly (discord.py decodes JSON only then) and
   carries ``Via`` plus the bucket's ``X-RateLimit-*`` headers.

A *bug in the fake* becomes a 400 (not a 5xx, which discord.py would silently retry for ~25 s) and is kept in
``fake.internal_errors``; ``fake.assert_clean()`` fails a test on it or on an unhandled route.
"""

from __future__ import annotations

import contextlib
import json
import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import BodyPartReader, web

from .errors import DiscordError
from .faults import ScriptedFailure
from .ratelimits import VIA
from .records import InteractionRecord, RecordedRequest

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["API_PREFIX", "BODY_KEY", "FILES_KEY", "Pipeline", "json_response"]

_log = logging.getLogger(__name__)
API_PREFIX = "/api/v10"
# Where the pipeline leaves the parsed request for the handlers (typed keys on aiohttp >= 3.12).
_RequestKey: Any = getattr(web, "RequestKey", None)
BODY_KEY: Any = _RequestKey("fake_json", object) if _RequestKey else "fake_json"
FILES_KEY: Any = _RequestKey("fake_files", list) if _RequestKey else "fake_files"
RECORD_KEY: Any = _RequestKey("fake_record", RecordedRequest) if _RequestKey else "fake_record"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(data, ensure_ascii=False).encode()
    hdrs = {"Content-Type": "application/json"}
    hdrs.update(headers or {})
    return web.Response(body=body, status=status, headers=hdrs)


class Pipeline:
    """The aiohttp middleware of one fake."""

    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        fake = self._fake
        if not request.path.startswith(API_PREFIX + "/") and request.path != API_PREFIX:
            return await handler(request)  # gateway websocket
        path = request.path[len(API_PREFIX) :] or "/"
        resource = getattr(request.match_info.route, "resource", None)
        route = ""
        if resource is not None and request.match_info.http_exception is None:
            route = f"{request.method} {resource.canonical[len(API_PREFIX) :]}"
        rec = RecordedRequest(
            method=request.method, path=path, route=route, query=dict(request.query), json=None, at=fake.clock()
        )
        fake.requests.append(rec)
        headers: dict[str, str] = {}
        try:
            rec.json, rec.files = await _read_body(request)
            interaction = self._request_interaction(request)
            if interaction is not None:
                rec.interaction_id = interaction.id
                if interaction.dispatched_at is not None:
                    rec.since_dispatch = rec.at - interaction.dispatched_at
                interaction.requests.append(rec)
            if not route:
                exc = request.match_info.http_exception
                err = (
                    DiscordError.method_not_allowed()
                    if exc is not None and exc.status == 405
                    else DiscordError.not_found()
                )
                return _finish(rec, json_response(err.body(), err.status), err.code)
            scripted = fake.faults.before(request.method, path, route)
            if scripted is not None:
                raise scripted
            if _needs_bot_token(route) and request.headers.get("Authorization") != f"Bot {fake.token}":
                raise DiscordError.unauthorized()
            decision = fake.rate_limits.admit(route, path, request.match_info)
            headers = decision.headers
            if decision.error is not None:
                rec.rate_limited = True
                raise decision.error
            request[BODY_KEY] = rec.json
            request[FILES_KEY] = rec.files
            request[RECORD_KEY] = rec
            result = await handler(request)
            return _finish(rec, result, 0, headers)
        except DiscordError as err:
            rec.scripted = rec.scripted or isinstance(err, ScriptedFailure)
            return _finish(rec, json_response(err.body(), err.status, {**headers, **err.headers}), err.code)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug in the fake: answer 400 so discord.py fails fast instead of retrying
            detail = f"{request.method} {path}: {exc!r}\n{traceback.format_exc()}"
            fake.internal_errors.append(detail)
            _log.error("fake discord internal error: %s", detail)
            body = {"message": f"fake discord internal error: {exc!r}", "code": 0}
            return _finish(rec, json_response(body, 400), 0)
        finally:
            fake._changed()

    def _request_interaction(self, request: web.Request) -> InteractionRecord | None:
        token = request.match_info.get("token")
        if token is not None:
            return self._fake._interactions_by_token.get(token)
        return None


def _finish(
    rec: RecordedRequest, response: web.StreamResponse, code: int, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    rec.status = response.status
    rec.code = code
    response.headers.setdefault("Via", VIA)  # Discord answers through a proxy; discord.py needs it on a 429
    for name, value in (headers or {}).items():
        response.headers.setdefault(name, value)
    if isinstance(response, web.Response) and response.body is not None and response.content_type == "application/json":
        with contextlib.suppress(ValueError, TypeError):
            rec.response = json.loads(response.body)  # type: ignore[arg-type]
    return response


def _needs_bot_token(route: str) -> bool:
    """Interaction callbacks and webhook-token routes authenticate by the token in the URL; GET /gateway is
    public. Everything else needs ``Authorization: Bot <token>``."""
    template = route.split(" ", 1)[-1]
    return not (template.startswith(("/interactions/", "/webhooks/")) or template == "/gateway")


async def _read_body(request: web.Request) -> tuple[Any, list[dict[str, Any]]]:
    if not request.can_read_body:
        return None, []
    ctype = request.content_type
    if ctype == "multipart/form-data":
        payload: Any = None
        files: list[dict[str, Any]] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                try:
                    payload = json.loads(await part.text())
                except ValueError:
                    raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
            else:
                data = await part.read()
                files.append({"name": part.name, "filename": part.filename, "size": len(data)})
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None
