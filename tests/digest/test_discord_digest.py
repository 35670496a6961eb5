"""The digest end to end: the real PaperBot and DigestService logged into the loopback fake Discord.

The bot is composed as `bot.runtime` does it (PaperBot with a Scheduler owns the digest), except that the
scheduler and the service read a hand-moved clock, so three days pass in well under a second and nothing
sleeps. Digests travel through discord.py's REST client to the fake, which enforces Discord's limits and
permissions; the restart reconciliation reads the fake's real channel history.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import pytest
from pydantic import SecretStr

from bot.config import DigestChannelSettings, DigestSettings, DiscordSettings, Settings
from bot.digest.schedule import Scheduler
from bot.digest.service import DigestService
from bot.discord_ui.client import PaperBot
from bot.discord_ui.digest_sink import DiscordDigestSink
from bot.models import Subscription
from bot.render.digest import parse_marker
from bot.render.specs import MessageSpec
from bot.search import open_search
from bot.stores import index_folder
from fake_discord import Channel, FakeDiscord, ids, running_client
from fake_discord.messages import StoredMessage
from fake_discord.world import default_guild
from tests.digest.conftest import Clock, Crash, entries, make_paper, open_catalogue

UTC = dt.UTC
PAPERS_CHANNEL_ID = 1_400_000_000_000_000_777
NEW_CHANNEL_ID = 1_400_000_000_000_000_888


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=UTC)


def settings_for(fake: FakeDiscord, db: Path, channels: list[dict[str, Any]] | None = None, **digest: Any) -> Settings:
    return Settings(
        discord=DiscordSettings(token=SecretStr(fake.token), api_base_url=fake.api_base_url, guild_ids=[ids.GUILD_ID]),
        database={"path": db},  # type: ignore[arg-type]
        digest=DigestSettings(**digest, channels=[DigestChannelSettings(**c) for c in channels or []]),
    )


TWO_CHANNELS = [
    {"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9), "timezone": "Europe/Berlin", "top_n": 3},
    {"channel_id": PAPERS_CHANNEL_ID, "time": dt.time(8, 30), "timezone": "America/New_York", "top_n": 25},
]


def world() -> Any:
    guild = default_guild()
    guild.channels.append(Channel(id=PAPERS_CHANNEL_ID, name="papers", position=6))
    guild.channels.append(Channel(id=NEW_CHANNEL_ID, name="new-papers", position=7))
    return guild


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[world()]) as server:
        yield server
        server.assert_clean()


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Any]:
    cat = await open_catalogue(tmp_path / "papers.db")
    for offset in range(12):
        day = dt.date(2026, 10, 18) + dt.timedelta(days=offset)
        long_abstract = "A long abstract sentence about scaling laws. " * 200
        papers = [
            make_paper(offset * 100 + n, upvotes=5 * n, abstract=long_abstract, title=f"Paper {offset}-{n} " * 12)
            for n in range(1, 31)
        ]
        await cat.record_day(day, entries(day, papers))
    try:
        yield cat
    finally:
        await cat.close()


class CrashingSink(DiscordDigestSink):
    """The real sink, but the process "dies" after `allowed` messages."""

    def __init__(self, client: discord.Client, allowed: int) -> None:
        super().__init__(client)
        self.allowed = allowed

    async def send(self, channel_id: int, message: MessageSpec) -> int:
        if self.allowed <= 0:
            raise Crash
        self.allowed -= 1
        return await super().send(channel_id, message)


@asynccontextmanager
async def running_bot(
    fake: FakeDiscord, catalogue: Any, clock: Clock, settings: Settings, *, crash_after: int | None = None
) -> AsyncIterator[tuple[PaperBot, DigestService]]:
    """One bot process: composed like bot.runtime, with the moved clock; leaving the block stops it."""
    scheduler = Scheduler(now=clock)
    stack = contextlib.AsyncExitStack()
    search = await stack.enter_async_context(open_search(catalogue, index_folder(settings), role="bot"))
    bot = PaperBot(settings, catalogue=catalogue, search=search, sources=None, scheduler=scheduler)
    service = bot.digest
    assert service is not None
    service.now = clock
    if crash_after is not None:
        service.sink = CrashingSink(bot, crash_after)
    if crash_after is None:
        # The crashing process runs no scheduler: the test makes its one post by hand, so no catch-up job
        # can finish that post before the "crash".
        scheduler.start()
    try:
        async with stack, running_client(fake, bot, guild_ready_timeout=0.05):
            await asyncio.wait_for(service.ready.wait(), timeout=10)
            yield bot, service
    finally:
        scheduler.shutdown()


async def step_to(clock: Clock, scheduler: Scheduler, until: dt.datetime) -> list[dt.datetime]:
    """Move the clock run time by run time up to `until`, waking the scheduler at each; return the times."""
    times: list[dt.datetime] = []
    while True:
        upcoming = [t for j in scheduler.job_ids() if (t := scheduler.next_run(j)) is not None and t <= until]
        if not upcoming:
            break
        clock.set(min(upcoming))
        times.append(clock())
        await scheduler.wakeup()
    clock.set(until)
    await scheduler.wakeup()
    return times


def digests(fake: FakeDiscord, channel_id: int) -> dict[dt.date, list[StoredMessage]]:
    """The bot's digest messages in a channel, grouped by the local date in their footer marker."""
    out: dict[dt.date, list[StoredMessage]] = {}
    for message in fake.channel_messages(channel_id):
        footers = [(e.get("footer") or {}).get("text", "") for e in message.embeds]
        markers = [m for f in footers if (m := parse_marker(f))]
        if int(message.author["id"]) == ids.BOT_USER_ID and markers:
            out.setdefault(markers[0][0], []).append(message)
    return out


def post_days(fake: FakeDiscord, channel_id: int) -> list[dt.date]:
    return sorted(digests(fake, channel_id))


async def test_done_means_two_channels_three_days_exactly_three_digests_across_a_restart(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", TWO_CHANNELS)
    clock = Clock(at(2026, 10, 23, 20))  # the bot first runs on Friday evening (UTC)
    posted_at: dict[int, list[dt.datetime]] = {ids.GENERAL_CHANNEL_ID: [], PAPERS_CHANNEL_ID: []}

    async def advance(service: DigestService, until: dt.datetime) -> None:
        while True:
            jobs = [j for j in service.scheduler.job_ids() if j.startswith("digest:")]
            upcoming = [t for j in jobs if (t := service.scheduler.next_run(j)) is not None and t <= until]
            if not upcoming:
                break
            before = {c: len(fake.channel_messages(c)) for c in posted_at}
            await step_to(clock, service.scheduler, min(upcoming))
            for channel_id, count in before.items():
                if len(fake.channel_messages(channel_id)) > count:
                    posted_at[channel_id].append(clock())
        await step_to(clock, service.scheduler, until)

    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await advance(service, at(2026, 10, 25, 3))  # Sunday 04:00 Berlin (after the DST change at 01:00 UTC)
    # Restart: a new process, same database, same Discord.
    clock.set(at(2026, 10, 25, 3, 30))
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await advance(service, at(2026, 10, 26, 23))

    # Berlin 09:00: CEST (UTC+2) on the 24th, CET (UTC+1) from the 25th.
    assert posted_at[ids.GENERAL_CHANNEL_ID] == [at(2026, 10, 24, 7), at(2026, 10, 25, 8), at(2026, 10, 26, 8)]
    # New York 08:30 EDT (UTC-4) all three days.
    assert posted_at[PAPERS_CHANNEL_ID] == [
        at(2026, 10, 24, 12, 30),
        at(2026, 10, 25, 12, 30),
        at(2026, 10, 26, 12, 30),
    ]
    days = [dt.date(2026, 10, 24), dt.date(2026, 10, 25), dt.date(2026, 10, 26)]
    assert post_days(fake, ids.GENERAL_CHANNEL_ID) == days
    assert post_days(fake, PAPERS_CHANNEL_ID) == days
    # Every post is complete (all its parts, each once) and shows the previous UTC day's list.
    for channel_id in posted_at:
        for local_date, messages in digests(fake, channel_id).items():
            parts = [parse_marker((m.embeds[-1].get("footer") or {}).get("text", "")) for m in messages]
            assert [p[1] for p in parts if p] == list(range(1, parts[0][2] + 1))  # type: ignore[index]
            header = messages[0].embeds[0]
            assert header["url"] == f"https://huggingface.co/papers/date/{local_date - dt.timedelta(days=1)}"
            assert all(m.allowed_mentions == {"parse": []} for m in messages)
    # 25 papers with long abstracts: split across messages within Discord's limits (the fake enforces them).
    ny = digests(fake, PAPERS_CHANNEL_ID)[dt.date(2026, 10, 24)]
    assert sum(len(m.embeds) for m in ny) == 26 and len(ny) >= 3
    berlin = digests(fake, ids.GENERAL_CHANNEL_ID)[dt.date(2026, 10, 24)]
    assert len(berlin) == 1 and len(berlin[0].embeds) == 4
    assert berlin[0].embeds[1]["title"].startswith("1. Paper 5-30")  # highest upvotes of list day 23 Oct


async def test_crash_between_posting_and_posted_then_restart_completes_the_post_once(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", TWO_CHANNELS[1:])
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings):
        pass  # first seen
    clock.set(at(2026, 10, 24, 12, 29))
    async with running_bot(fake, catalogue, clock, settings, crash_after=1) as (_, service):
        clock.set(at(2026, 10, 24, 12, 30))
        with pytest.raises(Crash):
            await service.post_due(PAPERS_CHANNEL_ID)
    assert len(fake.channel_messages(PAPERS_CHANNEL_ID)) == 1
    record = await catalogue.digests.post(PAPERS_CHANNEL_ID, dt.date(2026, 10, 24))
    assert record.state == "posting"
    clock.set(at(2026, 10, 24, 13))
    async with running_bot(fake, catalogue, clock, settings):
        pass  # start-up reconciles: reads the channel, finds part 1, sends the rest
    messages = digests(fake, PAPERS_CHANNEL_ID)[dt.date(2026, 10, 24)]
    parts = [parse_marker(m.embeds[-1]["footer"]["text"]) for m in messages]
    assert [p[1] for p in parts if p] == list(range(1, len(messages) + 1)) and len(messages) >= 3
    assert (await catalogue.digests.post(PAPERS_CHANNEL_ID, dt.date(2026, 10, 24))).state == "posted"


async def test_down_at_post_time_back_within_grace_posts_once_after_grace_none(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", TWO_CHANNELS, grace_hours=3)
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings):
        pass
    clock.set(at(2026, 10, 24, 9, 30))  # Berlin's 09:00 (07:00 UTC) was 2.5 h ago; New York's is still ahead
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        assert post_days(fake, ids.GENERAL_CHANNEL_ID) == [dt.date(2026, 10, 24)]
        await step_to(clock, service.scheduler, at(2026, 10, 24, 11))
    clock.set(at(2026, 10, 25, 11, 30))  # Berlin's 09:00 (08:00 UTC) was 3.5 h ago: beyond the grace
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await step_to(clock, service.scheduler, at(2026, 10, 25, 13))
    assert post_days(fake, ids.GENERAL_CHANNEL_ID) == [dt.date(2026, 10, 24)]
    assert post_days(fake, PAPERS_CHANNEL_ID) == [dt.date(2026, 10, 25)]  # 24th: bot was down 12:30 UTC


async def command(fake: FakeDiscord, name: str, user_id: int = ids.ADMIN_USER_ID, **options: Any) -> str:
    """Run a slash command; return what the user sees (it must be ephemeral)."""
    handle = await fake.slash(name, user_id=user_id, **options)
    response = await handle.response()
    assert response.ephemeral, f"/{name} answered publicly"
    if response.type == 5:
        message = await handle.original()
        return message.text
    return str((response.data or {}).get("content", ""))


async def test_admin_commands_subscribe_list_preview_unsubscribe(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", TWO_CHANNELS[:1])
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await fake.wait_for_commands(ids.GUILD_ID)
        text = await command(
            fake,
            "paper digest subscribe",
            channel=NEW_CHANNEL_ID,
            time="7:05",
            timezone="asia/tokyo",
            top_n=4,
            keywords="scaling, , Scaling,  laws ",
            empty_days="week",
        )
        assert "gets the daily digest" in text and "07:05 Asia/Tokyo" in text and "top 4" in text
        sub = await service.subscription(NEW_CHANNEL_ID)
        assert sub is not None and sub.keywords == ("scaling", "laws") and sub.empty_days == "week"
        assert sub.guild_id == ids.GUILD_ID and sub.source == "db"
        assert service.scheduler.next_run(f"digest:{NEW_CHANNEL_ID}") == at(2026, 10, 23, 22, 5)
        # A moderator (Manage Server, not admin) may change it; options left out keep their values.
        text = await command(
            fake, "paper digest subscribe", user_id=ids.MODERATOR_USER_ID, channel=NEW_CHANNEL_ID, top_n=2
        )
        sub = await service.subscription(NEW_CHANNEL_ID)
        assert sub is not None and (sub.top_n, sub.timezone, sub.keywords) == (2, "Asia/Tokyo", ("scaling", "laws"))

        listing = await command(fake, "paper digest list")
        assert f"<#{NEW_CHANNEL_ID}>" in listing and f"<#{ids.GENERAL_CHANNEL_ID}>" in listing
        assert "config file" in listing and "next post" in listing and "last post: none yet" in listing
        assert f"<t:{int(at(2026, 10, 23, 22, 5).timestamp())}:f>" in listing

        handle = await fake.slash("paper digest preview", user_id=ids.ADMIN_USER_ID, channel=NEW_CHANNEL_ID)
        first = await handle.original()
        assert first.ephemeral and "Preview of today's digest" in first.text
        assert first.embeds[0]["title"].startswith("Hugging Face Daily Papers")
        assert fake.channel_messages(NEW_CHANNEL_ID) == []  # nothing public

        refused = await command(fake, "paper digest unsubscribe", channel=ids.GENERAL_CHANNEL_ID)
        assert "configuration file" in refused and f"channel_id = {ids.GENERAL_CHANNEL_ID}" in refused
        assert await service.subscription(ids.GENERAL_CHANNEL_ID) is not None

        text = await command(fake, "paper digest unsubscribe", channel=NEW_CHANNEL_ID)
        assert "no longer get" in text and await service.subscription(NEW_CHANNEL_ID) is None
        assert f"digest:{NEW_CHANNEL_ID}" not in service.scheduler.job_ids()


@pytest.mark.parametrize("user_id", [ids.MEMBER_USER_ID, ids.OTHER_USER_ID])
async def test_non_admins_are_refused_even_if_the_client_lets_them_invoke(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path, user_id: int
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as (_, service):
        await fake.wait_for_commands(ids.GUILD_ID)
        for name, options in [
            ("paper digest subscribe", {"channel": ids.GENERAL_CHANNEL_ID}),
            ("paper digest unsubscribe", {"channel": ids.GENERAL_CHANNEL_ID}),
            ("paper digest list", {}),
            ("paper digest preview", {}),
            ("paper digest status", {}),
            ("paper digest ping", {"role": ids.ADMIN_ROLE_ID, "keywords": "x", "channel": ids.GENERAL_CHANNEL_ID}),
            ("paper digest unping", {"role": ids.ADMIN_ROLE_ID, "channel": ids.GENERAL_CHANNEL_ID}),
        ]:
            text = await command(fake, name, user_id=user_id, **options)
            assert "Manage Server" in text, name
        assert await service.subscriptions() == []


@pytest.mark.parametrize(
    ("channel_id", "missing"),
    [
        (ids.ANNOUNCEMENTS_CHANNEL_ID, "Send Messages"),
        (ids.NO_EMBEDS_CHANNEL_ID, "Embed Links"),
        (ids.HIDDEN_CHANNEL_ID, "View Channel"),
    ],
)
async def test_subscribing_a_channel_the_bot_cannot_post_in_says_what_is_missing(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path, channel_id: int, missing: str
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as (_, service):
        await fake.wait_for_commands(ids.GUILD_ID)
        text = await command(fake, "paper digest subscribe", channel=channel_id)
        assert "can't post the digest" in text and missing in text
        assert await service.subscriptions() == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"time": "25:00"}, "HH:MM"),
        ({"time": "9am"}, "HH:MM"),
        ({"timezone": "Mars/Olympus"}, "IANA"),
        ({"keywords": ",".join(f"k{i}" for i in range(30))}, "At most 20 keywords"),
    ],
)
async def test_invalid_options_are_explained(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path, options: dict[str, Any], expected: str
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as (_, service):
        await fake.wait_for_commands(ids.GUILD_ID)
        text = await command(fake, "paper digest subscribe", channel=ids.GENERAL_CHANNEL_ID, **options)
        assert expected in text
        assert await service.subscriptions() == []


async def test_timezone_autocomplete(fake: FakeDiscord, catalogue: Any, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings):
        await fake.wait_for_commands(ids.GUILD_ID)
        handle = await fake.autocomplete(
            "paper digest subscribe",
            "timezone",
            channel=ids.GENERAL_CHANNEL_ID,
            timezone="ber",
            user_id=ids.ADMIN_USER_ID,
        )
        choices = await handle.choices()
        assert "Europe/Berlin" in [c["value"] for c in choices]
        handle = await fake.autocomplete(
            "paper digest subscribe",
            "timezone",
            channel=ids.GENERAL_CHANNEL_ID,
            timezone="a",
            user_id=ids.ADMIN_USER_ID,
        )
        assert len(await handle.choices()) == 25


async def test_a_channel_deleted_after_subscribing_is_marked_failing_and_not_retried(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await fake.wait_for_commands(ids.GUILD_ID)
        await command(fake, "paper digest subscribe", channel=NEW_CHANNEL_ID, time="09:00", timezone="UTC")
        guild = fake.guilds[0]
        channel = next(c for c in guild.channels if c.id == NEW_CHANNEL_ID)
        guild.channels.remove(channel)
        await fake.gateway.dispatch("CHANNEL_DELETE", channel.to_dict(guild.id))
        await step_to(clock, service.scheduler, at(2026, 10, 24, 15))  # post time, then 36 catch-up runs
        posts = [r for r in fake.requests_to("POST /channels/*/messages") if str(NEW_CHANNEL_ID) in r.path]
        assert len(posts) == 1 and posts[0].status == 404
        sub = await service.subscription(NEW_CHANNEL_ID)
        assert sub is not None and sub.failing_reason is not None and "no longer exists" in sub.failing_reason
        listing = await command(fake, "paper digest list")
        assert "failing since" in listing and "no longer exists" in listing
        # Discord's channel picker cannot select a deleted channel: its id is suggested and accepted instead.
        # (`options=`: the fake's own `channel_id=` keyword is where the command is invoked.)
        handle = await fake.autocomplete(
            "paper digest unsubscribe", "channel_id", options={"channel_id": ""}, user_id=ids.ADMIN_USER_ID
        )
        [choice] = await handle.choices()
        assert choice["value"] == str(NEW_CHANNEL_ID) and choice["name"].startswith("deleted channel — failing")
        text = await command(fake, "paper digest unsubscribe", options={"channel_id": str(NEW_CHANNEL_ID)})
        assert "no longer get" in text and await service.subscription(NEW_CHANNEL_ID) is None


async def test_a_channel_that_forbids_posting_after_subscribing_is_marked_failing(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await fake.wait_for_commands(ids.GUILD_ID)
        await command(fake, "paper digest subscribe", channel=NEW_CHANNEL_ID, time="09:00", timezone="UTC")
        # Someone takes Send Messages away from the bot's role afterwards.
        from fake_discord import Overwrite, P

        channel = next(c for c in fake.guilds[0].channels if c.id == NEW_CHANNEL_ID)
        channel.overwrites.append(Overwrite(id=ids.BOT_ROLE_ID, type=0, deny=int(P.SEND_MESSAGES)))
        await step_to(clock, service.scheduler, at(2026, 10, 24, 12))
        sub = await service.subscription(NEW_CHANNEL_ID)
        assert sub is not None and sub.failing_reason is not None and "50013" in sub.failing_reason
        posts = [r for r in fake.requests_to("POST /channels/*/messages") if str(NEW_CHANNEL_ID) in r.path]
        assert len(posts) == 1 and posts[0].status == 403


async def test_the_synced_digest_group_has_the_contract_options(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings):
        synced = await fake.wait_for_commands(ids.GUILD_ID)
    paper = next(c for c in synced if c["name"] == "paper")
    digest = next(o for o in paper["options"] if o["name"] == "digest")
    subs = {o["name"]: o for o in digest["options"]}
    assert sorted(subs) == ["list", "ping", "preview", "status", "subscribe", "unping", "unsubscribe"]
    options = {o["name"]: o for o in subs["subscribe"]["options"]}
    assert list(options) == [
        "channel",
        "time",
        "timezone",
        "top_n",
        "min_upvotes",
        "keywords",
        "empty_days",
        "thread",
        "update_after_hours",
        "cadence",
        "weekday",
    ]
    assert options["thread"]["type"] == 5 and options["update_after_hours"]["type"] == 10
    assert (options["update_after_hours"]["min_value"], options["update_after_hours"]["max_value"]) == (0, 168)
    assert [c["value"] for c in options["cadence"]["choices"]] == ["daily", "weekly"]
    assert len(options["weekday"]["choices"]) == 7
    assert [(o["name"], o.get("required")) for o in subs["ping"]["options"]] == [
        ("role", True),
        ("keywords", True),
        ("channel", True),
    ]
    assert [o["name"] for o in subs["unping"]["options"]] == ["role", "channel"]
    assert [(o["name"], o.get("required", False)) for o in subs["status"]["options"]] == [("channel", False)]
    assert options["channel"]["required"] and not any(options[n].get("required") for n in list(options)[1:])
    assert options["timezone"]["autocomplete"] is True
    assert (options["top_n"]["min_value"], options["top_n"]["max_value"]) == (1, 25)
    assert [c["value"] for c in options["empty_days"]["choices"]] == ["skip", "note", "week"]
    assert [o["name"] for o in subs["unsubscribe"]["options"]] == ["channel", "channel_id"]
    assert [o["name"] for o in subs["preview"]["options"]] == ["channel"]
    assert not subs["preview"]["options"][0].get("required")


@pytest.mark.parametrize("mode", ["skip", "note", "week"])
async def test_an_empty_day_in_each_mode(fake: FakeDiscord, catalogue: Any, tmp_path: Path, mode: str) -> None:
    channels = [{"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9), "timezone": "UTC", "empty_days": mode}]
    settings = settings_for(fake, tmp_path / "papers.db", channels, top_n=5)
    clock = Clock(at(2026, 11, 1, 12))  # the catalogue has lists up to 29 October: 1 November's is empty
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await step_to(clock, service.scheduler, at(2026, 11, 2, 9, 1))
    messages = fake.channel_messages(ids.GENERAL_CHANNEL_ID)
    record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, dt.date(2026, 11, 2))
    if mode == "skip":
        assert messages == [] and record.state == "skipped"
        return
    assert len(messages) == 1 and record.state == "posted"
    header = messages[0].embeds[0]
    assert "No papers were listed on 2026-11-01" in header["description"]
    if mode == "note":
        assert len(messages[0].embeds) == 1
    else:
        # The week 26 Oct – 1 Nov: its best five (lists of 26–29 October are stored).
        assert "best of the week" in header["title"] and len(messages[0].embeds) == 1 + 5


async def test_unsubscribe_by_id_is_limited_to_this_server(fake: FakeDiscord, catalogue: Any, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as (_, service):
        await fake.wait_for_commands(ids.GUILD_ID)
        # A subscription that belongs to another server.
        await service.subscribe(Subscription(channel_id=42, guild_id=777, time=dt.time(9), timezone="UTC"))
        text = await command(fake, "paper digest unsubscribe", options={"channel_id": "42"})
        assert "no digest subscription in this server" in text and await service.subscription(42) is not None
        assert "Give either" in await command(fake, "paper digest unsubscribe")
        both = await command(
            fake, "paper digest unsubscribe", options={"channel": ids.GENERAL_CHANNEL_ID, "channel_id": "42"}
        )
        assert "Give either" in both
        assert "must be a channel id" in await command(fake, "paper digest unsubscribe", options={"channel_id": "x"})
