"""`paperbot db copy --to …` as a user runs it: counts, a second run that changes nothing, clear failures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.catalogue import NewPost, open_catalogue
from bot.models import RolePing, Subscription
from tests.robustness._proc import run_bot_cli
from tests.stores import fixture_days


async def _filled_file(path: Path) -> None:
    async with await open_catalogue(path) as catalogue:
        for day, entries in fixture_days().items():
            await catalogue.record_day(day, entries)


async def test_copy_to_a_file_prints_counts_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    source, target = tmp_path / "papers.db", tmp_path / "copy" / "papers.db"
    await _filled_file(source)
    env = {"PAPERBOT_DATABASE__PATH": str(source)}
    first = await run_bot_cli("db", "copy", "--to", str(target), env=env, cwd=tmp_path)
    assert first.code == 0, first.err
    assert "212 papers read, 212 changed; 18 days read, 18 changed" in first.err and str(target) in first.err
    second = await run_bot_cli("db", "copy", "--to", str(target), env=env, cwd=tmp_path)
    assert second.code == 0, second.err
    assert "changes since the last copy: 0 papers read, 0 changed" in second.err
    stats = await run_bot_cli("db", "stats", "--json", env={"PAPERBOT_DATABASE__PATH": str(target)}, cwd=tmp_path)
    assert '"papers": 212' in stats.out


async def test_a_malformed_target_is_a_usage_error_that_never_shows_the_password(tmp_path: Path) -> None:
    env = {"PAPERBOT_DATABASE__PATH": str(tmp_path / "papers.db")}
    bad = await run_bot_cli("db", "copy", "--to", "postgresql://bob:hunter2secret@:notaport/x", env=env, cwd=tmp_path)
    assert bad.code == 2
    assert "hunter2secret" not in bad.err + bad.out
    assert bad.err.startswith("paperbot: --to:") and len(bad.err.strip().splitlines()) == 1


async def test_copying_into_itself_is_refused_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "papers.db"
    await _filled_file(source)
    same = await run_bot_cli(
        "db", "copy", "--to", str(source), env={"PAPERBOT_DATABASE__PATH": str(source)}, cwd=tmp_path
    )
    assert same.code == 1
    assert "is the catalogue being copied" in same.err and "Traceback" not in same.err


async def test_copy_brings_the_digest_settings_posts_and_their_edits(tmp_path: Path) -> None:
    source, target = tmp_path / "papers.db", tmp_path / "copy" / "papers.db"
    now, day = dt.datetime(2026, 11, 26, 8, tzinfo=dt.UTC), dt.date(2026, 11, 26)
    sub = Subscription(5, guild_id=9, thread=True, pings=(RolePing(11, ("rl",)),), update_after_hours=6)
    async with await open_catalogue(source) as catalogue:
        await catalogue.digests.subscribe(sub, now=now)
        new = NewPost(dt.date(2026, 11, 25), payload="[1]", nonces={1: "n1"}, guild_id=9)
        assert await catalogue.digests.claim_post(5, day, owner="a", lease_until=now, now=now, new=new)
        assert await catalogue.digests.record_thread(5, day, owner="a", thread_id=1001)
        assert await catalogue.digests.record_part(5, day, 1, 1001, owner="a", now=now)
        assert await catalogue.digests.finish_post(5, day, "posted", owner="a", now=now, edit_at=now)
        wanted = (await catalogue.digests.subscriptions(), await catalogue.digests.all_posts())
        wanted_edits = await catalogue.digests.all_edits()
    env = {"PAPERBOT_DATABASE__PATH": str(source)}
    copied = await run_bot_cli("db", "copy", "--to", str(target), env=env, cwd=tmp_path)
    assert copied.code == 0, copied.err
    assert "1 digest subscriptions, 1 post records, 1 post edits" in copied.err
    async with await open_catalogue(target) as catalogue:
        assert (await catalogue.digests.subscriptions(), await catalogue.digests.all_posts()) == wanted
        assert await catalogue.digests.all_edits() == wanted_edits and wanted_edits[0].state == "due"
