"""`paperbot run` wiring: the production runtime schedules digests and makes a post owed while it was down."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

from bot.config import load_settings
from bot.runtime import run_bot
from fake_discord import FakeDiscord, ids
from tests.digest.conftest import entries, make_paper, open_catalogue


class LogEvent(logging.Handler):
    """Sets `event` when logger `name` logs a message containing `text` (waits without sleeping)."""

    def __init__(self, name: str, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = asyncio.Event()
        self.logger = logging.getLogger(name)
        self.logger.addHandler(self)
        self.previous = self.logger.level
        self.logger.setLevel(logging.INFO)

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()

    def close(self) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.previous)
        super().close()


async def test_run_bot_posts_an_owed_digest_at_start_and_stops_cleanly(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    post_time = now - dt.timedelta(minutes=5)
    if post_time.date() != now.date():  # just after midnight UTC: the owed window would be yesterday's
        post_time = now.replace(hour=0, minute=0)
    db = tmp_path / "papers.db"
    catalogue = await open_catalogue(db)
    list_day = now.date() - dt.timedelta(days=1)
    await catalogue.record_day(list_day, entries(list_day, [make_paper(n) for n in range(1, 4)]))
    # A running bot saw the channel yesterday, so today's post (5 minutes ago) is owed.
    await catalogue.digests.see_channels([ids.GENERAL_CHANNEL_ID], now=now - dt.timedelta(days=1))
    await catalogue.close()
    async with FakeDiscord() as fake:
        config = tmp_path / "config.toml"
        config.write_text(
            "[sources.huggingface]\nenabled = false\n[sources.arxiv]\nenabled = false\n"
            f"[[digest.channels]]\nchannel_id = {ids.GENERAL_CHANNEL_ID}\n"
            f'time = "{post_time:%H:%M}"\ntimezone = "UTC"\n',
            encoding="utf-8",
        )
        settings = load_settings(
            config,
            environ={
                "PAPERBOT_DISCORD__TOKEN": fake.token,
                "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
                "PAPERBOT_DISCORD__GUILD_IDS": f"[{ids.GUILD_ID}]",
                "PAPERBOT_DATABASE__PATH": str(db),
            },
        )
        # Stop once the post is recorded, start again: the restart must find it done (no second message).
        for _ in range(2):
            done = LogEvent("bot.digest.service", "Digest service ready")
            stop = asyncio.Event()
            task = asyncio.create_task(run_bot(settings, stop=stop))
            try:
                await asyncio.wait_for(done.event.wait(), timeout=15)
            finally:
                done.close()
                stop.set()
                assert await asyncio.wait_for(task, timeout=15) == 0
            message = fake.channel_messages(ids.GENERAL_CHANNEL_ID)[-1]
            assert message.embeds[0]["url"] == f"https://huggingface.co/papers/date/{list_day.isoformat()}"
        assert len(fake.channel_messages(ids.GENERAL_CHANNEL_ID)) == 1
        fake.assert_clean()
    catalogue = await open_catalogue(db)
    try:
        record = await catalogue.digests.post(ids.GENERAL_CHANNEL_ID, post_time.date())
        assert record is not None and record.state == "posted"
    finally:
        await catalogue.close()
