"""`[metrics] listen`: Prometheus metrics scraped over HTTP from a real bot serving the fake Discord."""

from __future__ import annotations

import asyncio
import re
import socket

import aiohttp

from bot import metrics
from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID, MODERATOR_USER_ID, OTHER_USER_ID
from tests.e2e.conftest import StartBot
from tests.e2e.test_abstract import abstract
from tests.e2e.test_search import search
from tests.fixture_server import FixtureServer


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


async def _scrape(port: int) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        return await response.text()


COMMANDS = {
    ("paper search", "ok"),
    ("paper search", "user_error"),
    ("paper search", "rate_limited"),
    ("paper abstract", "ok"),
    ("paper abstract", "user_error"),
    ("paper abstract", "upstream_error"),
    ("paper trending", "ok"),
}


def _counts(text: str) -> dict[tuple[str, str], float]:
    return {key: _value(text, "paperbot_commands_total", command=key[0], outcome=key[1]) or 0 for key in COMMANDS}


async def test_every_slash_command_is_counted_by_outcome_with_its_latency(
    fake: FakeDiscord, start_bot: StartBot, fixture_server: FixtureServer
) -> None:
    port = _free_port()
    bot = await start_bot(env={"PAPERBOT_METRICS__LISTEN": f"127.0.0.1:{port}"})
    before_text = await _scrape(port)
    before = _counts(before_text)
    searches_timed = _value(before_text, "paperbot_command_seconds_count", command="paper search") or 0

    bot.settings.discord.member_commands = 1  # one search and one abstract per member and window
    await search(fake, "diffusion")  # ok
    await (await fake.slash("paper trending", period="week", user_id=MEMBER_USER_ID)).original()  # ok
    for user_id, title in [
        (MEMBER_USER_ID, "2403.07815"),  # ok
        (OTHER_USER_ID, "no such title at all, not even close"),  # user_error: no paper by that title
        (MODERATOR_USER_ID, "1605.08386"),  # upstream_error: neither source answers (below)
    ]:
        if user_id == MODERATOR_USER_ID:
            fixture_server.fail_next("/api/query", [403])
            fixture_server.fail_next("/api/papers/1605.08386", [403])
        await (await fake.slash("paper abstract", title=title, user_id=user_id)).original()
    forged = fake.build.chat_input("paper search", query="x", user_id=OTHER_USER_ID)
    forged["data"]["options"][0]["options"][0]["value"] = "🤗 " * 3000
    await (await fake.interact(forged)).response()  # user_error: longer than the option allows
    await (await fake.slash("paper search", query="diffusion", user_id=MEMBER_USER_ID)).response()  # rate_limited

    # A command is counted once its handler returns, a moment after Discord got its answer: scrape (as
    # Prometheus would) until the counts settle, within a deadline.
    expected = {key: before[key] + 1 for key in COMMANDS}
    after_text = await _scrape(port)
    deadline = asyncio.get_running_loop().time() + 10
    while _counts(after_text) != expected and asyncio.get_running_loop().time() < deadline:
        after_text = await _scrape(port)
    assert _counts(after_text) == expected
    assert (_value(after_text, "paperbot_command_seconds_count", command="paper search") or 0) == searches_timed + 3
    # Every answer came well within Discord's 3 s: the histogram's 3 s bucket holds them all.
    assert _value(after_text, "paperbot_command_seconds_bucket", command="paper search", le="3.0") == _value(
        after_text, "paperbot_command_seconds_count", command="paper search"
    )


async def test_metrics_are_off_by_default(fake: FakeDiscord, start_bot: StartBot) -> None:
    assert metrics.scrape()  # recording is always on (and cheap)
    bot = await start_bot(catalogue="empty")
    assert bot.settings.metrics.address is None
