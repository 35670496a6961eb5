"""`/paper digest status` and `paperbot digest status [--json]` after real failures, through the real bot on the
fake Discord: a channel without Send Messages, a channel that does not exist, the source down when a list is
due, a post whose thread could not be started — each with its reason and what to do, beside the last post's
link and the next post's time. The CLI reads the same catalogue in another process, without Discord.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import Catalogue
from bot.config import Settings, load_settings
from bot.errors import SourceError
from bot.models import DailyEntry
from fake_discord import Channel, FakeDiscord, Overwrite, P, ids
from tests.digest.conftest import Clock, entries, open_catalogue
from tests.digest.test_digest_features import (
    LIST_DAY,
    POST_DAY,
    bot_posts,
    bot_process,
    features_world,
    part_of,
    week_lists,
)
from tests.digest.test_discord_digest import NEW_CHANNEL_ID, PAPERS_CHANNEL_ID, at, command, settings_for, step_to
from tests.test_cli import run_cli

GONE_CHANNEL_ID = 1_400_000_000_000_000_555  # in the config file, not on the server
LATE_CHANNEL_ID = 1_400_000_000_000_000_666  # posts at 00:30 UTC: the list of the day just ended


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[features_world()]) as server:
        yield server
        server.assert_clean()


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(tmp_path / "papers.db")
    for day, papers in week_lists().items():
        await cat.record_day(day, entries(day, papers))
    try:
        yield cat
    finally:
        await cat.close()


async def source_down(day: dt.date) -> None:
    """The runtime's refresh when Hugging Face answers 503 for good."""
    raise SourceError("huggingface", "the server answered 503", status=503)


def config_file(fake: FakeDiscord, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[digest]
time = "09:00"
timezone = "UTC"
top_n = 3

[[digest.channels]]
channel_id = {ids.GENERAL_CHANNEL_ID}
thread = true

[[digest.channels]]
channel_id = {PAPERS_CHANNEL_ID}

[[digest.channels]]
channel_id = {GONE_CHANNEL_ID}

[[digest.channels]]
channel_id = {LATE_CHANNEL_ID}
time = "00:30"
""",
        encoding="utf-8",
    )
    env = {
        "PAPERBOT_DATABASE__PATH": str(tmp_path / "papers.db"),
        "PAPERBOT_DISCORD__TOKEN": fake.token,
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DISCORD__GUILD_IDS": json.dumps([ids.GUILD_ID]),
    }
    return config, env


def settings_from(config: Path, env: dict[str, str]) -> Settings:
    return load_settings(config, environ=env)


async def test_digest_status_in_discord_and_in_the_cli(fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path) -> None:
    guild = fake.guilds[0]
    guild.channels.append(Channel(id=LATE_CHANNEL_ID, name="late", position=8))
    general = guild.channel(ids.GENERAL_CHANNEL_ID)
    papers = guild.channel(PAPERS_CHANNEL_ID)
    assert general is not None and papers is not None
    general.overwrites.append(Overwrite(id=ids.BOT_ROLE_ID, type=0, deny=int(P.CREATE_PUBLIC_THREADS)))
    papers.overwrites.append(Overwrite(id=ids.BOT_ROLE_ID, type=0, deny=int(P.SEND_MESSAGES)))
    config, env = config_file(fake, tmp_path)
    settings = settings_from(config, env)
    clock = Clock(at(2026, 10, 23, 12))
    async with bot_process(fake, catalogue, clock, settings, refresh=source_down) as service:
        await fake.wait_for_commands(ids.GUILD_ID)
        await command(fake, "paper digest subscribe", channel=NEW_CHANNEL_ID)  # then someone deletes the channel
        deleted = guild.channel(NEW_CHANNEL_ID)
        assert deleted is not None
        guild.channels.remove(deleted)
        await fake.gateway.dispatch("CHANNEL_DELETE", deleted.to_dict(guild.id))
        # 24th 09:00: the list of the 23rd is stored, so the posts go out although the source is down;
        # 25th 00:30: the list of the 24th is not, and the source is down: the late channel waits.
        await step_to(clock, service.scheduler, at(2026, 10, 25, 1))
        late_days = {part_of(m)[0] for m in bot_posts(fake, LATE_CHANNEL_ID)}  # type: ignore[index]
        assert late_days == {POST_DAY}  # the 24th's post; the 25th's waits for the source
        text = await command(fake, "paper digest status")
        one = await command(fake, "paper digest status", channel=LATE_CHANNEL_ID)
        member = await command(fake, "paper digest status", user_id=ids.MEMBER_USER_ID)
    first = bot_posts(fake, ids.GENERAL_CHANNEL_ID)[0]
    link = f"https://discord.com/channels/{ids.GUILD_ID}/{ids.GENERAL_CHANNEL_ID}/{first.id}"

    # Discord: every subscription with its last post (linked), next post, and each failure with what to do.
    assert "Digest status" in text and link in text
    assert "Give my role Create Public Threads" in text  # the thread: the post landed, the thread did not
    assert "50013" in text and "Give my role View Channel, Send Messages" in text  # missing permission
    assert "no longer exists" in text and f"unsubscribe channel_id:{NEW_CHANNEL_ID}" in text  # deleted
    assert str(GONE_CHANNEL_ID) not in text  # a config channel on no server of this guild is not shown here
    assert "source did not answer" in text and "retried every 10 minutes" in text  # source down
    assert f"<t:{int(at(2026, 10, 25, 9).timestamp())}:f>" in text  # the next post of the 09:00 channels
    assert f"<#{LATE_CHANNEL_ID}>" in one and f"<#{ids.GENERAL_CHANNEL_ID}>" not in one
    assert "Manage Server" in member

    # The CLI: the same, from the catalogue alone.
    result = await run_cli("digest", "status", "--json", "--config", str(config), env=env, cwd=tmp_path)
    assert result.code == 0, result.err
    by_channel = {entry["channel_id"]: entry for entry in json.loads(result.out)}
    assert set(by_channel) == {
        ids.GENERAL_CHANNEL_ID,
        PAPERS_CHANNEL_ID,
        GONE_CHANNEL_ID,
        LATE_CHANNEL_ID,
        NEW_CHANNEL_ID,
    }
    assert by_channel[NEW_CHANNEL_ID]["guild_id"] == ids.GUILD_ID
    assert by_channel[NEW_CHANNEL_ID]["failure"]["kind"] == "channel_deleted"
    assert "/paper digest unsubscribe" in by_channel[NEW_CHANNEL_ID]["failure"]["advice"]
    general_entry: dict[str, Any] = by_channel[ids.GENERAL_CHANNEL_ID]
    assert general_entry["guild_id"] == ids.GUILD_ID  # a config channel: the post recorded its server
    assert general_entry["next_post"].endswith("T09:00:00+00:00")  # the CLI's now is the machine's clock
    assert general_entry["last_post"] == {"state": "posted", "at": "2026-10-24T09:00:00+00:00", "message_url": link}
    assert (
        general_entry["failure"]["kind"] == "thread" and "Create Public Threads" in general_entry["failure"]["advice"]
    )
    assert by_channel[PAPERS_CHANNEL_ID]["failure"]["kind"] == "missing_permission"
    assert by_channel[PAPERS_CHANNEL_ID]["last_post"]["state"] == "failed"
    assert by_channel[PAPERS_CHANNEL_ID]["last_post"]["message_url"] is None
    gone = by_channel[GONE_CHANNEL_ID]["failure"]
    assert gone["kind"] == "channel_deleted" and gone["since"] == "2026-10-24T09:00:00+00:00"
    assert "config file" in gone["advice"]
    late = by_channel[LATE_CHANNEL_ID]
    assert late["last_post"]["at"] == "2026-10-24T00:30:00+00:00" and late["failure"]["kind"] == "source_down"
    assert "503" in late["failure"]["reason"] and late["next_post"].endswith("T00:30:00+00:00")
    assert set(general_entry["failure"]) == {"kind", "reason", "since", "advice"}

    plain = await run_cli("digest", "status", "--config", str(config), env=env, cwd=tmp_path)
    assert plain.code == 0 and link in plain.out and "what to do:" in plain.out and "source did not answer" in plain.out
    usage = await run_cli("digest", "--config", str(config), env=env, cwd=tmp_path)
    assert usage.code == 2 and "--dry-run" in usage.err


async def test_the_source_back_within_grace_posts_and_clears_the_failure(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", [{"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9)}])
    calls: list[dt.date] = []

    async def flaky(day: dt.date) -> None:
        calls.append(day)
        if len(calls) <= 2:
            raise SourceError("huggingface", "the server answered 503", status=503)
        earlier = await catalogue.day_entries(day - dt.timedelta(days=1))
        await catalogue.record_day(day, [DailyEntry(day, e.paper, e.upvotes) for e in earlier])

    clock = Clock(at(2026, 10, 24, 12))
    async with bot_process(fake, catalogue, clock, settings, refresh=flaky) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 25, 9, 5))  # list of the 24th: not stored yet
        sub = await service.subscription(ids.GENERAL_CHANNEL_ID)
        assert sub is not None and "source did not answer" in (sub.failing_reason or "")
        assert {m.id for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID)} == set()  # no misleading "no papers" post
        await step_to(clock, service.scheduler, at(2026, 10, 25, 9, 25))  # the third refresh works
        sub = await service.subscription(ids.GENERAL_CHANNEL_ID)
        assert sub is not None and sub.failing_reason is None
    assert calls == [dt.date(2026, 10, 24)] * 3
    record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, dt.date(2026, 10, 25))
    assert record is not None and record.state == "posted"
    assert (record.list_day, record.local_date) == (LIST_DAY + dt.timedelta(days=1), POST_DAY + dt.timedelta(days=1))
