"""The Discord token never leaves the process: not in logs, errors, tracebacks, `config check` or the database.

`python -m bot run --debug` runs as a real subprocess against the loopback fake Discord (which accepts only
the known token, so the bot provably used it) and the loopback fixture server, at DEBUG level. The test drives
it through every path that logs: command sync, interactions (search, abstract, autocomplete, trending, an
admin command from a non-admin), an upstream outage that ends in an error traceback, a gateway drop and
RESUME (whose payload carries the token), and SIGTERM. Then it searches everything the bot wrote: stdout,
stderr, the database file with its WAL and shared-memory files, and the output of `config check` (token from
the environment and from the TOML file), a failing `abstract --debug` and a run with a rejected token.

Covered elsewhere, referenced not repeated: the database file is created 0600
(tests/catalogue/test_store.py::test_database_file_is_owner_only); the Dockerfile runs as a non-root user
(tests/test_dockerfile.py); the redacting log filter itself (tests/test_log.py).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalogue import open_catalogue
from fake_discord import FakeDiscord, ids
from tests.fixture_server import Fault, FixtureServer
from tests.robustness._proc import run_bot_cli, start_bot
from tests.stores import fixture_days

# Token-shaped (base64 user id . timestamp . HMAC), unique enough that any leak is unambiguous.
TOKEN = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GqZx7p.Zr4Vt9-LeakCanary_b6Q2mW8sK1dN3fH5jL7pR0tY"
SECRET_PART = TOKEN.rsplit(".", 1)[1]
WRONG_TOKEN = "MTIwMDAwMDAwMDAwMDAwMDAwMQ.GwRong.WrongCanary_x8Y2zQ4vB6nM1kJ3hG5fD7sA9"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN) as server:
        yield server


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "papers.db"
    async with await open_catalogue(path) as catalogue:
        for day, entries in fixture_days().items():
            await catalogue.record_day(day, entries)
    return path


def _env(fake: FakeDiscord, server: FixtureServer, db: Path, token: str = TOKEN) -> dict[str, str]:
    return server.environ() | {
        "PAPERBOT_DISCORD__TOKEN": token,
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DISCORD__GUILD_IDS": f"[{ids.GUILD_ID}]",
        "PAPERBOT_DATABASE__PATH": str(db),
        "PAPERBOT_LOG__LEVEL": "DEBUG",
    }


def _assert_no_token(where: str, data: str | bytes) -> None:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    for secret in (TOKEN, SECRET_PART, WRONG_TOKEN, WRONG_TOKEN.rsplit(".", 1)[1]):
        assert secret not in text, f"the token leaked into {where}"


async def _drive_the_bot(fake: FakeDiscord, server: FixtureServer) -> None:
    """Exercise every logging path of a running bot."""
    handle = await fake.slash("paper search", query="video generation", user_id=ids.MEMBER_USER_ID)
    assert (await handle.original(timeout=15)).embeds
    handle = await fake.slash("paper abstract", title="2403.07815", user_id=ids.MEMBER_USER_ID)
    assert (await handle.original(timeout=15)).embeds
    choices = await (await fake.autocomplete("paper abstract", "title", title="chro")).choices(timeout=15)
    assert choices
    handle = await fake.slash("paper trending", period="month", user_id=ids.MEMBER_USER_ID)
    assert (await handle.original(timeout=15)).embeds
    # Both sources broken for an unknown paper (unusable answers: no backoff) -> the error path.
    server.fail_next("/api/query", [Fault.html()])
    server.fail_next("/api/papers/2404.99999", [Fault.html()])
    handle = await fake.slash("paper abstract", title="2404.99999", user_id=ids.MEMBER_USER_ID)
    assert (await handle.original(timeout=15)).content
    # Discord refusing the answer itself (400 on the followup): an unexpected error, logged with its traceback.
    fake.fail_next("/webhooks/*", status=400, code=50035, times=1)
    handle = await fake.slash("paper search", query="language model", user_id=ids.MEMBER_USER_ID)
    await handle.wait_for(lambda: len(handle.requests) >= 3 or None, timeout=15, what="the error message")
    # An admin command from a member whose client showed it anyway.
    handle = await fake.slash("paper digest list", user_id=ids.MEMBER_USER_ID)
    await handle.response(timeout=15)
    # A dropped gateway: discord.py sends RESUME, which carries the token.
    resumes = len(fake.gateway.resumes)
    await fake.gateway.disconnect(code=4000)
    await fake.wait_for(lambda: len(fake.gateway.resumes) > resumes, timeout=20, what="a RESUME")
    handle = await fake.slash("paper search", query="diffusion", user_id=ids.MEMBER_USER_ID)
    assert (await handle.original(timeout=15)).embeds


async def test_token_never_appears_in_anything_the_bot_writes(
    fake: FakeDiscord, fixture_server: FixtureServer, db: Path, tmp_path: Path
) -> None:
    env = _env(fake, fixture_server, db)
    process = await start_bot("run", "--debug", env=env, cwd=tmp_path)
    try:
        await fake.wait_for(lambda: fake.gateway.identifies, timeout=30, what="the bot to identify")
        await fake.wait_for_commands(ids.GUILD_ID, timeout=15)
        await _drive_the_bot(fake, fixture_server)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()[-3000:]

    # The bot really used the token, and really logged at DEBUG with tracebacks: the search below can fail.
    assert fake.gateway.identifies[0]["token"] == TOKEN
    log = err.decode()
    assert "Synced" in log and "Traceback" in log and "RESUMED" in log and "missing Manage Server" in log, log
    _assert_no_token("stdout", out)
    _assert_no_token("stderr (logs, tracebacks)", err)
    for suffix in ("", "-wal", "-shm"):
        path = db.with_name(db.name + suffix)
        if path.exists():
            _assert_no_token(f"the database file {path.name}", path.read_bytes())
    written = await asyncio.to_thread(lambda: [p for p in tmp_path.rglob("*") if p.is_file()])
    for path in written:  # anything else it may have created (journals, caches)
        _assert_no_token(str(path), path.read_bytes())


async def test_token_never_appears_in_config_check_errors_or_a_rejected_login(
    fake: FakeDiscord, fixture_server: FixtureServer, db: Path, tmp_path: Path
) -> None:
    env = _env(fake, fixture_server, db)
    check = await run_bot_cli("config", "check", env=env, cwd=tmp_path)
    assert check.code == 0 and "**********" in check.out, check.err
    _assert_no_token("config check (token from the environment)", check.out + check.err)

    config = tmp_path / "config.toml"
    config.write_text(f'[discord]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    file_env = {k: v for k, v in env.items() if k not in {"PAPERBOT_DISCORD__TOKEN", "PAPERBOT_DISCORD__GUILD_IDS"}}
    check = await run_bot_cli("config", "check", "--config", str(config), env=file_env, cwd=tmp_path)
    assert check.code == 0 and "**********" in check.out, check.err
    _assert_no_token("config check (token from the file)", check.out + check.err)

    bad = tmp_path / "bad.toml"
    bad.write_text(f'[discord]\ntoken = "{TOKEN}"\nguild_ids = "{TOKEN}"\n', encoding="utf-8")
    check = await run_bot_cli("config", "check", "--config", str(bad), env=file_env, cwd=tmp_path)
    assert check.code == 2 and "guild_ids" in check.err
    _assert_no_token("config errors", check.out + check.err)

    fixture_server.fail_next("/api/query", [Fault.html()])
    fixture_server.fail_next("/api/papers/2404.99999", [Fault.html()])
    failing = await run_bot_cli("abstract", "2404.99999", "--debug", env=env, cwd=tmp_path)
    assert failing.code == 1
    _assert_no_token("a failing command's --debug traceback", failing.out + failing.err)

    rejected = await run_bot_cli("run", "--debug", env=_env(fake, fixture_server, db, WRONG_TOKEN), cwd=tmp_path)
    assert rejected.code == 1 and "rejected the token" in rejected.err
    _assert_no_token("a rejected login", rejected.out + rejected.err)
