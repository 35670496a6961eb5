"""A second real `python -m bot run` on the same SQLite file refuses to start, naming the running bot.

Both are real processes logged into the loopback fake Discord. The lock is the kernel's (`flock`): after the
first bot is killed with SIGKILL, a new one starts at once — no stale lock to clean up.
"""

from __future__ import annotations

import asyncio
import re
import signal
from pathlib import Path

from fake_discord import FakeDiscord, ids
from tests.robustness._proc import run_bot_cli, start_bot


def _env(fake: FakeDiscord, db: Path) -> dict[str, str]:
    return {
        "PAPERBOT_DISCORD__TOKEN": fake.token,
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DISCORD__GUILD_IDS": f"[{ids.GUILD_ID}]",
        "PAPERBOT_DATABASE__PATH": str(db),
        "PAPERBOT_SOURCES__HUGGINGFACE__ENABLED": "false",
        "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
    }


async def _until_ready(process: asyncio.subprocess.Process) -> None:
    """Read the bot's log until its digest service is ready (it is then connected and holds the lock)."""
    assert process.stderr is not None
    seen: list[bytes] = []
    async with asyncio.timeout(30):
        while b"Digest service ready" not in (line := await process.stderr.readline()):
            assert line, b"".join(seen).decode()[-2000:]
            seen.append(line)


async def test_a_second_bot_on_one_sqlite_file_refuses_with_one_line_naming_the_first(tmp_path: Path) -> None:
    db = tmp_path / "data" / "papers.db"
    async with FakeDiscord() as fake:
        env = _env(fake, db)
        first = await start_bot("run", env=env, cwd=tmp_path)
        try:
            await _until_ready(first)
            second = await run_bot_cli("run", env=env, cwd=tmp_path, limit_s=60)
            assert second.code == 1, second.err
            lines = second.err.strip().splitlines()
            refusal = [line for line in lines if line.startswith("paperbot:")]
            assert len(refusal) == 1, second.err
            assert re.search(
                rf"another bot \(pid {first.pid} on host [^)]+\) is already running on .*papers\.db", refusal[0]
            )
            assert "Traceback" not in second.err
            # The refused process never logged in: the first is still the only session.
            assert first.returncode is None
        finally:
            first.send_signal(signal.SIGKILL)  # killed, not stopped: the kernel alone releases the lock
            await first.communicate()

        third = await start_bot("run", env=env, cwd=tmp_path)
        try:
            await _until_ready(third)
        finally:
            third.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(third.communicate(), 30)
        assert third.returncode == 0, err.decode()[-2000:]
        fake.assert_clean()
