"""`paperbot run` that cannot start on Discord: exactly one stderr line, saying in words what failed.

Each case is a real `python -m bot run` subprocess pointed at a loopback peer that fails in one way
(tests/broken_peers.py): a refused port, a TLS handshake with a plain TCP server, a name that never
resolves, a redirect loop. The line names the host and the failure; it is no Python repr, carries no
secret, and nothing else is printed (no "voice will NOT be supported" warnings: paperbot has no voice).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.runtime import run_bot
from tests.broken_peers import UNRESOLVABLE_HOST, BrokenPeers

REPO = Path(__file__).parents[2]
# Not token-shaped, so only the configured-secret redaction can hide it (not the token-shape pattern).
TOKEN = "plain-secret-token-value-0123456789"


async def _paperbot_run(tmp_path: Path, api_base_url: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))}
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    env |= {
        "PYTHONPATH": str(REPO),
        "PAPERBOT_CONFIG": str(tmp_path / "config.toml"),
        "DISCORD_TOKEN": TOKEN,
        "PAPERBOT_DISCORD__API_BASE_URL": api_base_url,
        "PAPERBOT_DATABASE__PATH": str(tmp_path / "papers.db"),
        # No upstream traffic: only the Discord failure is under test.
        "PAPERBOT_SOURCES__HUGGINGFACE__ENABLED": "false",
        "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
        # INFO lines ("logging in using static token") are progress; any warning would show here.
        "PAPERBOT_LOG__LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert out == b""
    assert proc.returncode is not None
    return proc.returncode, err.decode()


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err  # no (voice) warnings, no traceback, nothing but the line
    (line,) = lines
    assert TOKEN not in line and "Authorization" not in line
    for marker in ("ConnectionKey(", "RequestInfo(", "Error(", "<"):
        assert marker not in line, line
    return line


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("refused", "{host} refused the connection (is anything listening on that port?)"),
        ("tls", "TLS handshake with {host} failed ("),
        ("dns", f"could not resolve {UNRESOLVABLE_HOST} (DNS lookup failed: "),
        ("redirect loop", "{host} redirected too many times (a redirect loop)"),
    ],
)
async def test_a_failed_start_is_one_line_in_words(tmp_path: Path, case: str, expected: str) -> None:
    async with BrokenPeers() as peers:
        host, base = {
            "refused": (f"127.0.0.1:{peers.refused_port}", f"http://127.0.0.1:{peers.refused_port}/api/v10"),
            "tls": (f"127.0.0.1:{peers.plain_port}", f"https://127.0.0.1:{peers.plain_port}/api/v10"),
            "dns": (UNRESOLVABLE_HOST, f"https://{UNRESOLVABLE_HOST}/api/v10"),
            "redirect loop": (peers.http_url.removeprefix("http://"), f"{peers.http_url}/loop/api/v10"),
        }[case]
        code, err = await _paperbot_run(tmp_path, base)
    assert code == 1
    line = _one_line(err)
    assert line.startswith(f"paperbot: could not start on Discord at {base}: {expected.format(host=host)}"), line


async def test_a_rejected_token_is_the_rejected_token_line(tmp_path: Path) -> None:
    async with BrokenPeers() as peers:
        code, err = await _paperbot_run(tmp_path, f"{peers.http_url}/unauthorized/api/v10")
    assert code == 1
    assert _one_line(err).startswith("paperbot: Discord rejected the token (401 Unauthorized)")


async def test_a_redirect_loop_does_not_print_the_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Regression: the start-up line used to print repr(exc), and aiohttp's TooManyRedirects repr holds the
    request headers — `Authorization: Bot <token>`."""
    async with BrokenPeers() as peers:
        settings = load_settings(
            Path(os.devnull),
            environ={
                "DISCORD_TOKEN": TOKEN,
                "PAPERBOT_DISCORD__API_BASE_URL": f"{peers.http_url}/loop/api/v10",
                "PAPERBOT_DATABASE__PATH": str(tmp_path / "papers.db"),
                "PAPERBOT_SOURCES__HUGGINGFACE__ENABLED": "false",
                "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
            },
        )
        assert await asyncio.wait_for(run_bot(settings), timeout=30) == 1
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert err.strip().endswith("redirected too many times (a redirect loop)")
