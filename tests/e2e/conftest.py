"""End-to-end harness: the real runtime (`bot.runtime.run_bot`) logged into the loopback fake Discord.

Each test gets a fresh fake Discord, a fresh copy of a catalogue and the loopback Hugging Face / arXiv
fixture server, and runs the bot exactly as `paperbot run` does (same composition root, same endpoint
handling through `discord.api_base_url`), stopping it through the same graceful path as SIGTERM.

The *full* catalogue is built once per session by ingesting every recorded Daily Papers day from the fixture
server with the production ingest code, plus a few hand-made papers that real data does not contain (a
title with ``@everyone`` and markdown, an abstract longer than 4096 characters); each test copies the file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.catalogue import open_catalogue
from bot.config import Settings, load_settings
from bot.ingest import ingest_day
from bot.models import Paper
from bot.runtime import run_bot
from bot.search import open_search
from bot.sources import open_sources
from fake_discord.server import FakeDiscord
from fake_discord.world import GUILD_ID
from tests.fixture_server import FixtureServer

HOSTILE_ID = "2403.99991"
HOSTILE_TITLE = "**Attention** is all @everyone needs: <@123456789012345678> and `code` ||spoilers||"
LONG_ID = "2403.99992"
LONG_ABSTRACT = " ".join(f"Sentence number {i} of a very long abstract about transformers." for i in range(150))

CRAFTED = (
    Paper(
        id=HOSTILE_ID,
        title=HOSTILE_TITLE,
        abstract="We ping @here and @everyone. *Not bold* and _not italic_.",
        authors=("Mallory @everyone", "Eve"),
        published=dt.date(2024, 3, 1),
        upvotes=3,
    ),
    Paper(
        id=LONG_ID,
        title="An Extremely Long Abstract for Splitting Tests",
        abstract=LONG_ABSTRACT,
        authors=tuple(f"Author {i}" for i in range(60)),
        published=dt.date(2024, 3, 2),
        upvotes=7,
    ),
)


def _settings(
    fake: FakeDiscord,
    fixtures: FixtureServer,
    db: Path,
    config: Path,
    *,
    token: str | None,
    guild_ids: tuple[int, ...] = (GUILD_ID,),
    extra_env: dict[str, str] | None = None,
) -> Settings:
    config.write_text("", encoding="utf-8")  # explicit empty file: nothing from the developer's ./config.toml
    environ = {
        **fixtures.environ(),
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DISCORD__GUILD_IDS": json.dumps(list(guild_ids)),
        "PAPERBOT_DATABASE__PATH": str(db),
        **(extra_env or {}),
    }
    if token is not None:
        environ["PAPERBOT_DISCORD__TOKEN"] = token
    return load_settings(config, environ=environ)


async def _build_full_catalogue(path: Path) -> None:
    async with FixtureServer() as fixtures:
        config = path.with_suffix(".toml")
        config.write_text("", encoding="utf-8")
        settings = load_settings(config, environ={**fixtures.environ(), "PAPERBOT_DATABASE__PATH": str(path)})
        async with await open_catalogue(path) as catalogue, open_sources(settings) as sources:
            for day in fixtures.days:
                await ingest_day(day, catalogue, sources)
            await catalogue.upsert_papers(CRAFTED)


@pytest.fixture(scope="session")
def full_catalogue_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalogue file filled from every fixture day (built once; tests copy it)."""
    path = tmp_path_factory.mktemp("catalogue") / "full.db"
    errors: list[BaseException] = []

    def build() -> None:  # own thread: the session fixture may be set up while a test loop is running
        try:
            asyncio.run(_build_full_catalogue(path))
        except BaseException as exc:  # re-raised below in the test's thread
            errors.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return path


async def _embed_catalogue(path: Path) -> None:
    folder = path.with_name(path.name + ".index")
    async with await open_catalogue(path) as catalogue, open_search(catalogue, folder, role="embed") as search:
        assert search.vectors is not None
        await search.follower.complete(search.vectors)


@pytest.fixture(scope="session")
def embedded_catalogue_template(full_catalogue_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full catalogue with its search folder ("papers.db.index": keyword index and every paper's vector),
    built once (~10 s): a bot started on a copy ranks by meaning and finds similar papers at once."""
    path = tmp_path_factory.mktemp("embedded") / "papers.db"
    shutil.copyfile(full_catalogue_template, path)
    errors: list[BaseException] = []

    def build() -> None:  # own thread, as for the full catalogue
        try:
            asyncio.run(_embed_catalogue(path))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "discord_rejects: the test provokes REST errors from the fake on purpose (e.g. a bad token)"
    )


@pytest.fixture
async def fake(request: pytest.FixtureRequest) -> AsyncIterator[FakeDiscord]:
    """A fresh loopback Discord with the default test guild.

    After the test it fails on unknown routes or fake crashes, and — unless the test is marked
    `discord_rejects` — on any request the fake rejected: a 4xx from Discord (an over-limit body, a second
    initial response, a late response) is a bug even when the user-visible outcome looks right.
    """
    async with FakeDiscord() as server:
        yield server
        server.assert_clean()
        if request.node.get_closest_marker("discord_rejects") is None:
            rejected = [str(r) for r in server.requests if r.status >= 400]
            assert not rejected, f"the fake rejected requests: {rejected}"


@dataclass
class RunningBot:
    """A `run_bot` task serving the fake; `stop()` requests the same shutdown as SIGTERM."""

    fake: FakeDiscord
    settings: Settings
    task: asyncio.Task[int]
    stop_event: asyncio.Event
    stopped: bool = field(default=False)

    @property
    def db_path(self) -> Path:
        return self.settings.database.path

    async def stop(self) -> int:
        self.stop_event.set()
        self.stopped = True
        return await asyncio.wait_for(self.task, timeout=10)


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def start_bot(
    fake: FakeDiscord,
    fixture_server: FixtureServer,
    full_catalogue_template: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> AsyncIterator[StartBot]:
    """Factory: `await start_bot(catalogue="full"|"embedded"|"empty"|"keep")` → a bot logged in, synced and on
    the gateway ("embedded": the full catalogue with its vectors already built; "keep": the catalogue the
    test's previous bot left, as a restart finds it)."""
    running: list[RunningBot] = []

    async def start(
        *,
        catalogue: str = "full",
        token: str | None = None,
        guild_ids: tuple[int, ...] = (GUILD_ID,),
        env: dict[str, str] | None = None,
    ) -> RunningBot:
        db = tmp_path / "papers.db"
        if catalogue == "full":
            shutil.copyfile(full_catalogue_template, db)
        elif catalogue == "embedded":
            template: Path = request.getfixturevalue("embedded_catalogue_template")
            shutil.copyfile(template, db)
            shutil.copytree(template.with_name(template.name + ".index"), db.with_name(db.name + ".index"))
        settings = _settings(
            fake,
            fixture_server,
            db,
            tmp_path / "config.toml",
            token=token or fake.token,
            guild_ids=guild_ids,
            extra_env=env,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(run_bot(settings, stop=stop), name="run_bot under test")
        bot = RunningBot(fake, settings, task, stop)
        running.append(bot)
        ready = asyncio.create_task(
            fake.wait_for(
                lambda: fake.gateway.session is not None and fake.gateway.session.connection is not None,
                timeout=10,
                what="the bot to identify on the gateway",
            )
        )
        done, _ = await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            ready.cancel()
            raise AssertionError(f"run_bot ended during start-up with status {task.result()}")
        await ready
        return bot

    yield start
    for bot in running:
        if not bot.stopped:
            assert await bot.stop() == 0
