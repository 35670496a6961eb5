"""`/paper abstract` end to end: by title, id and URL, fetched from the loopback sources, long and hostile papers,
and the title autocomplete."""

from __future__ import annotations

import pytest

from bot.catalogue import open_catalogue
from bot.render.papers import abstract_messages
from fake_discord.interactions import InteractionHandle
from fake_discord.messages import StoredMessage
from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID, OTHER_USER_ID
from tests.e2e.conftest import CRAFTED, HOSTILE_ID, LONG_ABSTRACT, LONG_ID, StartBot
from tests.e2e.test_search import FIRST_RESPONSE_CEILING_S, assert_no_mentions, first_response_in_time
from tests.fixture_server import Fault, FixtureServer

CHRONOS = "2403.07815"
CHRONOS_TITLE = "Chronos: Learning the Language of Time Series"


async def abstract(fake: FakeDiscord, title: str) -> tuple[InteractionHandle, StoredMessage]:
    handle = await fake.slash("paper abstract", title=title, user_id=MEMBER_USER_ID)
    await first_response_in_time(handle)
    return handle, await handle.original()


def fields(message: StoredMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


@pytest.mark.parametrize(
    "text",
    [
        CHRONOS_TITLE,
        "chronos:   LEARNING the language of time series",
        CHRONOS,
        f"{CHRONOS}v2",
        f"https://arxiv.org/abs/{CHRONOS}",
        f"https://arxiv.org/pdf/{CHRONOS}v1",
        f"https://huggingface.co/papers/{CHRONOS}",
    ],
)
async def test_abstract_by_title_id_or_url(fake: FakeDiscord, start_bot: StartBot, text: str) -> None:
    await start_bot()
    handle, message = await abstract(fake, text)
    (embed,) = message.embeds
    assert embed["title"] == CHRONOS_TITLE.replace("_", "\\_")
    assert embed["url"] == f"https://huggingface.co/papers/{CHRONOS}"
    assert embed["description"].startswith("We introduce Chronos")
    assert embed["thumbnail"]["url"].endswith(f"{CHRONOS}.png")
    info = fields(message)
    assert info["arXiv date"] == "2024-03-12"
    assert info["Authors"].startswith("Abdul Fatir Ansari, Lorenzo Stella")
    assert f"https://arxiv.org/pdf/{CHRONOS}" in info["Links"]
    assert not message.ephemeral
    assert_no_mentions(message.allowed_mentions)
    assert not handle.errors


async def test_unknown_paper_is_fetched_from_arxiv_after_deferring_and_stored(
    fake: FakeDiscord, start_bot: StartBot, fixture_server: FixtureServer
) -> None:
    bot = await start_bot()
    # Make the upstream slow: the defer must not wait for it.
    fixture_server.fail_next("/api/query", [Fault.slow(1.0)])
    handle = await fake.slash("paper abstract", title="arXiv:1605.08386v1", user_id=MEMBER_USER_ID)
    response = await handle.response()
    assert response.deferred and response.latency < 1.0
    message = await handle.original(timeout=10)
    assert message.embeds[0]["title"] == "Heat-bath random walks with Markov bases"
    assert fields(message)["Authors"] == "Caprice Stanley, Tobias Windisch"
    assert fixture_server.requests_to("/api/query")
    assert await bot.stop() == 0
    async with await open_catalogue(bot.db_path) as catalogue:
        stored = await catalogue.get("1605.08386")
    assert stored is not None and stored.title == "Heat-bath random walks with Markov bases"


async def test_paper_missing_locally_is_fetched_from_hugging_face(
    fake: FakeDiscord, start_bot: StartBot, fixture_server: FixtureServer
) -> None:
    await start_bot(catalogue="empty")
    _handle, message = await abstract(fake, f"https://huggingface.co/papers/{CHRONOS}")
    assert message.embeds[0]["title"] == CHRONOS_TITLE
    assert fields(message)["Upvotes"] == "15"
    assert fixture_server.requests_to(f"/api/papers/{CHRONOS}")
    # The second lookup is answered from the catalogue: no new upstream request.
    fixture_server.clear_requests()
    await abstract(fake, CHRONOS)
    assert not fixture_server.requests_to(f"/api/papers/{CHRONOS}")


@pytest.mark.parametrize("text", ["9912.99999", "No Such Paper Title Anywhere At All"])
async def test_paper_found_nowhere_gets_a_friendly_line(fake: FakeDiscord, start_bot: StartBot, text: str) -> None:
    await start_bot()
    _handle, message = await abstract(fake, text)
    assert "couldn't find a paper" in message.content
    assert "Something went wrong" not in message.content
    assert not message.embeds


async def test_abstract_longer_than_4096_characters_is_split_within_limits(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    await start_bot()
    expected = abstract_messages(CRAFTED[1])
    assert len(expected) >= 2  # the builder needs followups for this paper (6000 characters per message)
    handle, message = await abstract(fake, LONG_ID)
    messages = [message, *[await handle.followup(i) for i in range(len(expected) - 1)]]
    embeds = [e for m in messages for e in m.embeds]
    assert len(embeds) >= 3  # 10 000+ characters: at least three 4096-character descriptions
    for m in messages:
        assert 1 <= len(m.embeds) <= 10
        assert_no_mentions(m.allowed_mentions)
    assert " ".join(e["description"] for e in embeds).split() == LONG_ABSTRACT.split()
    assert fields(message)["Authors"].endswith("et al.")
    assert not handle.errors  # the fake rejects (50035) any body over Discord's limits


async def test_title_with_everyone_is_escaped_and_pings_nobody(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    _handle, message = await abstract(fake, HOSTILE_ID)
    (embed,) = message.embeds
    assert "@\u200beveryone" in embed["title"] and "\\*\\*Attention\\*\\*" in embed["title"]
    assert "<@\u200b123456789012345678>" in embed["title"]
    assert "@\u200bhere" in embed["description"] and "\\*Not bold\\*" in embed["description"]
    assert "Mallory @\u200beveryone" in fields(message)["Authors"]
    assert_no_mentions(message.allowed_mentions)
    assert not message.mention_everyone and not message.mentions

    search = await fake.slash("paper search", query="attention everyone needs", user_id=MEMBER_USER_ID)
    page = await search.original()
    assert "@\u200beveryone" in page.embeds[0]["description"]
    assert_no_mentions(page.allowed_mentions)
    assert not page.mention_everyone


async def test_autocomplete_suggests_stored_titles_within_limits(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    handle = await fake.interact(fake.build.autocomplete("paper abstract", "title", title="diffusion"))
    response = await handle.response()
    assert response.latency < FIRST_RESPONSE_CEILING_S
    choices = await handle.choices()
    assert 1 <= len(choices) <= 25
    for choice in choices:
        assert 1 <= len(choice["name"]) <= 100 and 1 <= len(choice["value"]) <= 100
    assert any("Diffusion" in c["name"] for c in choices)
    # Picking a suggestion sends its id, which resolves exactly.
    picked = choices[0]
    _, message = await abstract(fake, picked["value"])
    assert message.embeds[0]["url"] == f"https://huggingface.co/papers/{picked['value']}"


@pytest.mark.parametrize("typed", ["", "NEAR(", '"', "*", "title:", "🤗", "x" * 600])
async def test_autocomplete_never_fails_on_odd_input(fake: FakeDiscord, start_bot: StartBot, typed: str) -> None:
    await start_bot()
    handle = await fake.interact(fake.build.autocomplete("paper abstract", "title", title=typed))
    choices = await handle.choices()
    assert len(choices) <= 25
    assert not handle.errors


async def test_autocomplete_on_an_empty_catalogue_offers_nothing(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(catalogue="empty")
    handle = await fake.interact(fake.build.autocomplete("paper abstract", "title", title="diffusion"))
    assert await handle.choices() == []


async def test_abstract_shows_code_stars_and_project_page(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    _, message = await abstract(fake, "https://huggingface.co/papers/2509.07969")
    info = fields(message)
    assert info["Code"] == "https://github.com/Mini-o3/Mini-o3 · ★ 44"
    assert info["Project page"] == "https://mini-o3.github.io/"
    assert info["TL;DR (AI)"].startswith("Mini-o3")  # Hugging Face's AI summary, when it has one
    assert "Organization" not in info  # unknown fields are left out, not shown empty


async def test_a_user_hammering_abstract_is_asked_to_slow_down(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    for _ in range(5):
        await abstract(fake, CHRONOS)
    handle = await fake.slash("paper abstract", title=CHRONOS, user_id=MEMBER_USER_ID)
    response = await handle.response()
    assert response.type == 4 and response.ephemeral
    assert "Slow down" in (response.data or {}).get("content", "")
    # Someone else is not affected.
    other = await fake.slash("paper abstract", title=CHRONOS, user_id=OTHER_USER_ID)
    assert (await other.original()).embeds


async def test_upstream_failure_is_a_friendly_line_not_a_crash(
    fake: FakeDiscord, start_bot: StartBot, fixture_server: FixtureServer
) -> None:
    await start_bot()
    fixture_server.fail_next("/api/query", [403])
    fixture_server.fail_next("/api/papers/1605.08386", [403])
    _handle, message = await abstract(fake, "1605.08386")
    assert "Hugging Face or arXiv did not answer" in message.content
    assert not message.embeds
    # Nothing was stored, so the next try asks upstream again and succeeds.
    _, retry = await abstract(fake, "1605.08386")
    assert retry.embeds[0]["title"] == "Heat-bath random walks with Markov bases"
