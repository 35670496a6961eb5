"""`paperbot search --mode`, `paperbot similar`, `paperbot db embed` and `db stats`' vector count, as a user
runs them (real subprocesses, a real catalogue, the bundled model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.catalogue import open_catalogue
from bot.search import open_search
from tests.robustness._proc import run_bot_cli
from tests.stores import fixture_days

CHRONOS = "2403.07815"


async def _small_catalogue(db: Path) -> int:
    """Two fixture days (Chronos among them); returns the paper count."""
    async with await open_catalogue(db) as catalogue:
        for day, entries in list(fixture_days().items())[:3]:
            await catalogue.record_day(day, entries)
        assert await catalogue.get(CHRONOS) is not None
        return await catalogue.count_papers()


@pytest.fixture
async def env(tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "papers.db"
    await _small_catalogue(db)
    return {"PAPERBOT_DATABASE__PATH": str(db)}


async def _stats(env: dict[str, str], cwd: Path) -> dict[str, object]:
    result = await run_bot_cli("db", "stats", "--json", env=env, cwd=cwd)
    assert result.code == 0, result.err
    data: dict[str, object] = json.loads(result.out)
    return data


async def test_db_embed_embeds_every_paper_once(env: dict[str, str], tmp_path: Path) -> None:
    before = await _stats(env, tmp_path)
    assert before["embedded"] == 0
    first = await run_bot_cli("db", "embed", env=env, cwd=tmp_path, limit_s=600)
    assert first.code == 0, first.err
    papers = before["papers"]
    assert f"{papers:,} of {papers:,} papers have a vector" in first.err
    assert (await _stats(env, tmp_path))["embedded"] == papers
    again = await run_bot_cli("db", "embed", env=env, cwd=tmp_path, limit_s=600)
    assert again.code == 0 and f"{papers:,} of {papers:,}" in again.err


async def test_db_embed_beside_a_running_bot_follows_its_progress(env: dict[str, str], tmp_path: Path) -> None:
    db = Path(env["PAPERBOT_DATABASE__PATH"])
    catalogue = await open_catalogue(db)
    try:
        async with open_search(catalogue, db.with_name(db.name + ".index"), role="bot") as bot:
            assert bot.follower.holds_lease
            result = await run_bot_cli("db", "embed", env=env, cwd=tmp_path, limit_s=600)
            assert result.code == 0, result.err
            assert "writes the search views and is embedding" in result.err
            assert await bot.embedded() == await catalogue.count_papers()
    finally:
        await catalogue.close()


async def test_db_embed_without_a_model_is_one_line_and_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    result = await run_bot_cli(
        "db", "embed", env={**env, "PAPERBOT_SEARCH__MODEL": str(tmp_path / "no-model-here")}, cwd=tmp_path
    )
    assert result.code == 1
    assert result.err.startswith("paperbot: cannot embed:") and len(result.err.strip().splitlines()) == 1
    assert "never downloads models" in result.err


async def test_similar_and_search_modes_from_the_command_line(env: dict[str, str], tmp_path: Path) -> None:
    assert (await run_bot_cli("db", "embed", env=env, cwd=tmp_path, limit_s=600)).code == 0
    similar = await run_bot_cli("similar", CHRONOS, "--json", "--limit", "3", env=env, cwd=tmp_path)
    assert similar.code == 0, similar.err
    found = json.loads(similar.out)
    assert len(found) == 3 and CHRONOS not in [p["id"] for p in found]
    assert {"id", "title", "authors", "published", "upvotes", "url"} <= set(found[0])
    for mode in ("keyword", "semantic", "hybrid"):
        result = await run_bot_cli("search", "chronos time series", "--mode", mode, "--json", env=env, cwd=tmp_path)
        assert result.code == 0, result.err
        assert json.loads(result.out)[0]["id"] == CHRONOS, mode
    typo = await run_bot_cli("search", "chronso time series", env=env, cwd=tmp_path)
    assert "Did you mean: chronos time series" in typo.err
    unknown = await run_bot_cli("similar", "no such paper title at all", env=env, cwd=tmp_path)
    assert unknown.code == 1 and "no paper found" in unknown.err
