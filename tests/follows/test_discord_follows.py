"""Follows end to end: the real PaperBot (which owns the FollowService and its Discord DM sink) logged into the
loopback fake Discord, with the scheduler on a hand-moved clock.

`/paper follow|following|unfollow` are answered ephemerally and keyed by the invoking user only; the daily DM
reaches the member's DM channel once, pinging nobody; closed DMs (Discord 50007) pause the member without a
retry storm; a transient failure is retried; a restart between claiming a DM and sending it (or between sending
it and recording it) still gives exactly one DM.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import pytest

from bot import metrics
from bot.catalogue import FOLLOW_LIMIT, Catalogue
from bot.config import Settings
from bot.digest.schedule import Scheduler
from bot.discord_ui.adapter import send_kwargs
from bot.discord_ui.client import PaperBot
from bot.discord_ui.follow_sink import DiscordFollowSink, dm_messages
from bot.follows import FollowDM, FollowService
from bot.models import DailyEntry, Paper
from bot.render.follows import parse_follow_marker
from bot.search import open_search
from bot.stores import index_folder
from fake_discord import FakeDiscord, ids, running_client
from fake_discord.messages import StoredMessage
from tests.digest.conftest import Clock, Crash, open_catalogue
from tests.digest.test_discord_digest import at, command, settings_for, step_to

UTC = dt.UTC
D24 = dt.date(2026, 11, 24)
MEMBER, OTHER = ids.MEMBER_USER_ID, ids.OTHER_USER_ID
SOLE_OWNER = "test-host:sole bot of papers.db"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        server.assert_clean()


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Catalogue]:
    cat = await open_catalogue(tmp_path / "papers.db")
    try:
        yield cat
    finally:
        await cat.close()


def paper(n: int, title: str, *, authors: tuple[str, ...] = ("Ann Lee",), upvotes: int = 10) -> Paper:
    return Paper(id=f"2611.{n:05d}", title=title, abstract="An abstract.", authors=authors, upvotes=upvotes)


async def list_papers(catalogue: Catalogue, day: dt.date, papers: Iterable[Paper], *, at: dt.datetime) -> None:
    known = await catalogue.day_papers(day)
    listed = {p.id: p for p in [*known, *papers]}
    await catalogue.record_day(day, [DailyEntry(day, p, p.upvotes or 0) for p in listed.values()], fetched_at=at)


@asynccontextmanager
async def bot_process(
    fake: FakeDiscord,
    catalogue: Catalogue,
    clock: Clock,
    settings: Settings,
    *,
    owner: str | None = SOLE_OWNER,
    sink: type[DiscordFollowSink] | None = None,
) -> AsyncIterator[PaperBot]:
    """One bot process composed like bot.runtime (PaperBot owns the follows), its scheduler on the moved clock;
    `owner` is the runtime's stable owner of the one bot on an SQLite file."""
    scheduler = Scheduler(now=clock)
    stack = contextlib.AsyncExitStack()
    search = await stack.enter_async_context(open_search(catalogue, index_folder(settings), role="bot"))
    bot = PaperBot(settings, catalogue=catalogue, search=search, sources=None, scheduler=scheduler, digest_owner=owner)
    assert bot.follows is not None
    if sink is not None:
        bot.follows.sink = sink(bot)
    scheduler.start()
    try:
        async with stack, running_client(fake, bot, guild_ready_timeout=0.05):
            await asyncio.wait_for(bot.follows.ready.wait(), timeout=10)
            await fake.wait_for_commands(ids.GUILD_ID)
            yield bot
    finally:
        scheduler.shutdown()


def follows_of(bot: PaperBot) -> FollowService:
    assert bot.follows is not None
    return bot.follows


def dm_parts(fake: FakeDiscord, user_id: int) -> list[tuple[dt.date, int, int]]:
    found = []
    for message in fake.dm_messages(user_id):
        for embed in message.embeds:
            marker = parse_follow_marker((embed.get("footer") or {}).get("text", ""))
            if marker:
                found.append(marker)
    return found


def dm_text(messages: list[StoredMessage]) -> str:
    return "\n".join(m.text for m in messages)


async def choices(fake: FakeDiscord, user_id: int, typed: str = "") -> list[dict[str, Any]]:
    handle = await fake.autocomplete("paper unfollow", "follow", options={"follow": typed}, user_id=user_id)
    return await handle.choices()


# ---- the commands ---------------------------------------------------------------------------------------------


async def test_follow_following_unfollow_are_each_members_own(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with bot_process(fake, catalogue, Clock(at(2026, 11, 24, 6)), settings):
        text = await command(fake, "paper follow", user_id=MEMBER, keywords="Diffusion, agents")
        assert "You follow keywords “Diffusion”, “agents”" in text and "1 of 25" in text
        assert f"<t:{int(at(2026, 11, 24, 8).timestamp())}:f>" in text  # the next DM time
        text = await command(fake, "paper follow", user_id=MEMBER, author="J. Smith", keywords="robots")
        assert "author “J. Smith” · keyword “robots”" in text
        again = await command(fake, "paper follow", user_id=MEMBER, keywords="agents,  diffusion")
        assert "already follow" in again and "2 of 25" in again
        nothing = await command(fake, "paper follow", user_id=MEMBER)
        assert "Follow keywords (comma-separated), an author, or both" in nothing
        bad_author = await command(fake, "paper follow", user_id=MEMBER, author="J.")
        assert "surname" in bad_author

        listing = await command(fake, "paper following", user_id=MEMBER)
        assert "Your follows (2 of 25)" in listing and "1. keywords “Diffusion”, “agents”" in listing
        assert "Next DM:" in listing and "paused" not in listing
        assert "You follow nothing yet" in await command(fake, "paper following", user_id=OTHER)

        # Suggestions are the member's own follows; another member sees none of them and cannot remove them.
        mine = await choices(fake, MEMBER)
        assert [c["name"] for c in mine] == ["keywords “Diffusion”, “agents”", "author “J. Smith” · keyword “robots”"]
        assert await choices(fake, OTHER) == []
        assert [c["name"] for c in await choices(fake, MEMBER, "smith")] == ["author “J. Smith” · keyword “robots”"]
        stolen = await command(fake, "paper unfollow", user_id=OTHER, follow=mine[0]["value"])
        assert "no such follow" in stolen
        text = await command(fake, "paper unfollow", user_id=MEMBER, follow=mine[0]["value"])
        assert "no longer follow keywords “Diffusion”, “agents”" in text and "1 follow(s) left" in text
        assert "no such follow" in await command(fake, "paper unfollow", user_id=MEMBER, follow=mine[0]["value"])
        assert "Pick one of your follows" in await command(fake, "paper unfollow", user_id=MEMBER, follow="diffusion")
        left = await follows_of_fake(catalogue, MEMBER)
        assert left == ["robots"]


async def follows_of_fake(catalogue: Catalogue, user_id: int) -> list[str]:
    follower = await catalogue.follows.follower(user_id)
    return [k for f in follower.follows for k in f.keywords] if follower else []


async def test_at_the_cap_a_member_is_told_what_to_do(fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with bot_process(fake, catalogue, Clock(at(2026, 11, 24, 6)), settings) as bot:
        for n in range(FOLLOW_LIMIT):
            await follows_of(bot).follow(MEMBER, guild_id=ids.GUILD_ID, keywords=f"topic{n}")
        text = await command(fake, "paper follow", user_id=MEMBER, keywords="one more")
        assert f"the most one member can have ({FOLLOW_LIMIT})" in text and "/paper unfollow" in text
        assert len(await choices(fake, MEMBER)) == FOLLOW_LIMIT  # every follow is suggested
        assert "(25 of 25)" in await command(fake, "paper following", user_id=MEMBER)


# ---- the daily DM -----------------------------------------------------------------------------------------------


async def test_one_dm_a_day_with_the_new_matching_papers_pinging_nobody(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    clock = Clock(at(2026, 11, 24, 6))
    before = metrics.scrape()
    async with bot_process(fake, catalogue, clock, settings) as bot:
        await command(fake, "paper follow", user_id=MEMBER, keywords="diffusion")
        await command(fake, "paper follow", user_id=OTHER, keywords="quantum")
        clock.set(at(2026, 11, 24, 7))
        await list_papers(
            catalogue,
            D24,
            [
                paper(1, "Latent diffusion at scale", upvotes=50),
                paper(2, "@everyone diffusion <@&1100000000000000002> party", upvotes=5),
                paper(3, "Graph networks"),
            ],
            at=clock(),
        )
        await step_to(clock, follows_of(bot).scheduler, at(2026, 11, 26, 12))
    messages = fake.dm_messages(MEMBER)
    assert [p[:2] for p in dm_parts(fake, MEMBER)] == [(D24, 1)]  # one DM, on the 24th; none after (nothing new)
    text = dm_text(messages)
    assert "Latent diffusion at scale" in text and "party" in text and "Graph networks" not in text
    assert text.index("Latent diffusion") < text.index("party")  # best first
    assert all(m.pings is not None and m.pings.nobody for m in messages) and not messages[0].mention_everyone
    assert messages[0].nonce is not None
    assert fake.dm_messages(OTHER) == []  # nothing matched: no DM
    after = metrics.scrape()
    assert _count(after, "sent") == _count(before, "sent") + 1


def _count(scrape: str, result: str) -> float:
    line = next(
        (x for x in scrape.splitlines() if x.startswith(f'paperbot_follow_dms_total{{result="{result}"}}')), None
    )
    return float(line.split()[-1]) if line else 0.0


async def test_closed_dms_pause_with_the_reason_shown_and_following_again_resumes(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    clock = Clock(at(2026, 11, 24, 6))
    fake.dms.close(MEMBER)
    async with bot_process(fake, catalogue, clock, settings) as bot:
        await command(fake, "paper follow", user_id=MEMBER, keywords="diffusion")
        await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
        await step_to(clock, follows_of(bot).scheduler, at(2026, 11, 25, 12))
        sends = [r for r in fake.requests_to("POST /channels/*/messages") if r.code == 50007]
        assert len(sends) == 1  # refused once; no retry that day or the next
        listing = await command(fake, "paper following", user_id=MEMBER)
        assert "Your DMs are paused" in listing and "50007" in listing and "follow again" in listing
        assert "Next DM" not in listing

        fake.dms.open(MEMBER)
        text = await command(fake, "paper follow", user_id=MEMBER, keywords="diffusion")
        assert "already follow" in text and "were paused; they are on again" in text
        assert "Your DMs are paused" not in await command(fake, "paper following", user_id=MEMBER)
        clock.set(at(2026, 11, 25, 13))
        await list_papers(catalogue, dt.date(2026, 11, 25), [paper(2, "Diffusion two")], at=clock())
        await step_to(clock, follows_of(bot).scheduler, at(2026, 11, 26, 9))
    assert [p[0] for p in dm_parts(fake, MEMBER)] == [dt.date(2026, 11, 26)]
    assert "Diffusion two" in dm_text(fake.dm_messages(MEMBER))
    fake.requests.clear()  # the 50007 was provoked on purpose


async def test_a_transient_failure_is_retried_later_that_day(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    clock = Clock(at(2026, 11, 24, 6))
    async with bot_process(fake, catalogue, clock, settings) as bot:
        await command(fake, "paper follow", user_id=MEMBER, keywords="diffusion")
        await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
        fake.fail_next("POST /channels/*/messages", status=503)
        await step_to(clock, follows_of(bot).scheduler, at(2026, 11, 24, 8, 5))
        assert fake.dm_messages(MEMBER) == []
        await step_to(clock, follows_of(bot).scheduler, at(2026, 11, 24, 9))
    assert [p[:2] for p in dm_parts(fake, MEMBER)] == [(D24, 1)]
    assert not (await catalogue.follows.follower(MEMBER)).paused  # type: ignore[union-attr]
    fake.requests.clear()


class CrashBeforeSending(DiscordFollowSink):
    """The process dies after the DM was claimed, before anything was sent."""

    async def send_dm(self, dm: FollowDM) -> None:
        raise Crash


class CrashAfterSending(DiscordFollowSink):
    """The process dies after Discord took the DM, before the DM was recorded as sent."""

    async def send_dm(self, dm: FollowDM) -> None:
        await super().send_dm(dm)
        raise Crash


class CrashAfterTheFirstPart(DiscordFollowSink):
    """The process dies when the first message of a DM of several has reached the member."""

    def __init__(self, client: discord.Client) -> None:
        super().__init__(client)
        self.client = client

    async def send_dm(self, dm: FollowDM) -> None:
        first, *rest = dm_messages(dm)
        assert rest, "the test needs a DM of several messages"
        channel = await self.client.create_dm(discord.Object(id=dm.user_id))
        await channel.send(**send_kwargs(first), nonce=first.nonce)
        raise Crash


async def test_a_dm_half_sent_before_a_crash_is_completed_without_repeating_a_part(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    clock = Clock(at(2026, 11, 24, 7, 59))
    async with bot_process(fake, catalogue, clock, settings, owner=None, sink=CrashAfterTheFirstPart) as dying:
        await command(fake, "paper follow", user_id=MEMBER, keywords="diffusion")
        long_titles = [
            paper(n, f"Diffusion study number {n} " + "with a long descriptive title " * 8) for n in range(40)
        ]
        await list_papers(catalogue, D24, long_titles, at=clock())
        clock.set(at(2026, 11, 24, 8))
        with pytest.raises(Crash):
            await follows_of(dying).run_due()
    assert [p[1] for p in dm_parts(fake, MEMBER)] == [1]
    clock.advance(minutes=6)  # beyond the lease
    fake.nonces.window = 0.0  # and beyond Discord's nonce window: only the bot's own check prevents a repeat
    async with bot_process(fake, catalogue, clock, settings, owner=None) as bot:
        await step_to(clock, follows_of(bot).scheduler, at(2026, 11, 24, 12))
    parts = dm_parts(fake, MEMBER)
    assert [p[1] for p in parts] == list(range(1, parts[0][2] + 1)) and parts[0][2] >= 2


@pytest.mark.parametrize("crash", [CrashBeforeSending, CrashAfterSending])
@pytest.mark.parametrize("owner", [SOLE_OWNER, None])
async def test_exactly_one_dm_across_a_restart_between_claim_and_send(
    fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path, crash: type[DiscordFollowSink], owner: str | None
) -> None:
    """`owner` SOLE_OWNER: the restarted SQLite bot resumes its own claim at once; None: another process (its own
    random owner) takes the claim over once its lease has run out."""
    settings = settings_for(fake, tmp_path / "papers.db")
    clock = Clock(at(2026, 11, 24, 7, 59))
    async with bot_process(fake, catalogue, clock, settings, owner=owner, sink=crash) as dying:
        await command(fake, "paper follow", user_id=MEMBER, keywords="diffusion")
        await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=clock())
        clock.set(at(2026, 11, 24, 8))
        with pytest.raises(Crash):
            await follows_of(dying).run_due()
    record = await catalogue.follows.dm(MEMBER, D24)
    assert record is not None and record.state == "sending"
    sent_before = len(fake.dm_messages(MEMBER))
    assert sent_before == (1 if crash is CrashAfterSending else 0)
    clock.advance(minutes=1 if owner else 6)
    async with bot_process(fake, catalogue, clock, settings, owner=owner) as bot:
        await step_to(clock, follows_of(bot).scheduler, at(2026, 11, 24, 12))
    assert [p[:2] for p in dm_parts(fake, MEMBER)] == [(D24, 1)]
    record = await catalogue.follows.dm(MEMBER, D24)
    assert record is not None and record.state == "sent"


async def test_the_synced_follow_commands(fake: FakeDiscord, catalogue: Catalogue, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with bot_process(fake, catalogue, Clock(at(2026, 11, 24, 6)), settings):
        synced = await fake.wait_for_commands(ids.GUILD_ID)
    paper_group = next(c for c in synced if c["name"] == "paper")
    commands = {o["name"]: o for o in paper_group["options"]}
    assert [o["name"] for o in commands["follow"]["options"]] == ["keywords", "author"]
    assert not any(o.get("required") for o in commands["follow"]["options"])
    assert commands["following"].get("options") in (None, [])
    [option] = commands["unfollow"]["options"]
    assert option["name"] == "follow" and option["required"] and option["autocomplete"] is True
    assert all(commands[n].get("default_member_permissions") is None for n in ("follow", "following", "unfollow"))
