"""`paperbot run` end to end: start-up (command sync, gateway from /gateway/bot, intents), missing and rejected
tokens, SIGTERM/SIGINT shutdown of the real process, the single error path, view timeouts and the ingest job."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket

from bot.catalogue import open_catalogue
from bot.config import Settings, load_settings
from bot.digest.schedule import Scheduler
from bot.discord_ui import views
from bot.runtime import NO_TOKEN_MESSAGE, REJECTED_TOKEN_MESSAGE, _schedule_ingest, run_bot
from bot.search import SearchService
from bot.sources import open_sources
from fake_discord.server import FakeDiscord
from fake_discord.world import GUILD_ID, MEMBER_USER_ID
from tests.discord_ui.test_command_tree import ELSEWHERE
from tests.e2e.conftest import StartBot, _settings
from tests.e2e.test_search import assert_no_mentions, search
from tests.fixture_server import FixtureServer

SNAPSHOT = Path(__file__).parents[1] / "discord_ui" / "snapshots" / "command_tree.json"
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)  # GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT
REPO = Path(__file__).parents[2]


def _shape(command: dict) -> dict:  # type: ignore[type-arg]
    """The user-visible part of a command object (what the snapshot reviews), minus Discord-added ids."""
    keep: tuple[str, ...] = ("name", "description", "type", "required", "choices", "autocomplete")
    keep += ("min_length", "max_length", "min_value", "max_value")
    shaped = {k: command[k] for k in keep if k in command and command[k] not in (None, False)}
    options = [_shape(o) for o in command.get("options") or [] if o["name"] not in ELSEWHERE]
    if options:
        shaped["options"] = options
    return shaped


async def test_startup_syncs_the_command_tree_to_the_guild_and_uses_the_advertised_gateway(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    await start_bot()
    synced = await fake.wait_for_commands(GUILD_ID)
    assert fake.commands.get(None) in (None, [])  # guild_ids set: nothing global
    assert [_shape(c) for c in synced] == [_shape(c) for c in json.loads(SNAPSHOT.read_text("utf-8"))]
    # discord.py asked the REST endpoint where the gateway is, then connected there with default intents.
    assert fake.requests_to("GET /gateway/bot")
    session = fake.gateway.session
    assert session is not None and session.intents is not None
    assert session.intents == discord.Intents.default().value
    assert session.intents & PRIVILEGED_INTENTS == 0


@pytest.mark.discord_rejects
async def test_a_guild_the_bot_is_not_in_is_logged_and_skipped(
    fake: FakeDiscord, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = 1_100_000_000_000_000_999
    with caplog.at_level(logging.ERROR, logger="bot.discord_ui.client"):
        await start_bot(guild_ids=(stranger, GUILD_ID))
    assert fake.commands.get(GUILD_ID)  # the reachable guild still got its commands
    (record,) = caplog.records
    assert str(stranger) in record.getMessage() and "applications.commands" in record.getMessage()
    _, message = await search(fake, "diffusion")
    assert message.embeds


async def test_global_sync_when_no_guild_is_configured(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(guild_ids=())
    synced = await fake.wait_for_commands(None)
    assert [c["name"] for c in synced] == ["paper"]
    assert not fake.commands.get(GUILD_ID)
    _, message = await search(fake, "diffusion")
    assert message.embeds


async def test_endpoints_are_restored_after_the_run(fake: FakeDiscord, start_bot: StartBot) -> None:
    before = (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)
    bot = await start_bot()
    assert fake.api_base_url == discord.http.Route.BASE
    assert await bot.stop() == 0
    assert before == (discord.http.Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_no_token_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert await run_bot(Settings()) == 2
    err = capsys.readouterr().err
    assert err.strip() == NO_TOKEN_MESSAGE
    assert "DISCORD_TOKEN" in err


@pytest.mark.discord_rejects
async def test_rejected_token_exits_1_with_one_line_and_no_traceback(
    fake: FakeDiscord, fixture_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(fake, fixture_server, tmp_path / "p.db", tmp_path / "c.toml", token="not-the-token")
    assert await asyncio.wait_for(run_bot(settings), timeout=10) == 1
    err = capsys.readouterr().err
    assert err.strip() == REJECTED_TOKEN_MESSAGE
    assert "Traceback" not in err
    assert _closed_cleanly(tmp_path / "p.db")  # the catalogue was closed on the way out


async def test_unreachable_discord_exits_1_with_one_line(
    fake: FakeDiscord, fixture_server: FixtureServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = _settings(fake, fixture_server, tmp_path / "p.db", tmp_path / "c.toml", token=fake.token)
    settings.discord.api_base_url = f"http://127.0.0.1:{port}/api/v10"
    assert await asyncio.wait_for(run_bot(settings), timeout=10) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"paperbot: could not start on Discord at http://127.0.0.1:{port}/api/v10")
    assert _closed_cleanly(tmp_path / "p.db")


def _closed_cleanly(db: Path) -> bool:
    """SQLite removes the WAL file when the last connection closes cleanly."""
    return db.exists() and not Path(f"{db}-wal").exists()


def _subprocess_env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_") and k != "DISCORD_TOKEN"}
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    env.update({"PAPERBOT_CONFIG": str(config), "PYTHONPATH": str(REPO), **extra})
    return env


async def test_paperbot_run_without_token_exits_2(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path, env=_subprocess_env(tmp_path, {}),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert err.decode().strip() == NO_TOKEN_MESSAGE


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_paperbot_run_stops_cleanly_on_signal(
    fake: FakeDiscord, fixture_server: FixtureServer, tmp_path: Path, sig: signal.Signals
) -> None:
    db = tmp_path / "papers.db"
    env = _subprocess_env(
        tmp_path,
        {
            **fixture_server.environ(),
            "DISCORD_TOKEN": fake.token,
            "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
            "PAPERBOT_DISCORD__GUILD_IDS": f"[{GUILD_ID}]",
            "PAPERBOT_DATABASE__PATH": str(db),
        },
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await fake.wait_for(lambda: fake.gateway.session, timeout=30, what="the paperbot process to identify")
        # It serves: a command gets its answer from the separate process.
        _, message = await search(fake, "diffusion")
        assert message.content.startswith("No papers match")  # a fresh, empty catalogue
        proc.send_signal(sig)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    assert "Traceback" not in err.decode()
    assert f"Received {sig.name}; shutting down" in err.decode()
    assert _closed_cleanly(db)
    async with await open_catalogue(db) as catalogue:
        assert (await catalogue.stats()).papers == 0


async def test_an_unexpected_error_is_one_ephemeral_line_and_a_logged_traceback(
    fake: FakeDiscord, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken_search(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    await start_bot()
    monkeypatch.setattr(SearchService, "search", broken_search)
    with caplog.at_level(logging.ERROR, logger="bot.discord_ui.tree"):
        handle = await fake.slash("paper search", query="diffusion", user_id=MEMBER_USER_ID)
        message = await handle.original()
    assert message.content.startswith("Something went wrong")
    assert "database on fire" not in message.content
    assert not handle.errors
    (record,) = [r for r in caplog.records if r.exc_info]
    assert "/paper search" in record.getMessage() and "'query': 'diffusion'" in record.getMessage()
    assert isinstance(record.exc_info[1], RuntimeError)  # type: ignore[index]
    # The bot keeps serving.
    monkeypatch.undo()
    trending = await (await fake.slash("paper trending", user_id=MEMBER_USER_ID)).original()
    assert trending.embeds and trending.embeds[0]["title"].startswith("Trending")


async def test_members_without_manage_server_get_the_permission_line_for_digest_commands(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    await start_bot()
    handle = await fake.slash("paper digest list", user_id=MEMBER_USER_ID)
    response = await handle.response()
    assert response.type == 4 and response.ephemeral
    assert "Manage Server" in (response.data or {}).get("content", "")


async def test_paginator_disables_its_components_on_timeout(
    fake: FakeDiscord, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "DEFAULT_TIMEOUT", 0.2)
    await start_bot()
    _, message = await search(fake, "diffusion")
    assert any(not c.get("disabled") for c in message.iter_components())

    def all_disabled() -> bool:
        current = fake.message(message.id)
        return current.edited and all(c.get("disabled") for c in current.iter_components())

    await fake.wait_for(all_disabled, timeout=5, what="the paginator to disable itself")
    assert_no_mentions(fake.message(message.id).allowed_mentions or {"parse": []})


async def test_shutdown_disables_open_paginators(fake: FakeDiscord, start_bot: StartBot) -> None:
    bot = await start_bot()
    _, message = await search(fake, "diffusion")
    assert any(not c.get("disabled") for c in fake.message(message.id).iter_components())
    assert await bot.stop() == 0
    # Nobody would answer a press after the restart: the buttons were disabled on the way out.
    assert all(c.get("disabled") for c in fake.message(message.id).iter_components())


async def test_scheduled_ingest_refreshes_yesterday_and_today(fixture_server: FixtureServer, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("", encoding="utf-8")
    settings = load_settings(config, environ={**fixture_server.environ()})
    now = dt.datetime(2030, 1, 1, 0, 5, tzinfo=dt.UTC)
    scheduler = Scheduler(now=lambda: now)
    before = dt.datetime.now(dt.UTC).date()
    async with await open_catalogue(tmp_path / "p.db") as catalogue, open_sources(settings) as sources:
        _schedule_ingest(scheduler, catalogue, sources, "*/30 * * * *")
        scheduler.start()
        try:
            next_run = scheduler.next_run("ingest")
            assert next_run == dt.datetime(2030, 1, 1, 0, 30, tzinfo=dt.UTC)
            now = next_run
            await scheduler.wakeup()
        finally:
            scheduler.shutdown()
    after = dt.datetime.now(dt.UTC).date()
    asked = [r.query.get("date") for r in fixture_server.requests_to("/api/daily_papers")]
    expected = {str(before - dt.timedelta(days=1)), str(before), str(after - dt.timedelta(days=1)), str(after)}
    assert len(asked) >= 2 and set(asked) <= expected


async def test_after_an_invalidated_session_the_bot_reidentifies_on_the_advertised_gateway(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    """discord.py reconnects to DEFAULT_GATEWAY after INVALID_SESSION: the runtime's override must cover it."""
    await start_bot()
    first = fake.gateway.session
    await fake.gateway.invalidate_session(resumable=False)
    await fake.wait_for(
        lambda: fake.gateway.session is not None and fake.gateway.session is not first
        and fake.gateway.session.connection is not None,
        timeout=15,
        what="a new IDENTIFY after the invalidated session",
    )  # fmt: skip
    assert len(fake.gateway.identifies) == 2
    _, message = await search(fake, "diffusion")
    assert message.embeds
