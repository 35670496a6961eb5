"""The `paperbot` CLI as a user runs it: real subprocesses, exit codes, stdout/stderr and `--json` shapes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixture_server import Fault, FixtureServer

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.secret-token-value-xyz"


@dataclass
class Result:
    code: int
    out: str
    err: str


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> Result:
    """Run `python -m bot ARGS` without blocking the event loop (the fixture server lives on it)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))} | env
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=full_env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


@pytest.fixture
def env(fixture_server: FixtureServer, tmp_path: Path) -> dict[str, str]:
    return fixture_server.environ() | {"PAPERBOT_DATABASE__PATH": str(tmp_path / "data" / "papers.db")}


@pytest.fixture
async def ingested(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    result = await run_cli("ingest", "--since", "2024-03-13", "--until", "2024-05-31", env=env, cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out == ""
    assert "ingested 80 of 80 day(s)" in result.err
    return env


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text


async def test_search_json_shape_and_ranking(ingested: dict[str, str], tmp_path: Path) -> None:
    result = await run_cli("search", "video generation", "--json", "--limit", "5", env=ingested, cwd=tmp_path)
    assert result.code == 0, result.err
    hits = json.loads(result.out)
    assert 1 <= len(hits) <= 5
    for hit in hits:
        assert {"id", "title", "authors", "published", "upvotes", "url"} <= hit.keys()
        assert isinstance(hit["authors"], list)
        assert "v" not in hit["id"].split(".")[-1]
    assert "video" in hits[0]["title"].lower()


async def test_search_human_output_and_no_results(ingested: dict[str, str], tmp_path: Path) -> None:
    result = await run_cli("search", "video generation", env=ingested, cwd=tmp_path)
    assert result.code == 0 and " 1. " in result.out
    none = await run_cli("search", "xyzzyplugh", env=ingested, cwd=tmp_path)
    assert none.code == 0 and "No papers match" in none.out
    hostile = await run_cli("search", 'NEAR( "title: *', "--json", env=ingested, cwd=tmp_path)
    assert hostile.code == 0 and isinstance(json.loads(hostile.out), list)


@pytest.mark.parametrize(
    "query",
    [
        "2403.07815",
        "2403.07815v2",
        "https://arxiv.org/abs/2403.07815v1",
        "https://huggingface.co/papers/2403.07815",
        "Chronos: Learning the Language of Time Series",
    ],
)
async def test_abstract_by_id_url_and_title(ingested: dict[str, str], tmp_path: Path, query: str) -> None:
    result = await run_cli("abstract", query, "--json", env=ingested, cwd=tmp_path)
    assert result.code == 0, result.err
    paper = json.loads(result.out)
    assert paper["id"] == "2403.07815"
    assert {"id", "title", "authors", "abstract", "published", "upvotes", "url"} <= paper.keys()
    assert paper["abstract"].startswith("We introduce Chronos")


async def test_abstract_fetches_unknown_paper_from_arxiv_and_stores_it(
    env: dict[str, str], tmp_path: Path, fixture_server: FixtureServer
) -> None:
    first = await run_cli("abstract", "1605.08386", env=env, cwd=tmp_path)
    assert first.code == 0, first.err
    assert "Heat-bath random walks with Markov bases" in first.out
    assert fixture_server.requests_to("/api/query")
    fixture_server.clear_requests()
    again = await run_cli("abstract", "1605.08386", "--json", env=env, cwd=tmp_path)
    assert again.code == 0 and json.loads(again.out)["id"] == "1605.08386"
    assert not fixture_server.requests_to("/api/query"), "second lookup must be served from the catalogue"


async def test_abstract_not_found_exits_1_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    result = await run_cli("abstract", "0000.00000", "--json", env=env, cwd=tmp_path)
    assert result.code == 1
    assert result.out == ""
    assert len(result.err.strip().splitlines()) == 1, result.err
    title = await run_cli("abstract", "a title nobody wrote", env=env, cwd=tmp_path)
    assert title.code == 1 and "no paper found" in title.err


async def test_db_stats_json(ingested: dict[str, str], tmp_path: Path) -> None:
    result = await run_cli("db", "stats", "--json", env=ingested, cwd=tmp_path)
    assert result.code == 0
    stats = json.loads(result.out)
    assert {"papers", "days", "first_day", "last_day", "db_bytes", "backend"} <= set(stats)
    assert stats["backend"] == "sqlite"
    assert stats["papers"] == 199 and stats["days"] == 17
    assert (stats["first_day"], stats["last_day"]) == ("2024-03-13", "2024-05-31")


async def test_config_check_redacts_the_token(tmp_path: Path) -> None:
    result = await run_cli("config", "check", env={"DISCORD_TOKEN": TOKEN}, cwd=tmp_path)
    assert result.code == 0, result.err
    assert TOKEN not in result.out + result.err
    assert "**********" in result.out
    assert "[database]" in result.out and "[sources.huggingface]" in result.out


async def test_config_given_before_or_after_the_subcommand(tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('[database]\npath = "elsewhere.db"\n')
    for args in (("--config", str(config), "config", "check"), ("config", "check", "--config", str(config))):
        result = await run_cli(*args, env={}, cwd=tmp_path)
        assert result.code == 0, result.err
        assert "elsewhere.db" in result.out


async def test_bad_config_exits_2_naming_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[digest]\ntimezone = "Mars/Olympus"\ntop_nn = 3\n')
    result = await run_cli("db", "stats", env={}, cwd=tmp_path)
    assert result.code == 2
    _no_traceback(result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 2, lines
    assert all("config.toml" in line for line in lines)
    assert any("digest.timezone" in line for line in lines)
    assert any("top_nn" in line for line in lines)


async def test_usage_errors_exit_2(tmp_path: Path) -> None:
    for args in (("search",), ("ingest", "--date", "yesterday"), ("frobnicate",), ("search", "x", "--limit", "0")):
        result = await run_cli(*args, env={}, cwd=tmp_path)
        assert result.code == 2, args
        _no_traceback(result.err)
    missing = await run_cli("--config", str(tmp_path / "nope.toml"), "db", "stats", env={}, cwd=tmp_path)
    assert missing.code == 2 and "nope.toml" in missing.err


async def test_ingest_date_range_order_is_checked(env: dict[str, str], tmp_path: Path) -> None:
    result = await run_cli("ingest", "--since", "2024-05-31", "--until", "2024-03-13", env=env, cwd=tmp_path)
    assert result.code == 2 and "after" in result.err


async def test_ingest_single_date_and_failure_exit_code(
    env: dict[str, str], tmp_path: Path, fixture_server: FixtureServer
) -> None:
    ok = await run_cli("ingest", "--date", "2024-03-13", env=env, cwd=tmp_path)
    assert ok.code == 0 and "ingested 1 of 1" in ok.err
    fixture_server.fail_next("/api/daily_papers", [Fault.html()])
    bad = await run_cli("ingest", "--date", "2024-03-15", env=env, cwd=tmp_path)
    assert bad.code == 1
    _no_traceback(bad.err)
    assert "2024-03-15" in bad.err


async def test_python_m_bot_matches_console_script(tmp_path: Path) -> None:
    result = await run_cli("--version", env={}, cwd=tmp_path)
    assert result.code == 0 and result.out.startswith("paperbot ")
