"""Similar papers and what search tells its reader, end to end: `/paper similar` with the title autocomplete,
paged like search; the abstract's "Similar papers" button (any member, after a restart too); "did you mean",
the notice when the model is unavailable (kept by later pages), and the search syntax on "no results"."""

from __future__ import annotations

from pathlib import Path

from bot.discord_ui.views import SIMILAR_NOT_YOURS
from fake_discord.messages import StoredMessage
from fake_discord.server import FakeDiscord
from fake_discord.world import MEMBER_USER_ID, OTHER_USER_ID
from tests.e2e.conftest import StartBot
from tests.e2e.test_abstract import CHRONOS, CHRONOS_TITLE, abstract
from tests.e2e.test_search import assert_no_mentions, choose, click, first_response_in_time, page_ids, search

SIMILAR_FOOTER = "Results 1–5 · ranked by meaning · more with Next ▶"


def similar_button(message: StoredMessage) -> dict[str, object]:
    (button,) = [b for b in message.buttons if b.get("label") == "Similar papers"]
    return button


async def test_similar_papers_by_autocompleted_title_are_paged_like_search(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    await start_bot(catalogue="embedded")
    suggestions = await (
        await fake.autocomplete("paper similar", "paper", paper="chronos learn", user_id=MEMBER_USER_ID)
    ).choices()
    assert {"name": CHRONOS_TITLE, "value": CHRONOS} in suggestions

    handle = await fake.slash("paper similar", paper=CHRONOS, user_id=MEMBER_USER_ID)
    await first_response_in_time(handle)
    message = await handle.original()
    assert message.embeds, message.content
    (embed,) = message.embeds
    assert embed["title"] == f"Papers like “{CHRONOS_TITLE}”"
    assert embed["footer"]["text"] == SIMILAR_FOOTER
    first_page = page_ids(message)
    assert len(first_page) == 5 and CHRONOS not in first_page
    assert_no_mentions(message.allowed_mentions)

    # Next keeps the list what it is: the papers like Chronos, 6–10 (not a search for its title).
    press = await click(fake, message, label="Next", user_id=MEMBER_USER_ID)
    page2 = await press.updated_message()
    assert page2.embeds[0]["title"] == f"Papers like “{CHRONOS_TITLE}”"
    assert page2.embeds[0]["footer"]["text"].startswith("Results 6–10 · ranked by meaning")
    second_page = page_ids(page2)
    assert len(second_page) == 5 and not set(second_page) & set(first_page) and CHRONOS not in second_page

    refused = await click(fake, page2, label="Previous", user_id=OTHER_USER_ID)
    response = await refused.response()
    assert response.ephemeral and (response.data or {}).get("content") == SIMILAR_NOT_YOURS
    assert not handle.errors and not press.errors


async def test_the_abstracts_similar_button_answers_whoever_presses_it_even_after_a_restart(
    fake: FakeDiscord, start_bot: StartBot
) -> None:
    first = await start_bot(catalogue="embedded")
    _, shown = await abstract(fake, CHRONOS)
    assert similar_button(shown)["custom_id"] == f"paperbot:similar:{CHRONOS}"

    # Another member presses it: the list is theirs alone (ephemeral) and their Next works.
    press = await fake.click(shown, label="Similar papers", user_id=OTHER_USER_ID)
    await first_response_in_time(press)
    listed = await press.original()
    assert listed.ephemeral and listed.embeds[0]["title"] == f"Papers like “{CHRONOS_TITLE}”"
    assert listed.embeds[0]["footer"]["text"] == SIMILAR_FOOTER
    turned = await (await click(fake, listed, label="Next", user_id=OTHER_USER_ID)).updated_message()
    assert turned.embeds[0]["footer"]["text"].startswith("Results 6–10")

    # An abstract opened from the list carries the button too.
    pick = await choose(fake, listed, values=[page_ids(listed)[0]], user_id=OTHER_USER_ID)
    opened = await pick.original()
    assert opened.ephemeral and similar_button(opened)

    # The button holds all it needs: a bot started afterwards answers a press on the old abstract.
    assert await first.stop() == 0
    await start_bot(catalogue="keep")
    again = await fake.click(shown, label="Similar papers", user_id=MEMBER_USER_ID)
    assert (await again.original()).embeds[0]["title"] == f"Papers like “{CHRONOS_TITLE}”"
    assert not press.errors and not again.errors


async def test_search_says_did_you_mean_and_is_ranked_by_meaning(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot(catalogue="embedded")
    _, message = await search(fake, "difusion models")
    (embed,) = message.embeds
    assert embed["description"].startswith("Did you mean “diffusion models”? Showing results for it.\n\n**1.**")
    assert embed["footer"]["text"] == "Results 1–5 · ranked by words and meaning · more with Next ▶"


async def test_without_the_model_search_says_so_and_later_pages_keep_the_word_ranking(
    fake: FakeDiscord, start_bot: StartBot, tmp_path: Path
) -> None:
    await start_bot(catalogue="embedded", env={"PAPERBOT_SEARCH__MODEL": str(tmp_path / "no-such-model")})
    _, message = await search(fake, "diffusion")
    notice = "*Semantic ranking is unavailable right now, so these are keyword matches.*"
    assert message.embeds[0]["description"].startswith(notice + "\n\n**1.**")
    assert message.embeds[0]["footer"]["text"].startswith("Results 1–5 · ranked by words")
    page2 = await (await click(fake, message, label="Next", user_id=MEMBER_USER_ID)).updated_message()
    assert page2.embeds[0]["description"].startswith(notice + "\n\n**6.**")
    assert page2.embeds[0]["footer"]["text"].startswith("Results 6–10 · ranked by words")


async def test_no_results_shows_the_search_syntax(fake: FakeDiscord, start_bot: StartBot) -> None:
    await start_bot()
    _, message = await search(fake, "ti:zzzqqqxxy")
    assert message.content.startswith("No papers match “ti:zzzqqqxxy”.")
    assert "`au:name` (author)" in message.content and "`since:2024-03`" in message.content
    assert not message.embeds
