"""`paperbot db embed`: give every paper that has no vector yet its vector, in the foreground, then exit 0.

The bot does the same in the background (its search views follow the change log and fill in what is
missing). Running both at once is safe and embeds nothing twice: whoever holds the index folder's lease
writes the vectors. When that is another process (a running bot), this command shows its progress until
every paper has a vector instead of competing with it. With no embedding model available: one line, exit 1.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from bot.catalogue import Catalogue, open_catalogue
from bot.config import Settings
from bot.errors import EXIT_FAILURE, EXIT_OK
from bot.search import SearchService, ViewUnavailable, open_search
from bot.semantic import ModelUnavailable

__all__ = ["run_embed"]

WATCH_EVERY_S = 2.0


def run_embed(settings: Settings) -> int:
    """Embed every paper without a vector; return the exit status."""
    return asyncio.run(_embed(settings))


async def _embed(settings: Settings) -> int:
    catalogue = await open_catalogue(settings.database)
    try:
        async with open_search(
            catalogue, settings.search_index_dir(), role="embed", mode=settings.search.mode, model=settings.search.model
        ) as search:
            assert search.vectors is not None
            embedder = search.vectors.embedder
            try:
                await asyncio.to_thread(lambda: embedder.dim)  # loads the model
            except ModelUnavailable as exc:
                print(f"paperbot: cannot embed: {exc}", file=sys.stderr)
                return EXIT_FAILURE
            with _Bar(enabled=sys.stderr.isatty()) as bar:
                if search.follower.holds_lease:
                    await _embed_here(catalogue, search, bar)
                else:
                    await _watch_the_holder(catalogue, search, bar)
            total = await catalogue.count_papers()
            print(f"paperbot: {await search.embedded():,} of {total:,} papers have a vector", file=sys.stderr)
            return EXIT_OK
    except ViewUnavailable as exc:
        print(f"paperbot: cannot embed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        await catalogue.close()


async def _embed_here(catalogue: Catalogue, search: SearchService, bar: _Bar) -> None:
    assert search.vectors is not None
    started = time.monotonic()
    total = await catalogue.count_papers()

    async def step() -> None:
        bar.update(await search.embedded(), total, started)

    await search.follower.complete(search.vectors, on_step=step)
    await step()


async def _watch_the_holder(catalogue: Catalogue, search: SearchService, bar: _Bar) -> None:
    holder = search.follower.lease.holder() or "another paperbot process"
    print(f"paperbot: {holder} writes the search views and is embedding; following its progress", file=sys.stderr)
    started = time.monotonic()
    while True:
        total = await catalogue.count_papers()
        done = await search.embedded()
        bar.update(done, total, started)
        if done >= total:
            return
        await asyncio.sleep(WATCH_EVERY_S)


class _Bar:
    """A rich progress bar on a terminal; silence elsewhere."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if self._enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("embedding"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()
            self._task = self._bar.add_task("papers", total=None)
        return self

    def update(self, done: int, total: int, _started: float) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
