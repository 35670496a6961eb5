"""`/paper search` end to end: results, paging, the abstract picker, other users, no results, hostile text."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fake_discord.interactions import InteractionHandle
from fake_discord.messages import StoredMessage
from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID, OTHER_USER_ID
from tests.e2e.conftest import StartBot

FIRST_RESPONSE_CEILING_S = 3.0


def assert_no_mentions(body: dict[str, Any] | None) -> None:
    """`allowed_mentions` sent by the bot allows nothing (discord.py sends `{"parse": []}` for none())."""
    assert body is not None
    assert body.get("parse") == []
    assert not body.get("users") and not body.get("roles") and not body.get("replied_user")


async def first_response_in_time(handle: InteractionHandle, *, deferred: bool = True) -> None:
    response = await handle.response()
    assert response.latency < FIRST_RESPONSE_CEILING_S
    if deferred:
        assert response.deferred


async def search(fake: FakeDiscord, query: str, **options: Any) -> tuple[InteractionHandle, StoredMessage]:
    handle = await fake.slash("paper search", query=query, user_id=MEMBER_USER_ID, **options)
    await first_response_in_time(handle)
    return handle, await handle.original()


async def click(fake: FakeDiscord, message: StoredMessage, *, label: str, user_id: int) -> InteractionHandle:
    return await fake.interact(fake.build.button(message, label=label, user_id=user_id))


async def choose(fake: FakeDiscord, message: StoredMessage, *, values: list[str], user_id: int) -> InteractionHandle:
    return await fake.interact(fake.build.select(message, values=values, user_id=user_id))


def page_ids(message: StoredMessage) -> list[str]:
    (select,) = message.selects
    return [option["value"] for option in select["options"]]


async def test_search_pages_forward_and_back_and_opens_an_abstract(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    handle, message = await search(fake, "diffusion")

    (embed,) = message.embeds
    assert "diffusion" in embed["title"]
    assert embed["footer"]["text"].startswith("Results 1–5")
    assert embed["description"].count("https://huggingface.co/papers/") == 5
    assert_no_mentions(message.allowed_mentions)
    first_page = page_ids(message)
    assert len(first_page) == 5
    labels = {b["label"]: b for b in message.buttons}
    assert labels["Previous"].get("disabled") is True
    assert not labels["Next"].get("disabled")

    # Next: deferred update, then the same message shows results 6–10.
    press = await click(fake, message, label="Next", user_id=MEMBER_USER_ID)
    await first_response_in_time(press)
    assert (await press.response()).type == 6
    page2 = await press.updated_message()
    assert page2.id == message.id
    assert page2.embeds[0]["footer"]["text"].startswith("Results 6–10")
    second_page = page_ids(page2)
    assert second_page and not set(second_page) & set(first_page)
    assert not {b["label"]: b for b in page2.buttons}["Previous"].get("disabled")

    # Previous: back to the first page, same results in the same order.
    back = await click(fake, page2, label="Previous", user_id=MEMBER_USER_ID)
    page1 = await back.updated_message()
    assert page_ids(page1) == first_page
    assert page1.embeds[0]["footer"]["text"].startswith("Results 1–5")

    # The select sends that paper's abstract to the searcher only.
    pick = await choose(fake, page1, values=[first_page[0]], user_id=MEMBER_USER_ID)
    await first_response_in_time(pick)
    shown = await pick.original()
    assert shown.ephemeral
    assert shown.embeds[0]["url"] == f"https://huggingface.co/papers/{first_page[0]}"
    assert_no_mentions(shown.allowed_mentions)
    assert not handle.errors and not press.errors and not back.errors and not pick.errors


async def test_another_users_button_press_is_refused_ephemerally(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    _, message = await search(fake, "diffusion")

    press = await click(fake, message, label="Next", user_id=OTHER_USER_ID)
    response = await press.response()
    assert response.type == 4 and response.ephemeral
    assert "belong to whoever ran this search" in (response.data or {}).get("content", "")
    # The searcher's message is untouched.
    assert fake.message(message.id).embeds[0]["footer"]["text"].startswith("Results 1–5")

    pick = await choose(fake, message, values=[page_ids(message)[0]], user_id=OTHER_USER_ID)
    assert (await pick.response()).ephemeral


async def test_no_results_is_a_helpful_message(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    handle, message = await search(fake, "zzzqqqxxy nonexistentword")
    assert "No papers match" in message.content
    assert "/paper abstract" in message.content
    assert not message.components and not message.embeds
    assert_no_mentions(message.allowed_mentions)
    assert not handle.errors


@pytest.mark.parametrize(
    "query",
    ['"', "*", "NEAR(", "title:", '"unbalanced quote', "a AND OR NOT", "-", "🤗🔥 diffusion", "((((", "@everyone"],
)
async def test_hostile_queries_get_an_answer_not_an_error(fake: FakeDiscord, start_bot: StartBot, query: str) -> None:
    await start_bot()
    handle, message = await search(fake, query)
    assert message.embeds or "No papers match" in message.content
    assert "Something went wrong" not in message.text
    assert not handle.errors
    assert not message.mention_everyone


async def test_a_6000_character_query_is_refused_politely(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    # The synced option caps the length, so a real Discord client cannot even send this…
    with pytest.raises(ValueError, match="at most 500"):
        fake.build.chat_input("paper search", query="x" * 6000, user_id=MEMBER_USER_ID)
    # …and a forged payload that does is answered with a short ephemeral line, not a crash.
    payload = fake.build.chat_input("paper search", query="x", user_id=MEMBER_USER_ID)
    payload["data"]["options"][0]["options"][0]["value"] = "🤗 " * 3000
    handle = await fake.interact(payload)
    response = await handle.response()
    assert response.type == 4 and response.ephemeral
    assert "keep it under 500" in (response.data or {}).get("content", "")


async def test_search_falls_back_to_any_word_and_says_so(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    _, message = await search(fake, "diffusion zzzqqqxxy")
    (embed,) = message.embeds
    assert "no paper has every word" in embed["footer"]["text"]


async def test_sort_by_upvotes_orders_the_page(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    _, message = await search(fake, "diffusion", sort="upvotes")
    votes = [int(v) for v in re.findall(r"▲ (\d+)", message.embeds[0]["description"])]
    assert len(votes) == 5 and votes == sorted(votes, reverse=True)
    assert "sorted by upvotes" in message.embeds[0]["footer"]["text"]
