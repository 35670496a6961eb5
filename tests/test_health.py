"""The heartbeat file and its check (`bot.health`), and `paperbot health`, on real files.

The running bot is exercised end to end in tests/e2e/test_health.py; here each verdict is pinned down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings
from bot.health import (
    DEFAULT_MAX_AGE_S,
    HEARTBEAT_FILE,
    Beat,
    GatewayState,
    Heartbeat,
    check,
    heartbeat_path,
)

NOW = 1_800_000_000.0


def _heartbeat(path: Path, shards: dict[int, bool], *, at: float = NOW, latency: float | None = 0.042) -> Heartbeat:
    return Heartbeat(path, lambda: GatewayState(shards, latency_s=latency), clock=lambda: at)


def test_a_fresh_heartbeat_with_every_shard_connected_is_healthy(tmp_path: Path) -> None:
    path = tmp_path / "index" / HEARTBEAT_FILE  # the folder is created on the first beat
    _heartbeat(path, {0: True, 1: True}).beat()
    verdict = check(path, now=NOW + 3)
    assert verdict.healthy
    assert (
        verdict.line
        == f"healthy: gateway shards 0, 1 connected, last heartbeat 3 s ago, gateway latency 42 ms (pid {os.getpid()})"
    )
    data = json.loads(path.read_text("utf-8"))
    assert data["gateway"] == "connected" and data["shards"] == {"0": "connected", "1": "connected"}


def test_a_stale_heartbeat_means_a_stuck_loop(tmp_path: Path) -> None:
    path = tmp_path / HEARTBEAT_FILE
    _heartbeat(path, {0: True}).beat()
    assert check(path, now=NOW + DEFAULT_MAX_AGE_S).healthy  # at the limit: still alive
    verdict = check(path, now=NOW + DEFAULT_MAX_AGE_S + 1)
    assert not verdict.healthy
    assert verdict.line == (
        f"unhealthy: last heartbeat 31 s ago (limit 30 s): the event loop of pid {os.getpid()} is stuck, "
        "or the process is gone"
    )
    assert not check(path, max_age_s=5, now=NOW + 6).healthy  # --max-age tightens it


def test_a_disconnected_shard_is_unhealthy_and_named(tmp_path: Path) -> None:
    path = tmp_path / HEARTBEAT_FILE
    _heartbeat(path, {0: True, 1: False, 2: True}).beat()
    verdict = check(path, now=NOW)
    assert not verdict.healthy
    assert verdict.line == f"unhealthy: gateway shard 1 not connected (pid {os.getpid()})"


def test_before_the_gateway_is_up_it_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / HEARTBEAT_FILE
    _heartbeat(path, {}, latency=float("inf")).beat()  # discord.py's latency before any gateway heartbeat
    verdict = check(path, now=NOW)
    assert not verdict.healthy and "not connected to the Discord gateway yet" in verdict.line
    assert json.loads(path.read_text("utf-8"))["latency_ms"] is None


def test_no_file_or_a_broken_file_is_unhealthy(tmp_path: Path) -> None:
    missing = check(tmp_path / HEARTBEAT_FILE)
    assert not missing.healthy
    assert (
        missing.line
        == f"unhealthy: no heartbeat at {tmp_path / HEARTBEAT_FILE}: the bot is not running (or not started yet)"
    )
    broken = tmp_path / "broken.json"
    for text in (
        "",
        "{",
        '{"pid": 1}',
        "[]",
        '{"pid": "x", "written_at": 1, "started_at": 1, "interval_s": 5, "shards": {}}',
    ):
        broken.write_text(text, encoding="utf-8")
        verdict = check(broken)
        assert not verdict.healthy and verdict.line.startswith(f"unhealthy: {broken}: not a heartbeat file"), text


def test_a_probe_that_fails_is_reported_as_disconnected_and_the_beat_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def probe() -> GatewayState:
        raise RuntimeError("client state unreadable")

    path = tmp_path / HEARTBEAT_FILE
    Heartbeat(path, probe, clock=lambda: NOW).beat()
    assert not check(path, now=NOW).healthy
    assert "Reading the gateway state for the heartbeat failed" in caplog.text


def test_an_unwritable_file_is_logged_once_and_goes_stale(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")  # the index "folder" is a file: every write fails
    beats = _heartbeat(blocker / HEARTBEAT_FILE, {0: True})
    with caplog.at_level(logging.WARNING, logger="bot.health"):
        beats.beat()
        beats.beat()
    assert sum("Cannot write the heartbeat file" in r.getMessage() for r in caplog.records) == 1
    assert not check(blocker / HEARTBEAT_FILE).healthy


async def test_run_beats_on_the_loop_and_removes_the_file_when_stopped(tmp_path: Path) -> None:
    path = tmp_path / HEARTBEAT_FILE
    beats = Heartbeat(path, lambda: GatewayState({0: True}), interval=0.01)
    task = asyncio.create_task(beats.run())
    first = await _next_beat(path, after=None)
    second = await _next_beat(path, after=first.written_at)  # it keeps beating
    assert second.written_at > first.written_at
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _files(tmp_path) == []  # a stopped bot is not a healthy one; no temporary file left behind


def _files(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def _read_beat(path: Path) -> Beat | None:
    return Beat.from_json(path.read_text("utf-8")) if path.exists() else None


async def _next_beat(path: Path, *, after: float | None) -> Beat:
    async with asyncio.timeout(10):
        while True:
            beat = _read_beat(path)
            if beat is not None and (after is None or beat.written_at > after):
                return beat
            await asyncio.sleep(0.005)


def test_the_file_is_in_the_process_own_index_folder(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    sqlite = load_settings(config, environ={"PAPERBOT_DATABASE__PATH": str(tmp_path / "p.db")})
    assert heartbeat_path(sqlite) == tmp_path / "p.db.index" / HEARTBEAT_FILE
    chosen = load_settings(config, environ={"PAPERBOT_SEARCH__INDEX_DIR": str(tmp_path / "shard-1")})
    assert heartbeat_path(chosen) == tmp_path / "shard-1" / HEARTBEAT_FILE


def test_paperbot_health_prints_one_line_and_exits_0_or_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[search]\nindex_dir = "{tmp_path / "index"}"\n', encoding="utf-8")
    path = tmp_path / "index" / HEARTBEAT_FILE
    assert main(["health", "--config", str(config)]) == 1
    assert capsys.readouterr().out.startswith("unhealthy: no heartbeat at")

    Heartbeat(path, lambda: GatewayState({0: True})).beat()  # written now, by the real clock
    assert main(["health", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("healthy: gateway shard 0 connected")

    stale = Beat.from_json(path.read_text("utf-8"))
    _heartbeat(path, {0: True}, at=stale.written_at - 100).beat()
    assert main(["health", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("unhealthy: last heartbeat 10") and out.count("\n") == 1
    assert main(["health", "--config", str(config), "--max-age", "1000"]) == 0
