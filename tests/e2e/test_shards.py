"""`paperbot run` with shards: the flags beat the config keys, bad values are one line and exit 2, and a shard
setting Discord cannot run is one line naming the key to change."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load_settings
from bot.runtime import run_bot
from fake_discord import FakeDiscord, guild_id_on_shard, small_guild

REPO = Path(__file__).parents[2]
GUILDS = [small_guild(guild_id_on_shard(shard, 2, i)) for shard in (0, 1) for i in range(2)]


def _environ(fake: FakeDiscord, tmp_path: Path) -> dict[str, str]:
    return {
        "PAPERBOT_DISCORD__TOKEN": fake.token,
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DATABASE__PATH": str(tmp_path / "papers.db"),
        "PAPERBOT_SOURCES__HUGGINGFACE__ENABLED": "false",
        "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
    }


async def test_run_flags_override_the_shard_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[discord]\nshard_count = 4\nshard_ids = [0, 2]\n", encoding="utf-8")
    async with FakeDiscord(guilds=GUILDS, shard_count=2) as fake:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))}
        env |= _environ(fake, tmp_path) | {"PYTHONPATH": str(REPO)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", "--config", str(config), "--shard-ids", "1", "--shard-count", "2",
            cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await fake.wait_for(lambda: fake.gateway.live_shards() == {(1, 2)}, timeout=60, what="shard 1 of 2")
            assert [i.get("shard") for i in fake.gateway.identifies] == [[1, 2]]
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert "Running shard 1 of 2" in err.decode()
        fake.assert_clean()


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--shard-ids", "0,x", "--shard-count", "4"], 'discord.shard_ids[1]: expected an integer, got "x"'),
        (
            ["--shard-ids", "0,5", "--shard-count", "4"],
            'discord.shard_ids: expected shard ids from 0 to 3, below shard_count (4), got "0,5"',
        ),
        (["--shard-count=-1"], 'discord.shard_count: expected a number ≥ 0, got "-1"'),
        (["--shard-ids", "1,1"], 'discord.shard_ids: expected each shard id once, but 1 is listed twice, got "1,1"'),
    ],
)
def test_bad_shard_flags_are_one_line_and_exit_2(
    flags: list[str], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--config", os.devnull, *flags]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"paperbot: config: command-line option: {line}"]


async def test_more_guilds_than_the_shards_may_hold_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with FakeDiscord(guilds=GUILDS, shard_count=2, max_guilds_per_shard=2) as fake:
        settings = load_settings(os.devnull, environ=_environ(fake, tmp_path) | {"PAPERBOT_DISCORD__SHARD_COUNT": "1"})
        assert await asyncio.wait_for(run_bot(settings), timeout=60) == 2
    assert capsys.readouterr().err.splitlines() == [
        "paperbot: Discord requires more shards: shard 0 would hold too many guilds; raise [discord] shard_count "
        "(or --shard-count), or set it to 0 for Discord's recommended count"
    ]


async def test_shard_ids_past_discords_count_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with FakeDiscord(guilds=GUILDS, shard_count=2) as fake:
        settings = load_settings(os.devnull, environ=_environ(fake, tmp_path) | {"PAPERBOT_DISCORD__SHARD_IDS": "1,2"})
        assert await asyncio.wait_for(run_bot(settings), timeout=60) == 2
    assert capsys.readouterr().err.splitlines() == [
        "paperbot: shard id(s) 2 are not below Discord's recommended shard count (2); set [discord] shard_count "
        "(or --shard-count) to the total over all processes"
    ]
