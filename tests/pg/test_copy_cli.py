"""`paperbot db copy --to postgresql://…` as a user runs it: counts, the target named without its password, a
second run that changes nothing, and the copy readable from PostgreSQL by the other commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.catalogue import open_catalogue
from tests.postgres import PostgresServer
from tests.robustness._proc import run_bot_cli
from tests.stores import fixture_days, postgres_catalogue_url


async def test_copy_a_file_to_postgresql_and_read_it_there(
    request: pytest.FixtureRequest, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    source, url = tmp_path / "papers.db", postgres_catalogue_url(request)
    async with await open_catalogue(source) as catalogue:
        for day, entries in fixture_days().items():
            await catalogue.record_day(day, entries)
    env = {"PAPERBOT_DATABASE__PATH": str(source)}
    first = await run_bot_cli("db", "copy", "--to", url, env=env, cwd=tmp_path)
    assert first.code == 0, first.err
    assert "212 papers read, 212 changed; 18 days read, 18 changed" in first.err
    assert "→ postgresql://paperbot@127.0.0.1:" in first.err
    second = await run_bot_cli("db", "copy", "--to", url, env=env, cwd=tmp_path)
    assert second.code == 0, second.err
    assert "changes since the last copy: 0 papers read, 0 changed" in second.err
    on_postgres = {"PAPERBOT_DATABASE__URL": url}
    stats = await run_bot_cli("db", "stats", "--json", env=on_postgres, cwd=tmp_path)
    assert json.loads(stats.out)["papers"] == 212
    found = await run_bot_cli("search", "chronos", "--json", env=on_postgres, cwd=tmp_path)
    assert "2403.07815" in [paper["id"] for paper in json.loads(found.out)]
    for result in (first, second, stats, found):
        assert postgres_server.password not in result.out + result.err
