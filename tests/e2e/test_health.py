"""`paperbot health` against a real running bot: healthy while it serves, unhealthy when its loop is stuck
(the process stopped with SIGSTOP), when it lost the gateway, and once it has stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from bot.config import load_settings
from bot.health import HEARTBEAT_INTERVAL_S, Beat, Verdict, check, heartbeat_path
from bot.runtime import run_bot
from fake_discord.server import FakeDiscord
from fake_discord.world import GUILD_ID
from tests.e2e.conftest import _settings
from tests.e2e.test_runtime import _subprocess_env
from tests.e2e.test_search import search
from tests.fixture_server import FixtureServer

# Small enough that a stopped loop shows quickly, at least two beats so a live one never looks stale.
STUCK_AFTER_S = 2 * HEARTBEAT_INTERVAL_S + 1
WAIT_S = 60.0


async def _health(env: dict[str, str], cwd: Path, *extra: str) -> tuple[int, str]:
    """Run `python -m bot health` as Docker's HEALTHCHECK would: exit status and its one line."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "health", *extra,
        cwd=cwd, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert not err, err.decode()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def _read_beat(path: Path) -> Beat:
    return Beat.from_json(path.read_text("utf-8"))


async def _until(what: str, condition: Callable[[], Verdict]) -> Verdict:
    """Poll the heartbeat file until `condition` holds (within WAIT_S seconds)."""
    try:
        async with asyncio.timeout(WAIT_S):
            # Another process writes the file: there is no event to wait on, only the file to look at.
            while not (verdict := condition()).healthy:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            return verdict
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}: {condition().line}") from None


async def test_health_tells_a_serving_bot_from_a_stopped_loop_and_a_stopped_bot(
    fake: FakeDiscord, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    env = _subprocess_env(
        tmp_path,
        {
            **fixture_server.environ(),
            "DISCORD_TOKEN": fake.token,
            "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
            "PAPERBOT_DISCORD__GUILD_IDS": f"[{GUILD_ID}]",
            "PAPERBOT_DATABASE__PATH": str(tmp_path / "papers.db"),
        },
    )
    path = heartbeat_path(load_settings(tmp_path / "config.toml", environ=env))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await _until("the bot to report itself healthy", lambda: check(path))
        status, line = await _health(env, tmp_path)
        assert status == 0 and line.startswith("healthy: gateway shard 0 connected"), line
        assert f"(pid {proc.pid})" in line
        _, message = await search(fake, "diffusion")  # and it really serves
        assert message.content

        # A stuck loop: the process exists, its gateway socket is open, but nothing runs.
        os.kill(proc.pid, signal.SIGSTOP)
        frozen = _read_beat(path)
        await _until("the stopped bot's heartbeat to go stale", lambda: _inverted(check(path, max_age_s=STUCK_AFTER_S)))
        status, line = await _health(env, tmp_path, "--max-age", str(STUCK_AFTER_S))
        assert status == 1 and f"the event loop of pid {proc.pid} is stuck" in line, line
        assert _read_beat(path) == frozen  # nothing rewrote it while the loop was stopped

        os.kill(proc.pid, signal.SIGCONT)  # the same process recovers: healthy again
        await _until("the resumed bot to beat again", lambda: check(path, max_age_s=STUCK_AFTER_S))
        assert _read_beat(path).written_at > frozen.written_at

        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err.decode()
    finally:
        if proc.returncode is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            await proc.wait()
    status, line = await _health(env, tmp_path)
    assert status == 1 and line.startswith("unhealthy: no heartbeat at"), line


def _inverted(verdict: Verdict) -> Verdict:
    """Wait for an unhealthy verdict with `_until`."""
    return Verdict(not verdict.healthy, verdict.line)


async def test_a_bot_that_lost_the_gateway_is_unhealthy_while_it_keeps_retrying(
    fixture_server: FixtureServer, tmp_path: Path
) -> None:
    discord_ = FakeDiscord()
    await discord_.start()
    settings = _settings(
        discord_, fixture_server, tmp_path / "papers.db", tmp_path / "config.toml", token=discord_.token
    )
    path = heartbeat_path(settings)
    stop = asyncio.Event()
    bot = asyncio.create_task(run_bot(settings, stop=stop))
    try:
        await _until("the bot to report itself healthy", lambda: check(path))
        await discord_.close()  # Discord goes away: the socket closes and reconnecting fails, again and again
        verdict = await _until("the bot to report the lost gateway", lambda: _inverted(check(path)))
        assert verdict.line.startswith("unhealthy: gateway shard 0 not connected"), verdict.line
        assert not bot.done()  # the bot itself is still running, retrying with backoff
    finally:
        stop.set()
        assert await asyncio.wait_for(bot, timeout=30) == 0
        await discord_.close()
    assert not check(path).healthy and not path.exists()
