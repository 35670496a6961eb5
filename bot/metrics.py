"""Prometheus metrics: what an operator graphs and alerts on, served at `/metrics` when `[metrics] listen` is set.

Every metric lives in one registry of this module (not prometheus_client's global one), so a test can read
exactly what paperbot recorded. Recording is always on and costs a dictionary lookup; serving is off by
default and binds only the address given. Call sites use the small functions below, so the metric names and
labels are decided here, once:

- `paperbot_commands_total{command, outcome}` and `paperbot_command_seconds{command}` — slash commands;
- `paperbot_digest_posts_total{result}` — digest posts (posted, skipped, failed, …);
- `paperbot_follow_dms_total{result}` — members' daily follow DMs (sent, paused, failed, retrying);
- `paperbot_ingest_days_total{result}` and `paperbot_source_requests_total{source, result}` — ingest and the
  HTTP requests behind it (ok, http_4xx, http_429, http_5xx, no_answer);
- `paperbot_catalogue_papers`, `paperbot_catalogue_days` — catalogue size;
- `paperbot_index_lag_entries{view}` — change-log entries this process's views have not applied yet;
- `paperbot_shard_up{shard}` — 1 while a shard's gateway connection is ready, 0 when lost.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

__all__ = [
    "REGISTRY",
    "command_finished",
    "digest_post",
    "follow_dm",
    "ingest_day",
    "scrape",
    "serve",
    "set_catalogue_size",
    "set_index_lag",
    "set_shard_up",
    "source_request",
]

log = logging.getLogger(__name__)

REGISTRY = CollectorRegistry(auto_describe=True)

_COMMANDS = Counter(
    "paperbot_commands", "Slash commands answered, by command and outcome", ["command", "outcome"], registry=REGISTRY
)
_COMMAND_SECONDS = Histogram(
    "paperbot_command_seconds",
    "Time from a slash command's interaction to its final answer",
    ["command"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
_DIGEST_POSTS = Counter("paperbot_digest_posts", "Digest posts, by result", ["result"], registry=REGISTRY)
_FOLLOW_DMS = Counter("paperbot_follow_dms", "Follow DMs to members, by result", ["result"], registry=REGISTRY)
_INGEST_DAYS = Counter("paperbot_ingest_days", "Daily Papers lists ingested, by result", ["result"], registry=REGISTRY)
_SOURCE_REQUESTS = Counter(
    "paperbot_source_requests", "HTTP requests to the sources, by result", ["source", "result"], registry=REGISTRY
)
_CATALOGUE_PAPERS = Gauge("paperbot_catalogue_papers", "Papers in the catalogue", registry=REGISTRY)
_CATALOGUE_DAYS = Gauge("paperbot_catalogue_days", "Daily Papers days with a stored list", registry=REGISTRY)
_INDEX_LAG = Gauge(
    "paperbot_index_lag_entries", "Change-log entries this process's view has not applied", ["view"], registry=REGISTRY
)
_SHARD_UP = Gauge("paperbot_shard_up", "1 while the shard's gateway connection is ready", ["shard"], registry=REGISTRY)


def command_finished(command: str, outcome: str, seconds: float) -> None:
    """A slash command got its final answer (outcome: ok, user_error, rate_limited, error, …)."""
    _COMMANDS.labels(command=command, outcome=outcome).inc()
    _COMMAND_SECONDS.labels(command=command).observe(max(0.0, seconds))


def digest_post(result: str) -> None:
    """A digest post ended in `result` (posted, skipped, failed, retrying)."""
    _DIGEST_POSTS.labels(result=result).inc()


def follow_dm(result: str) -> None:
    """A member's follow DM ended in `result` (sent, paused, failed, retrying)."""
    _FOLLOW_DMS.labels(result=result).inc()


def ingest_day(result: str) -> None:
    """One day's list was ingested (ok) or not (failed)."""
    _INGEST_DAYS.labels(result=result).inc()


def source_request(source: str, status: int | None) -> None:
    """One HTTP attempt to a source ended with `status` (None: no answer at all — a timeout or refusal)."""
    if status is None:
        result = "no_answer"
    elif status == 429:
        result = "http_429"
    elif status < 400:
        result = "ok"
    else:
        result = f"http_{status // 100}xx"
    _SOURCE_REQUESTS.labels(source=source, result=result).inc()


def set_catalogue_size(papers: int, days: int) -> None:
    """The catalogue's size as last read."""
    _CATALOGUE_PAPERS.set(papers)
    _CATALOGUE_DAYS.set(days)


def set_index_lag(view: str, entries: int) -> None:
    """How many change-log entries `view` has still to apply."""
    _INDEX_LAG.labels(view=view).set(max(0, entries))


def set_shard_up(shard: int, up: bool) -> None:
    """A shard's gateway connection became ready (True) or was lost (False)."""
    _SHARD_UP.labels(shard=str(shard)).set(1 if up else 0)


def scrape() -> str:
    """What `/metrics` would serve now (Prometheus text format)."""
    return generate_latest(REGISTRY).decode()


@contextlib.contextmanager
def serve(address: tuple[str, int] | None) -> Iterator[int | None]:
    """Serve `/metrics` on `address` (host, port; port 0 picks a free one) while inside; yield the bound port.

    None serves nothing (metrics off). The server runs on a daemon thread of prometheus_client's own and is
    shut down on exit.
    """
    if address is None:
        yield None
        return
    host, port = address
    server: WSGIServer
    thread: threading.Thread
    server, thread = start_http_server(port, addr=host, registry=REGISTRY)
    bound = int(server.server_address[1])
    log.info("Serving metrics at http://%s:%d/metrics", host if ":" not in host else f"[{host}]", bound)
    try:
        yield bound
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
