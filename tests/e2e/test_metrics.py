"""`[metrics] listen`: Prometheus metrics scraped over HTTP from a real bot serving the fake Discord."""

from __future__ import annotations

import re
import socket

import aiohttp

from bot import metrics
from fake_discord.server import FakeDiscord
from tests.e2e.conftest import StartBot
from tests.e2e.test_abstract import abstract
from tests.e2e.test_search import search


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _value(text: str, name: str, **labels: str) -> float | None:
    """The sample `name{labels}` in a Prometheus text exposition, if present."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match[2] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match[3])
    return None


async def test_metrics_are_served_while_the_bot_runs(fake: FakeDiscord, start_bot: StartBot) -> None:
    port = _free_port()
    bot = await start_bot(env={"PAPERBOT_METRICS__LISTEN": f"127.0.0.1:{port}"})
    before = _value(metrics.scrape(), "paperbot_source_requests_total", source="arxiv", result="ok") or 0
    await search(fake, "diffusion")
    await abstract(fake, "1605.08386")  # not stored: fetched from the (loopback) sources while the user waits
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    assert (_value(text, "paperbot_source_requests_total", source="arxiv", result="ok") or 0) >= before + 1
    assert (_value(text, "paperbot_catalogue_papers") or 0) > 0
    assert _value(text, "paperbot_index_lag_entries", view="keyword") is not None
    assert await bot.stop() == 0
    # Stopped with the bot: nothing listens any more.
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


async def test_metrics_are_off_by_default(fake: FakeDiscord, start_bot: StartBot) -> None:
    assert metrics.scrape()  # recording is always on (and cheap)
    bot = await start_bot(catalogue="empty")
    assert bot.settings.metrics.address is None
