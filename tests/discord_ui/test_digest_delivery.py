"""Review defects in digest delivery and the admin commands, each through the real bot on the fake Discord.

- Every digest part is sent with the deterministic nonce of (channel, local date, part) and `enforce_nonce`,
  so a repeated send of a part (discord.py's own retry of a 5xx on POST, or a later attempt that cannot see
  the part in the channel) cannot post it twice.
- One paper whose thumbnail URL Discord rejects (400 / 50035 naming `embeds.N.thumbnail.url`) costs that
  thumbnail, not the day's post in every channel listing the paper — nor the abstract reply.
- Autocomplete of an admin command (`/paper digest …`) answers nothing to a member without Manage Server:
  discord.py runs no group checks for autocomplete, and the suggestions list the server's subscriptions.
- The status view links each channel's last post; a message spec's allowed roles are the only roles pinged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.digest.sink import OwnMessages
from bot.discord_ui.digest_sink import DiscordDigestSink
from bot.render.digest import digest_nonce, parse_marker
from bot.render.specs import EmbedSpec, MessageSpec
from fake_discord import FakeDiscord, ids
from tests.digest.conftest import Clock, entries, make_paper, open_catalogue
from tests.digest.test_discord_digest import (
    NEW_CHANNEL_ID,
    PAPERS_CHANNEL_ID,
    at,
    command,
    digests,
    running_bot,
    settings_for,
    step_to,
    world,
)

LIST_DAY = dt.date(2026, 10, 23)
LOCAL = dt.date(2026, 10, 24)
BAD_ID = "2511.00007"
# Whitespace in the host: Discord's URL validator refuses it (400, 50035 URL_TYPE_INVALID_URL), our cheap
# http(s) check lets it through — as with any URL that only Discord's own rules reject.
BAD_THUMBNAIL = "https://cdn-thumbnails.huggingface.co/social thumbnails/2511.00007.png"
TWO_CHANNELS = [
    {"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9), "timezone": "UTC", "top_n": 12},
    {"channel_id": PAPERS_CHANNEL_ID, "time": dt.time(9), "timezone": "UTC", "top_n": 25},
]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(guilds=[world()]) as server:
        yield server
        server.assert_clean()


@pytest.fixture
async def catalogue(tmp_path: Path) -> AsyncIterator[Any]:
    """Lists of 22–23 October: 20 papers each (long enough for several parts), one with a bad thumbnail."""
    cat = await open_catalogue(tmp_path / "papers.db")
    for day in (LIST_DAY - dt.timedelta(days=1), LIST_DAY):
        papers = [make_paper(n, upvotes=100 - n, abstract="A long sentence about scaling. " * 40) for n in range(20)]
        papers[7] = make_paper(7, upvotes=93, thumbnail=BAD_THUMBNAIL)
        await cat.record_day(day, entries(day, papers))
    try:
        yield cat
    finally:
        await cat.close()


async def post_once(fake: FakeDiscord, catalogue: Any, tmp_path: Path) -> Any:
    """Run the bot from before 09:00 UTC on 24 October past its post time; return the catalogue."""
    settings = settings_for(fake, tmp_path / "papers.db", TWO_CHANNELS)
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 5))
    return settings


async def test_every_part_goes_out_with_its_deterministic_nonce_and_enforce_nonce(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    await post_once(fake, catalogue, tmp_path)
    for channel_id in (ids.GENERAL_CHANNEL_ID, PAPERS_CHANNEL_ID):
        posts = [r for r in fake.requests_to("POST /channels/*/messages") if r.path.endswith(f"/{channel_id}/messages")]
        accepted = [r for r in posts if r.ok]
        assert len(accepted) >= 2  # several parts, so the nonce really differs per part
        for request in accepted:
            footer = request.json["embeds"][-1]["footer"]["text"]
            local_date, part, _parts = parse_marker(footer)  # type: ignore[misc]
            assert request.json["nonce"] == digest_nonce(channel_id, local_date, part)
            assert request.json["enforce_nonce"] is True


async def test_a_thumbnail_discord_rejects_costs_the_thumbnail_not_the_post(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    await post_once(fake, catalogue, tmp_path)
    rejected = [r for r in fake.requests_to("POST /channels/*/messages") if r.status == 400]
    assert rejected and all(r.code == 50035 for r in rejected)  # the fake did refuse the bad URL, once per channel
    for channel_id in (ids.GENERAL_CHANNEL_ID, PAPERS_CHANNEL_ID):
        messages = digests(fake, channel_id)[LOCAL]
        parts = [parse_marker(m.embeds[-1]["footer"]["text"]) for m in messages]
        assert [p[1] for p in parts if p] == list(range(1, len(messages) + 1))  # complete, each part once
        embeds = [e for m in messages for e in m.embeds[0:]]
        bad = [e for e in embeds if e.get("url", "").endswith(BAD_ID)]
        assert len(bad) == 1 and "thumbnail" not in bad[0]  # that paper is listed, without its thumbnail
        others = [e for e in embeds if e.get("url", "").startswith("https://huggingface.co/papers/2")]
        assert all("thumbnail" in e for e in others if e is not bad[0])  # nobody else lost theirs
        record = await catalogue.digests.post(channel_id, LOCAL)
        assert record.state == "posted"
        states = await catalogue.digests.channel_states()
        assert states.get(channel_id) is None or states[channel_id].failing_reason is None


async def test_the_abstract_of_a_paper_with_a_rejected_thumbnail_is_still_shown(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings):
        await fake.wait_for_commands(ids.GUILD_ID)
        handle = await fake.slash("paper abstract", title=BAD_ID, user_id=ids.MEMBER_USER_ID)
        message = await handle.original()
        assert message.embeds and message.embeds[0]["url"].endswith(BAD_ID)
        assert "thumbnail" not in message.embeds[0]


async def test_admin_autocomplete_answers_nothing_to_members(fake: FakeDiscord, catalogue: Any, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings):
        await fake.wait_for_commands(ids.GUILD_ID)
        await command(fake, "paper digest subscribe", channel=NEW_CHANNEL_ID, time="09:00", timezone="UTC")

        async def suggestions(name: str, focused: str, user_id: int, **options: Any) -> list[dict[str, Any]]:
            handle = await fake.autocomplete(name, focused, user_id=user_id, options=options)
            choices = await handle.choices()
            assert not handle.errors
            return choices

        # The admin and a moderator (Manage Server) are helped …
        for admin in (ids.ADMIN_USER_ID, ids.MODERATOR_USER_ID):
            [choice] = await suggestions("paper digest unsubscribe", "channel_id", admin, channel_id="")
            assert choice["value"] == str(NEW_CHANNEL_ID)
            assert await suggestions("paper digest subscribe", "timezone", admin, timezone="ber")
        # … a member without Manage Server learns nothing about the server's subscriptions.
        for member in (ids.MEMBER_USER_ID, ids.OTHER_USER_ID):
            assert await suggestions("paper digest unsubscribe", "channel_id", member, channel_id="") == []
            assert await suggestions("paper digest subscribe", "timezone", member, timezone="ber") == []
        # Member commands keep their suggestions.
        assert await suggestions("paper abstract", "title", ids.MEMBER_USER_ID, title="Paper number")


async def test_the_status_view_links_the_last_post(fake: FakeDiscord, catalogue: Any, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path / "papers.db", TWO_CHANNELS)
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 5))
        await fake.wait_for_commands(ids.GUILD_ID)
        handle = await fake.slash("paper digest list", user_id=ids.ADMIN_USER_ID)
        listing = await handle.original()
    first = digests(fake, ids.GENERAL_CHANNEL_ID)[LOCAL][0]
    text = listing.embeds[0]["description"]
    assert f"https://discord.com/channels/{ids.GUILD_ID}/{ids.GENERAL_CHANNEL_ID}/{first.id}" in text
    assert listing.allowed_mentions == {"parse": []}


async def test_a_spec_pings_exactly_its_allowed_roles(fake: FakeDiscord, catalogue: Any, tmp_path: Path) -> None:
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as (bot, _):
        sink = DiscordDigestSink(bot)
        allowed, other = ids.MODERATOR_ROLE_ID, ids.ADMIN_ROLE_ID
        content = f"<@&{allowed}> <@&{other}> @everyone <@{ids.MEMBER_USER_ID}>"
        pinged = await sink.send(
            ids.GENERAL_CHANNEL_ID,
            MessageSpec(content=content, embeds=(EmbedSpec(title="t"),), allowed_role_ids=(allowed,)),
        )
        quiet = await sink.send(ids.GENERAL_CHANNEL_ID, MessageSpec(content=content))
    roles = fake.message(pinged)
    assert roles.mention_roles == [allowed] and not roles.mention_everyone and not roles.mentions
    nobody = fake.message(quiet)
    assert nobody.mention_roles == [] and not nobody.mention_everyone and not nobody.mentions


async def test_a_part_discord_created_before_answering_500_is_posted_once(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    # Discord makes the first part's message, then answers 500; discord.py retries the POST by itself.
    fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=500)
    await post_once(fake, catalogue, tmp_path)
    messages = digests(fake, ids.GENERAL_CHANNEL_ID)[LOCAL]
    parts = [parse_marker(m.embeds[-1]["footer"]["text"]) for m in messages]
    assert [p[1] for p in parts if p] == list(range(1, len(messages) + 1))  # every part exactly once
    # The retry carried the same nonce, so Discord answered it with the message it had already made.
    [replay] = fake.nonces.replays
    assert replay.nonce == digest_nonce(ids.GENERAL_CHANNEL_ID, LOCAL, 1) and replay.message_id == messages[0].id
    assert (await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, LOCAL)).state == "posted"


async def test_a_part_sent_again_is_one_message(fake: FakeDiscord, catalogue: Any, tmp_path: Path) -> None:
    """A stale owner finishing a post another process took over sends a part that is already there: the
    same nonce makes Discord answer with the first message instead of posting a second."""
    settings = settings_for(fake, tmp_path / "papers.db")
    async with running_bot(fake, catalogue, Clock(at(2026, 10, 23, 12)), settings) as (bot, _):
        sink = DiscordDigestSink(bot)
        part = MessageSpec(
            embeds=(EmbedSpec(title="t", footer=f"paperbot digest {LOCAL} · 1/1"),),
            nonce=digest_nonce(ids.GENERAL_CHANNEL_ID, LOCAL, 1),
        )
        first = await sink.send(ids.GENERAL_CHANNEL_ID, part)
        again = await sink.send(ids.GENERAL_CHANNEL_ID, part)
    assert again == first
    assert [m.id for m in fake.channel_messages(ids.GENERAL_CHANNEL_ID)] == [first]
    assert [r.message_id for r in fake.nonces.replays] == [first]


async def test_a_part_whose_answer_was_lost_is_found_in_a_busy_channel(
    fake: FakeDiscord, catalogue: Any, tmp_path: Path
) -> None:
    """Discord made part 1 but its answer was lost (503: discord.py does not retry), then 150 members' messages
    push it out of the latest 100. The catch-up finds it by position from the post's start (the sink's
    `OwnMessages`), records it and sends only the missing parts."""
    channel = {"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9, 5), "timezone": "UTC", "top_n": 12}
    settings = settings_for(fake, tmp_path / "papers.db", [channel])
    clock = Clock(at(2026, 10, 23, 12))
    async with running_bot(fake, catalogue, clock, settings) as (_, service):
        assert isinstance(service.sink, OwnMessages)
        fake.fail_after_create(ids.GENERAL_CHANNEL_ID, status=503)
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 6))
        assert (await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, LOCAL)).state == "posting"
        for n in range(150):
            fake.add_user_message(ids.GENERAL_CHANNEL_ID, f"chat {n}", author_id=ids.MEMBER_USER_ID)
        await step_to(clock, service.scheduler, at(2026, 10, 24, 9, 11))  # the catch-up finishes the post
    messages = digests(fake, ids.GENERAL_CHANNEL_ID)[LOCAL]
    parts = [parse_marker(m.embeds[-1]["footer"]["text"]) for m in messages]
    assert [p[1] for p in parts if p] == list(range(1, len(messages) + 1))  # every part exactly once
    assert fake.nonces.replays == []  # found, not sent again
    record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, LOCAL)
    assert record.state == "posted" and record.message_ids[1] == messages[0].id
