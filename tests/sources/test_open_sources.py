"""open_sources(settings): real Settings from bot.config, one shared session, disabled sources are None."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.sources import ArxivClient, HuggingFaceClient, RetryPolicy, open_sources
from tests.fixture_server import FixtureServer
from tests.sources.conftest import VirtualTime


def _settings(tmp_path: Path, environ: dict[str, str], extra_toml: str = "") -> Settings:
    config = tmp_path / "config.toml"
    config.write_text(extra_toml, encoding="utf-8")
    return load_settings(config, environ=environ)


async def test_both_sources_share_one_session_closed_on_exit(server: FixtureServer, tmp_path: Path) -> None:
    settings = _settings(tmp_path, server.environ())
    async with open_sources(settings) as sources:
        assert isinstance(sources.huggingface, HuggingFaceClient)
        assert isinstance(sources.arxiv, ArxivClient)
        assert sources.huggingface.base_url == server.base_url
        session = sources.huggingface._http._session
        assert sources.arxiv._http is sources.huggingface._http
        entries = await sources.huggingface.fetch_day(dt.date(2024, 3, 13))
        papers = await sources.arxiv.fetch(["1605.08386"])
        assert len(entries) == 8 and len(papers) == 1
        assert not session.closed
    assert session.closed


async def test_disabled_sources_are_none(server: FixtureServer, tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, server.environ(), "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
    )
    async with open_sources(settings) as sources:
        assert sources.huggingface is None and sources.arxiv is None


async def test_arxiv_min_interval_comes_from_settings(
    server: FixtureServer, tmp_path: Path, vtime: VirtualTime
) -> None:
    environ = server.environ()
    del environ["PAPERBOT_SOURCES__ARXIV__MIN_INTERVAL_S"]
    settings = _settings(tmp_path, environ, "[sources.arxiv]\nmin_interval_s = 4.0\n")
    assert settings.sources.arxiv.min_interval_s == 4.0
    async with open_sources(settings, sleep=vtime.sleep) as sources:
        assert sources.arxiv is not None
        await sources.arxiv.fetch(["1605.08386"])
        await sources.arxiv.fetch(["1707.08567"])
    assert len(vtime.sleeps) == 1 and 3.0 < vtime.sleeps[0] <= 4.0


async def test_session_is_closed_when_the_body_raises(server: FixtureServer, tmp_path: Path) -> None:
    settings = _settings(tmp_path, server.environ())
    with pytest.raises(RuntimeError, match="boom"):
        async with open_sources(settings, policy=RetryPolicy(timeout_s=1)) as sources:
            assert sources.huggingface is not None
            session = sources.huggingface._http._session
            raise RuntimeError("boom")
    assert session.closed
