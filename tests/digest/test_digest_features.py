"""The digest features beyond the daily post, end to end: the real PaperBot and DigestService on the loopback fake
Discord, with a hand-moved clock — a thread per post, topic role pings, settled upvotes, weekly recaps.

Each feature is checked where Discord would show it: threads the fake created (and the 160004 it would answer a
second start with), who each message pinged by the fake's effective-mention records, the fake's edit history of
each part, the messages in the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import Catalogue
from bot.config import Settings
from bot.digest.schedule import Scheduler
from bot.digest.service import DigestService
from bot.discord_ui.client import PaperBot
from bot.discord_ui.digest_sink import DiscordDigestSink
from bot.models import Paper
from bot.render.digest import parse_marker, thread_name
from bot.render.specs import MessageSpec
from bot.search import open_search
from bot.stores import index_folder
from fake_discord import FakeDiscord, Overwrite, P, Role, ids, running_client
from fake_discord.messages import StoredMessage
from tests.digest.conftest import Clock, Crash, entries, make_paper, open_catalogue
from tests.digest.test_discord_digest import NEW_CHANNEL_ID, at, command, settings_for, step_to, world

UTC = dt.UTC
ROBOTS_ROLE = 1_400_000_000_000_000_901
QUANTUM_ROLE = 1_400_000_000_000_000_902
DIFFUSION_ROLE = 1_400_000_000_000_000_903
LIST_DAY = dt.date(2026, 10, 23)
POST_DAY = dt.date(2026, 10, 24)
THREAD_ROUTE = "POST /channels/*/messages/*/threads"


def features_world() -> Any:
    guild = world()
    guild.roles += [
        Role(id=ROBOTS_ROLE, name="robots", mentionable=True),
        Role(id=QUANTUM_ROLE, name="quantum", mentionable=True),
        Role(id=DIFFUSION_ROLE, name="diffusion", mentionable=True),
    ]
    return guild


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[features_world()]) as server:
        yield server
        server.assert_clean()


def paper(n: int, title: str, upvotes: int, **fields: Any) -> Paper:
    return make_paper(n, title=title, upvotes=upvotes, abstract=f"About {title.lower()}. " * 30, **fields)


def week_lists() -> dict[dt.date, list[Paper]]:
    """Lists of 17–23 October: on each day a robot paper, a diffusion paper and fillers; the 23rd's are long."""
    lists: dict[dt.date, list[Paper]] = {}
    for offset in range(7):
        day = LIST_DAY - dt.timedelta(days=offset)
        base = 100 * (offset + 1)
        papers = [
            paper(base + 1, f"Robot grasping {day}", 40 + offset),
            paper(base + 2, f"Diffusion for video {day}", 30 + offset),
            # Paper text that would ping if anything were allowed: @everyone and a role mention.
            paper(base + 3, f"@everyone look <@&{QUANTUM_ROLE}> {day}", 20 + offset),
        ]
        papers += [paper(base + 10 + i, f"Filler study {i} {day}", 10 - i % 10) for i in range(12)]
        lists[day] = papers
    return lists


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(tmp_path / "papers.db")
    for day, papers in week_lists().items():
        await cat.record_day(day, entries(day, papers))
    try:
        yield cat
    finally:
        await cat.close()


SinkWrapper = Callable[[DiscordDigestSink], DiscordDigestSink]


@asynccontextmanager
async def bot_process(
    fake: FakeDiscord,
    catalogue: Catalogue,
    clock: Clock,
    settings: Settings,
    *,
    owner: str | None = None,
    sink: Callable[[PaperBot], DiscordDigestSink] | None = None,
    refresh: Callable[[dt.date], Awaitable[object]] | None = None,
    scheduler_running: bool = True,
) -> AsyncIterator[DigestService]:
    """One bot process composed like bot.runtime (PaperBot owns the digest), on the moved clock."""
    scheduler = Scheduler(now=clock)
    stack = contextlib.AsyncExitStack()
    search = await stack.enter_async_context(open_search(catalogue, index_folder(settings), role="bot"))
    bot = PaperBot(
        settings,
        catalogue=catalogue,
        search=search,
        sources=None,
        scheduler=scheduler,
        digest_refresh=refresh,
        digest_owner=owner,
    )
    service = bot.digest
    assert service is not None
    service.now = clock
    if sink is not None:
        service.sink = sink(bot)
    if scheduler_running:
        scheduler.start()
    try:
        async with stack, running_client(fake, bot, guild_ready_timeout=0.05):
            await asyncio.wait_for(service.ready.wait(), timeout=10)
            yield service
    finally:
        scheduler.shutdown()


def bot_posts(fake: FakeDiscord, channel_id: int) -> list[StoredMessage]:
    return [m for m in fake.channel_messages(channel_id) if int(m.author["id"]) == ids.BOT_USER_ID]


def part_of(message: StoredMessage) -> tuple[dt.date, int, int] | None:
    for embed in message.embeds:
        found = parse_marker((embed.get("footer") or {}).get("text", ""))
        if found:
            return found
    return None


def titles(message: StoredMessage) -> list[str]:
    return [e.get("title", "") for e in message.embeds]


def channel(**keys: Any) -> dict[str, Any]:
    return {"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9), "timezone": "UTC", **keys}


# ---- a thread per post ----------------------------------------------------------------------------------------


async def test_thread_true_starts_one_public_thread_from_the_posts_first_message(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", [channel(thread=True, top_n=12)])
    clock = Clock(at(2026, 10, 23, 12))
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 25, 9, 30))
    posts = bot_posts(fake, ids.GENERAL_CHANNEL_ID)
    firsts = [m for m in posts if (part_of(m) or (None, 0))[1] == 1]
    assert [part_of(m)[0] for m in firsts] == [POST_DAY, dt.date(2026, 10, 25)]  # type: ignore[index]
    threads = fake.threads(ids.GENERAL_CHANNEL_ID)
    assert [t.id for t in threads] == [m.id for m in firsts]  # one thread per post, from its first message
    assert threads[0].name == thread_name(LIST_DAY) and threads[0].type == 11
    assert len(fake.requests_to(THREAD_ROUTE)) == 2
    record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, POST_DAY)
    assert record is not None and record.thread_id == firsts[0].id and record.thread_error is None


async def test_without_create_public_threads_the_post_lands_and_the_status_says_what_to_do(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    channel_world = next(c for c in fake.guilds[0].channels if c.id == ids.GENERAL_CHANNEL_ID)
    channel_world.overwrites.append(Overwrite(id=ids.BOT_ROLE_ID, type=0, deny=int(P.CREATE_PUBLIC_THREADS)))
    settings = settings_for(fake, tmp_path / "papers.db", [channel(thread=True)])
    clock = Clock(at(2026, 10, 23, 12))
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 24, 11))  # post time, then 12 catch-up runs
        posts = bot_posts(fake, ids.GENERAL_CHANNEL_ID)
        assert posts and {part_of(m)[0] for m in posts} == {POST_DAY}  # type: ignore[index]  # the post landed
        assert fake.threads() == []
        attempts = fake.requests_to(THREAD_ROUTE)
        assert [(r.status, r.code) for r in attempts] == [(403, 50013)]  # tried once, not on every catch-up
        record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, POST_DAY)
        assert (
            record is not None and record.state == "posted" and "Create Public Threads" in (record.thread_error or "")
        )
        text = await command(fake, "paper digest status")
        assert "Create Public Threads" in text and "Give my role Create Public Threads" in text
        assert f"https://discord.com/channels/{ids.GUILD_ID}/{ids.GENERAL_CHANNEL_ID}/" in text


class ThreadThenCrash(DiscordDigestSink):
    """The real sink; the process dies right after Discord started the thread, before it is recorded."""

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        await super().start_thread(channel_id, message_id, name)
        raise Crash


async def test_a_takeover_after_a_crash_finds_the_thread_instead_of_starting_a_second(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", [channel(thread=True)])
    clock = Clock(at(2026, 10, 24, 8, 59))  # started before the post time: its start-up makes no post
    async with bot_process(fake, catalogue, clock, settings, sink=ThreadThenCrash, scheduler_running=False) as dying:
        clock.set(at(2026, 10, 24, 9))
        with pytest.raises(Crash):
            await dying._post_due((await dying.subscriptions())[0])
    assert len(fake.threads()) == 1
    record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, POST_DAY)
    assert record is not None and record.state == "posting" and record.thread_id is None
    clock.advance(minutes=3)  # the dead process's lease has run out
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 30))
    assert len(fake.threads()) == 1
    assert [(r.status, r.code) for r in fake.requests_to(THREAD_ROUTE)] == [(200, 0)]  # never tried twice
    record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, POST_DAY)
    assert record is not None and record.state == "posted" and record.thread_id == fake.threads()[0].id
    parts = [part_of(m) for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID)]
    assert [p[1] for p in parts] == list(range(1, parts[0][2] + 1))  # type: ignore[index]  # each part once


async def test_a_second_start_answered_160004_gives_the_existing_thread(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with bot_process(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as service:
        sink = service.sink
        assert isinstance(sink, DiscordDigestSink)
        message_id = await sink.send(ids.GENERAL_CHANNEL_ID, MessageSpec(content="a post"))
        assert await sink.thread_of(ids.GENERAL_CHANNEL_ID, message_id) is None
        first = await sink.start_thread(ids.GENERAL_CHANNEL_ID, message_id, "Daily Papers")
        assert await sink.start_thread(ids.GENERAL_CHANNEL_ID, message_id, "Daily Papers") == first == message_id
        assert await sink.thread_of(ids.GENERAL_CHANNEL_ID, message_id) == first
    assert [r.code for r in fake.requests_to(THREAD_ROUTE)] == [0, 160004]
    assert len(fake.threads()) == 1
    fake.requests.clear()  # the 160004 was provoked on purpose


async def test_subscribe_thread_option_and_its_permission_warning(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    new_channel = next(c for c in fake.guilds[0].channels if c.id == NEW_CHANNEL_ID)
    new_channel.overwrites.append(Overwrite(id=ids.BOT_ROLE_ID, type=0, deny=int(P.CREATE_PUBLIC_THREADS)))
    settings = settings_for(fake, tmp_path / "papers.db")
    async with bot_process(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as service:
        await fake.wait_for_commands(ids.GUILD_ID)
        text = await command(fake, "paper digest subscribe", channel=ids.GENERAL_CHANNEL_ID, thread=True)
        assert "a thread per post" in text and "can't start threads" not in text
        sub = await service.subscription(ids.GENERAL_CHANNEL_ID)
        assert sub is not None and sub.thread
        text = await command(fake, "paper digest subscribe", channel=NEW_CHANNEL_ID, thread=True)
        assert "can't start threads there yet" in text and "Create Public Threads" in text
        await command(fake, "paper digest subscribe", channel=ids.GENERAL_CHANNEL_ID, top_n=3)
        sub = await service.subscription(ids.GENERAL_CHANNEL_ID)
        assert sub is not None and sub.thread and sub.top_n == 3  # left out: kept


# ---- topic role pings -----------------------------------------------------------------------------------------


async def test_a_post_pings_exactly_the_roles_whose_keywords_match_and_paper_text_pings_nobody(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    pings = [
        {"role_id": ROBOTS_ROLE, "keywords": ["robot", "manipulation"]},
        {"role_id": QUANTUM_ROLE, "keywords": ["quantum"]},  # no paper is about quantum anything
    ]
    settings = settings_for(fake, tmp_path / "papers.db", [channel(top_n=15, pings=pings)])
    clock = Clock(at(2026, 10, 23, 12))
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 5))
    posts = bot_posts(fake, ids.GENERAL_CHANNEL_ID)
    assert len(posts) >= 2  # the ping line sits on the first part; the others ping nobody
    first, *rest = posts
    assert first.pings is not None and first.pings.roles == (ROBOTS_ROLE,) and not first.pings.everyone
    assert first.pings.users == () and first.content.startswith(f"<@&{ROBOTS_ROLE}> — papers on robot")
    assert "quantum" not in first.content
    for message in rest:
        assert message.pings is not None and message.pings.nobody
    assert any("everyone look" in t for m in posts for t in titles(m))  # the hostile paper is there, escaped
    assert not any(m.mention_everyone for m in posts)


async def test_no_matching_paper_no_ping(fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path) -> None:
    settings = settings_for(
        fake,
        tmp_path / "papers.db",
        [channel(pings=[{"role_id": ROBOTS_ROLE, "keywords": ["robot"]}], keywords=["video"])],
    )
    clock = Clock(at(2026, 10, 23, 12))
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 5))
    [post] = bot_posts(fake, ids.GENERAL_CHANNEL_ID)  # only the diffusion-for-video paper: no robots
    assert not post.content and post.pings is not None and post.pings.nobody


async def test_ping_and_unping_commands_change_who_the_next_post_pings(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", [channel()])
    clock = Clock(at(2026, 10, 23, 12))
    async with bot_process(fake, catalogue, clock, settings) as service:
        await fake.wait_for_commands(ids.GUILD_ID)
        text = await command(
            fake, "paper digest ping", role=ROBOTS_ROLE, keywords="robot, , Robot", channel=ids.GENERAL_CHANNEL_ID
        )
        assert f"<@&{ROBOTS_ROLE}>" in text and "“robot”" in text
        await command(
            fake, "paper digest ping", role=DIFFUSION_ROLE, keywords="diffusion", channel=ids.GENERAL_CHANNEL_ID
        )
        await command(fake, "paper digest ping", role=QUANTUM_ROLE, keywords="quantum", channel=ids.GENERAL_CHANNEL_ID)
        text = await command(fake, "paper digest unping", role=DIFFUSION_ROLE, channel=ids.GENERAL_CHANNEL_ID)
        assert "no longer mention" in text
        sub = await service.subscription(ids.GENERAL_CHANNEL_ID)
        assert sub is not None and [(p.role_id, p.keywords) for p in sub.pings] == [
            (ROBOTS_ROLE, ("robot",)),
            (QUANTUM_ROLE, ("quantum",)),
        ]
        refused = await command(fake, "paper digest ping", role=ROBOTS_ROLE, keywords="x", channel=NEW_CHANNEL_ID)
        assert "subscribe it first" in refused
        member = await command(
            fake,
            "paper digest ping",
            user_id=ids.MEMBER_USER_ID,
            role=ROBOTS_ROLE,
            keywords="x",
            channel=ids.GENERAL_CHANNEL_ID,
        )
        assert "Manage Server" in member
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 5))
    first = bot_posts(fake, ids.GENERAL_CHANNEL_ID)[0]
    assert first.pings is not None and first.pings.roles == (ROBOTS_ROLE,)


# ---- settled upvotes ------------------------------------------------------------------------------------------


class UpvoteRefresh:
    """What the runtime's refresh does (re-fetch the day's list), with the list's upvotes as they are later."""

    def __init__(self, catalogue: Catalogue, bump: int) -> None:
        self.catalogue = catalogue
        self.bump = bump
        self.days: list[dt.date] = []
        self.bumped = False

    async def __call__(self, day: dt.date) -> None:
        self.days.append(day)
        if not self.bumped:
            return
        upvoted = [dataclasses.replace(p, upvotes=(p.upvotes or 0) + self.bump) for p in week_lists()[day]]
        # A late paper with more upvotes than any: it must not enter the post by the edit.
        upvoted.append(paper(999, "Robot latecomer", 10_000))
        await self.catalogue.record_day(day, entries(day, upvoted))


def descriptions(message: StoredMessage) -> list[str]:
    return [e.get("description", "") for e in message.embeds]


async def test_a_post_is_edited_once_n_hours_later_with_settled_upvotes_same_papers_same_order(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", [channel(top_n=15, update_after_hours=6)])
    refresh = UpvoteRefresh(catalogue, bump=1000)
    clock = Clock(at(2026, 10, 23, 12))
    async with bot_process(fake, catalogue, clock, settings, refresh=refresh) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 24, 14, 59))
        before = [(m.id, titles(m), m.content, descriptions(m)) for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID)]
        assert len(before) >= 2 and all(not m.edits for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID))
        refresh.bumped = True
        await step_to(clock, service.scheduler, at(2026, 10, 26, 12))  # the edit, and two days of catch-ups
    after = bot_posts(fake, ids.GENERAL_CHANNEL_ID)
    mine = [m for m in after if part_of(m) and part_of(m)[0] == POST_DAY]  # type: ignore[index]
    assert [m.id for m in mine] == [mid for mid, _, _, _ in before]  # no new message for the 24th
    for message, (_, old_titles, content, old_descriptions) in zip(mine, before, strict=True):
        assert len(message.edits) == 1  # one edit per part
        assert titles(message) == old_titles and message.content == content  # same papers, same order
        footer = message.embeds[-1]["footer"]["text"]
        assert "upvotes as of 24 Oct 15:00 UTC" in footer and parse_marker(footer)[0] == POST_DAY  # type: ignore[index]
        for old, new in zip(old_descriptions, descriptions(message), strict=True):
            if "▲ " in old:  # a paper: its upvotes are those of 15:00, the rest of the embed as it was
                votes = int(old.split("▲ ")[1].split(" ")[0])
                assert new == old.replace(f"▲ {votes}", f"▲ {votes + 1000}")
    assert "▲ 40" in descriptions(before_first := mine[0])[1].replace("▲ 1040", "▲ 40")  # the top paper: 40 → 1040
    assert "▲ 1040" in descriptions(before_first)[1]
    assert "latecomer" not in " ".join(t for m in mine for t in titles(m))
    assert LIST_DAY in refresh.days  # the list was refreshed before the edit
    edit = await catalogue.digests.edit(ids.GENERAL_CHANNEL_ID, POST_DAY)
    assert edit is not None and edit.state == "edited" and edit.edited_parts == frozenset(range(1, len(mine) + 1))
    # The 25th's post (list of the 24th, empty here) is a note: it gets its own edit, also once.
    assert all(len(m.edits) <= 1 for m in after)


class EditThenCrash(DiscordDigestSink):
    """The real sink; the process dies right after Discord applied its first edit, before it is recorded."""

    async def edit(self, channel_id: int, message_id: int, message: MessageSpec) -> bool:
        await super().edit(channel_id, message_id, message)
        raise Crash


async def test_the_edit_is_made_exactly_once_across_a_crash_and_a_second_process(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", [channel(top_n=15, update_after_hours=2)])
    clock = Clock(at(2026, 10, 24, 8))
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 5))
    parts = bot_posts(fake, ids.GENERAL_CHANNEL_ID)
    assert len(parts) >= 2
    clock.set(at(2026, 10, 24, 10, 59))  # started before the edit is due: its start-up edits nothing
    async with bot_process(fake, catalogue, clock, settings, sink=EditThenCrash, scheduler_running=False) as dying:
        clock.set(at(2026, 10, 24, 11, 5))
        with pytest.raises(Crash):
            await dying._edit_due(ids.GENERAL_CHANNEL_ID, POST_DAY)
    assert [len(m.edits) for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID)] == [1] + [0] * (len(parts) - 1)
    clock.advance(minutes=6)  # its lease has run out
    # Two processes now: both run their catch-up; the edit's claim lets one of them finish it.
    async with (
        bot_process(fake, catalogue, clock, settings) as first,
        bot_process(fake, catalogue, clock, settings) as second,
    ):
        await asyncio.gather(first.catch_up(), second.catch_up())
    assert [len(m.edits) for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID)] == [1] * len(parts)
    assert len(bot_posts(fake, ids.GENERAL_CHANNEL_ID)) == len(parts)
    edit = await catalogue.digests.edit(ids.GENERAL_CHANNEL_ID, POST_DAY)
    assert edit is not None and edit.state == "edited"


# ---- weekly recaps --------------------------------------------------------------------------------------------


async def test_a_weekly_subscription_posts_the_weeks_most_upvoted_once_a_week(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    # Saturday 24 October 2026: the recap of the list days 17–23 October.
    settings = settings_for(fake, tmp_path / "papers.db", [channel(cadence="weekly", weekday="saturday", top_n=5)])
    clock = Clock(at(2026, 10, 19, 12))
    async with bot_process(fake, catalogue, clock, settings) as service:
        status = next(s for s in await service.statuses())
        assert status.next_post == at(2026, 10, 24, 9)
        await step_to(clock, service.scheduler, at(2026, 10, 28, 12))
    posts = bot_posts(fake, ids.GENERAL_CHANNEL_ID)
    assert [part_of(m)[:2] for m in posts] == [(POST_DAY, 1)]  # type: ignore[index]
    header, *papers = posts[0].embeds
    assert header["title"] == "Hugging Face Daily Papers — week 2026-10-17 – 2026-10-23"
    expected = [f"Robot grasping {LIST_DAY - dt.timedelta(days=d)}" for d in (6, 5, 4, 3, 2)]  # 46, 45, … upvotes
    assert [e["title"].split(". ", 1)[1] for e in papers] == expected
    assert "Weekly recap 2026-10-17 – 2026-10-23" in papers[-1]["footer"]["text"]


async def test_a_weekly_recap_missed_beyond_its_grace_is_not_made_late(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(
        fake, tmp_path / "papers.db", [channel(cadence="weekly", weekday="saturday")], grace_hours=2
    )
    async with bot_process(fake, catalogue, Clock(at(2026, 10, 19, 12)), settings):
        pass  # first seen on Monday
    clock = Clock(at(2026, 10, 24, 10, 30))  # back within the grace of Saturday's 09:00: posted late, once
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 10, 24, 12))
    assert [part_of(m)[1] for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID)] == [1, 2]  # type: ignore[index]
    clock.set(at(2026, 10, 31, 11, 30))  # the next Saturday, 2.5 h late: beyond the grace
    async with bot_process(fake, catalogue, clock, settings) as service:
        await step_to(clock, service.scheduler, at(2026, 11, 1, 12))
    assert {part_of(m)[0] for m in bot_posts(fake, ids.GENERAL_CHANNEL_ID)} == {POST_DAY}  # type: ignore[index]
