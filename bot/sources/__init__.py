"""Upstream sources (Hugging Face Daily Papers, arXiv) behind one entry point: `open_sources(settings)`.

All clients share one aiohttp session and one retry policy (`_http.py`), so connection reuse, the User-Agent,
timeouts, retries and per-host rate limits are the same everywhere and the session has exactly one owner:
the `open_sources` context. A disabled source is `None`, so callers state what they do without it.
No Discord and no SQL here; every failure reaches callers as `bot.errors.SourceError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.sources._http import USER_AGENT, HttpClient, RetryPolicy, Sleep
from bot.sources.arxiv import ArxivClient
from bot.sources.huggingface import HuggingFaceClient
from bot.sources.ids import parse_paper_ref, split_version

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "USER_AGENT",
    "ArxivClient",
    "HttpClient",
    "HuggingFaceClient",
    "RetryPolicy",
    "Sources",
    "open_sources",
    "parse_paper_ref",
    "split_version",
]


@dataclass(frozen=True, slots=True)
class Sources:
    """The enabled upstream clients; a disabled source is None."""

    huggingface: HuggingFaceClient | None
    arxiv: ArxivClient | None


@asynccontextmanager
async def open_sources(
    settings: Settings, *, policy: RetryPolicy | None = None, sleep: Sleep | None = None
) -> AsyncIterator[Sources]:
    """Open one shared HTTP session and the enabled clients; the session is closed on exit.

    `policy` and `sleep` exist for tests (short timeouts, no real backoff); production uses the defaults.
    """
    http = HttpClient.create(policy=policy) if sleep is None else HttpClient.create(policy=policy, sleep=sleep)
    try:
        hf = settings.sources.huggingface
        ax = settings.sources.arxiv
        # Pacing is per host, so with both sources on one host (a mirror, the tests' loopback server) the
        # client created last sets it: arXiv's.
        yield Sources(
            huggingface=HuggingFaceClient(http, hf.base_url, hf.min_interval_s) if hf.enabled else None,
            arxiv=ArxivClient(http, ax.base_url, ax.min_interval_s) if ax.enabled else None,
        )
    finally:
        await http.close()
