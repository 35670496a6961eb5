"""Hostile input and hostile paper data through the real bot on the fake Discord.

1. Generated strings (the same hostile alphabet as test_hostile_queries: FTS5 syntax, SQL fragments, control,
   RTL and combining characters, 6000-character runs) go into `/paper search`, `/paper abstract` and the title
   autocomplete as real interactions. The payloads are edited after building, because a hostile client is not
   bound by the option's max_length. Every one gets a response within 3 s that the fake Discord accepts (no
   over-limit or empty body), the final answer is a result or a friendly message, nothing is logged as an
   unhandled error, and the database bytes do not change.
2. Paper data that tries to ping or inject (`@everyone`, `@here`, `<@&role>`, `<@user>`, masked links,
   markdown) is shown by every surface — search results, the abstract, trending, autocomplete and the daily
   digest post — with `allowed_mentions` parse=[] (the fake computes who *would* be pinged: nobody) and with
   the markup escaped, so it renders literally.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings

from bot.catalogue import Catalogue, open_catalogue
from bot.models import DailyEntry, Paper
from fake_discord import FakeDiscord, ids
from fake_discord.messages import StoredMessage
from tests.digest.conftest import Clock
from tests.robustness._discord import bot_messages, filled_catalogue, serving, settings_for, step_to
from tests.robustness.conftest import file_digest
from tests.robustness.test_hostile_queries import hostile

START = dt.datetime(2024, 3, 16, 8, 0, tzinfo=dt.UTC)
EXAMPLES = 100


def _with_option(payload: dict[str, Any], name: str, value: str) -> dict[str, Any]:
    """Set option `name` anywhere in the (nested) options to `value`, as a client ignoring limits would."""

    def walk(options: list[dict[str, Any]]) -> None:
        for option in options:
            if option.get("name") == name and "value" in option:
                option["value"] = value
            walk(option.get("options", []))

    walk(payload["data"].get("options", []))
    return payload


def _assert_clean_answer(message: StoredMessage) -> None:
    assert message.content or message.embeds, "an empty answer"
    assert message.allowed_mentions is not None and message.allowed_mentions.get("parse") == []
    assert not message.mention_everyone and not message.mentions and not message.mention_roles


def test_hostile_text_through_slash_commands_and_autocomplete(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    db = tmp_path / "papers.db"
    counts = {"examples": 0, "with_results": 0, "friendly": 0, "suggestions": 0}
    with asyncio.Runner() as runner:
        runner.run(runner.run(filled_catalogue(db)).close())  # closed: checkpointed, the WAL folded in
        before = file_digest(db, db.with_name(db.name + "-wal"))
        catalogue = runner.run(open_catalogue(db))
        fake = runner.run(FakeDiscord().start())
        bot_cm = serving(fake, catalogue, Clock(START), settings_for(fake, db))
        runner.run(bot_cm.__aenter__())
        try:

            async def one(text: str) -> None:
                search = await fake.interact(
                    _with_option(
                        fake.build.chat_input("paper search", query="x", user_id=ids.MEMBER_USER_ID), "query", text
                    )
                )
                abstract = await fake.interact(
                    _with_option(
                        fake.build.chat_input("paper abstract", title="x", user_id=ids.MEMBER_USER_ID), "title", text
                    )
                )
                complete = await fake.interact(
                    _with_option(
                        fake.build.autocomplete("paper abstract", "title", title="x", user_id=ids.MEMBER_USER_ID),
                        "title",
                        text,
                    )
                )
                for handle in (search, abstract):
                    response = await handle.response()
                    assert response.latency < 3.0
                    if response.type == 4:  # answered at once (input refused before deferring)
                        assert response.ephemeral and (response.data or {}).get("content")
                        counts["friendly"] += 1
                    else:
                        message = await handle.original()
                        _assert_clean_answer(message)
                        counts["with_results" if message.embeds else "friendly"] += 1
                    assert not handle.errors, [str(e) for e in handle.errors]
                choices = await complete.choices()
                assert len(choices) <= 25 and not complete.errors
                counts["suggestions"] += bool(choices)

            @settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
            @given(text=hostile)
            @example(text="x" * 6000)
            @example(text="\x00")
            @example(text="   ")
            @example(text='NEAR("diffusion" "video", 2) title:* ^')
            @example(text="https://huggingface.co/papers/2403.07815")
            def check(text: str) -> None:
                counts["examples"] += 1
                runner.run(one(text))
                unhandled = [r.getMessage() for r in caplog.records if "Unhandled error" in r.getMessage()]
                assert not unhandled, unhandled

            check()
        finally:
            runner.run(bot_cm.__aexit__(None, None, None))
            runner.run(catalogue.close())
            runner.run(fake.close())
        fake.assert_clean()
    assert file_digest(db, db.with_name(db.name + "-wal")) == before, "hostile input changed the database"
    print(f"hostile interactions: {counts}")
    assert all(counts.values()), counts


# ------------------------------------------------------------------------------------------ hostile paper data

EVIL = [
    Paper(
        id="2403.99901",
        title="@everyone Diffusion [free nitro](https://evil.example/x) **now** <@&1500000000000000001>",
        abstract="@here look <@1300000000000000004> ||spoiler|| `code` [link](https://evil.example) # Heading",
        authors=("<@1300000000000000004>", "@everyone", "[Mallory](https://evil.example)"),
        organization="@everyone Inc",
        ai_summary="Diffusion @everyone <@&1500000000000000002> [x](https://evil.example)",
        upvotes=999,
        published=dt.date(2024, 3, 14),
    ),
    Paper(
        id="2403.99902",
        title="<@1300000000000000005> and @here: a diffusion study",
        abstract="Plain.",
        authors=("Eve",),
        upvotes=998,
        published=dt.date(2024, 3, 14),
    ),
]
_RAW = [
    re.compile(r"(?<!\u200b)@(everyone|here)"),  # escape_mentions inserts a zero-width space after the @
    re.compile(r"<@&?\d+>"),  # a raw user/role mention
    re.compile(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(https://evil"),  # an unescaped masked link from paper data
    re.compile(r"(?<!\\)\*\*now(?<!\\)\*\*"),  # unescaped bold from a title
]


def _markup_slots(message: StoredMessage) -> str:
    """The text Discord renders markdown and mentions in: content, embed titles, descriptions and fields.

    Embed author names and footers are shown as plain text by Discord (no markdown, no mentions), so paper
    data may appear there unescaped (the digest puts authors in the author line).
    """
    parts = [message.content or ""]
    for embed in message.embeds:
        parts += [embed.get("title", ""), embed.get("description", "")]
        parts += [f"{f.get('name', '')}\n{f.get('value', '')}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def _assert_renders_literally(message: StoredMessage, where: str) -> None:
    _assert_clean_answer(message)
    text = _markup_slots(message)
    for pattern in _RAW:
        assert not pattern.search(text), f"{where}: {pattern.pattern!r} in {text[:400]!r}"


async def test_paper_data_that_tries_to_ping_or_inject_never_pings_and_renders_escaped(tmp_path: Path) -> None:
    db = tmp_path / "papers.db"
    catalogue: Catalogue = await filled_catalogue(db)
    day = dt.date(2024, 3, 15)
    await catalogue.record_day(day, [DailyEntry(day, p, p.upvotes or 0) for p in EVIL])
    channel = [{"channel_id": ids.GENERAL_CHANNEL_ID, "time": dt.time(9), "timezone": "UTC", "top_n": 5}]
    clock = Clock(START)
    try:
        async with FakeDiscord() as fake:
            async with serving(fake, catalogue, clock, settings_for(fake, db, channel)) as (_, service):
                search = await fake.slash("paper search", query="diffusion", sort="upvotes", user_id=ids.MEMBER_USER_ID)
                _assert_renders_literally(await search.original(), "search results")
                for paper in EVIL:
                    abstract = await fake.slash("paper abstract", title=paper.id, user_id=ids.MEMBER_USER_ID)
                    _assert_renders_literally(await abstract.original(), f"abstract of {paper.id}")
                    for followup in abstract.followups:
                        _assert_renders_literally(followup, f"abstract continuation of {paper.id}")
                trending = await fake.slash("paper trending", period="week", user_id=ids.MEMBER_USER_ID)
                _assert_renders_literally(await trending.original(), "trending")
                complete = await fake.autocomplete("paper abstract", "title", title="@every")
                for choice in await complete.choices():
                    assert choice["value"] in {p.id for p in EVIL} or re.fullmatch(r"[\w./-]+", choice["value"])

                await step_to(clock, service.scheduler, START.replace(hour=10))
                posts = bot_messages(fake, ids.GENERAL_CHANNEL_ID)
                assert posts, "the digest was posted"
                for post in posts:
                    _assert_renders_literally(post, "digest post")
            fake.assert_clean()
    finally:
        await catalogue.close()
