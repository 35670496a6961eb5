"""`paperbot db copy --to URL_OR_PATH`: the command around `bot.catalogue.copy.copy_catalogue`.

The target is validated like `[database]` itself (a PostgreSQL URL, else an SQLite file path), its password
joins the secrets the log and stderr redact before anything is opened, and a progress bar is drawn on a
terminal. One line of counts at the end; a failure is one line (exit 1), a malformed target exit 2.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError

from bot.catalogue import is_postgres_url, open_catalogue
from bot.catalogue.copy import copy_catalogue
from bot.config import DatabaseSettings, Settings
from bot.errors import EXIT_OK, EXIT_USAGE
from bot.log import redact, setup_logging

__all__ = ["run_copy"]


def _target(text: str) -> DatabaseSettings | None:
    try:
        if is_postgres_url(text):
            return DatabaseSettings(url=SecretStr(text.strip()))
        if not text.strip():
            raise ValueError("expected a PostgreSQL URL or an SQLite file path")
        return DatabaseSettings(path=Path(text.strip()))
    except ValidationError as exc:
        reason = exc.errors()[0].get("msg", "expected a PostgreSQL URL or an SQLite file path")
    except ValueError as exc:
        reason = str(exc)
    print(redact(f"paperbot: --to: {reason}"), file=sys.stderr)
    return None


def run_copy(to: str, settings: Settings) -> int:
    """Copy the configured catalogue into `to`; return the exit status."""
    target_settings = _target(to)
    if target_settings is None:
        return EXIT_USAGE
    setup_logging(settings.log.level, secrets=[*settings.secrets(), *target_settings.secrets()])
    return asyncio.run(_copy(settings, target_settings))


async def _copy(settings: Settings, target_settings: DatabaseSettings) -> int:
    source = await open_catalogue(settings.database)
    try:
        target = await open_catalogue(target_settings)
        try:
            with _Progress(enabled=sys.stderr.isatty()) as progress:
                report = await copy_catalogue(source, target, progress=progress.update)
            print(f"paperbot: {report} → {target.location}", file=sys.stderr)
        finally:
            await target.close()
    finally:
        await source.close()
    return EXIT_OK


class _Progress:
    """A rich progress bar per phase (papers, days), shown only on a terminal."""

    def __init__(self, *, enabled: bool) -> None:
        self._enabled = enabled
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> _Progress:
        if self._enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(
                TextColumn("copy {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
            )
            self._bar.start()
        return self

    def update(self, what: str, done: int, total: int) -> None:
        if self._bar is None:
            return
        if what not in self._tasks:
            self._tasks[what] = self._bar.add_task(what, total=total or None)
        self._bar.update(self._tasks[what], completed=done, total=total or None)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
