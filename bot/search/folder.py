"""The on-disk layout of a derived view in the local index folder: generations, the current one, cursors.

    <index folder>/
        writer.lease                  the writer lease (bot.search.lease)
        keyword.json                  which generation is current, and what it was built from
        keyword-3/                    generation 3: the view's files (a tantivy index, …)
        keyword-3.cursor              the last change-log entry generation 3 has applied
        keyword.rebuild.json          while a rebuild runs: its progress, readable by every process

A rebuild writes the next generation beside the current one, which keeps serving readers in every process
until the state file is switched (an atomic rename); the generation before it is kept one more round, so a
process that has just opened it never finds its files gone. Every file is replaced atomically (write a
temporary file, then rename), so a crash leaves the old or the new content, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["RebuildProgress", "ViewFolder", "ViewState"]


@dataclass(frozen=True, slots=True)
class ViewState:
    """Which generation of a view is current, and what must match for it to be trusted."""

    generation: int
    format: int  # the view's own layout version: a change rebuilds
    engine: str  # the library's version (tantivy, the embedding model): an upgrade rebuilds
    catalogue: str  # the catalogue's identity: a view of another catalogue is rebuilt


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    """How far a running rebuild has come (written by the writer, read by any process to show an ETA)."""

    generation: int
    done: int
    total: int
    started: float  # time.time() when it began
    updated: float

    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far, when it can be estimated."""
        elapsed = self.updated - self.started
        if self.done <= 0 or elapsed <= 0:
            return None
        return max(0.0, (self.total - self.done) * elapsed / self.done)

    def percent(self) -> int:
        """Whole percent done (0 when the total is unknown)."""
        return min(100, int(100 * self.done / self.total)) if self.total > 0 else 0


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class ViewFolder:
    """One view's files in the index folder (see the module docstring)."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self._state_path = root / f"{name}.json"
        self._progress_path = root / f"{name}.rebuild.json"

    def generation_dir(self, generation: int) -> Path:
        """The folder of one generation's files."""
        return self.root / f"{self.name}-{generation}"

    def state(self) -> ViewState | None:
        """The current state, or None when there is none (or it cannot be read)."""
        data = _read_json(self._state_path)
        if data is None:
            return None
        try:
            return ViewState(
                generation=int(data["generation"]),
                format=int(data["format"]),
                engine=str(data["engine"]),
                catalogue=str(data["catalogue"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def state_mtime(self) -> float:
        """When the state file last changed (0 when absent): a cheap check for a switched generation."""
        try:
            return self._state_path.stat().st_mtime
        except OSError:
            return 0.0

    def switch_to(self, state: ViewState) -> None:
        """Make `state` current (atomic), then drop generations older than the one before it."""
        _write_json(self._state_path, asdict(state))
        self.remove_generations(keep={state.generation, state.generation - 1})

    def cursor(self, generation: int) -> int | None:
        """The last change-log entry a generation has applied, or None when it never saved one."""
        data = _read_json(self.root / f"{self.name}-{generation}.cursor")
        value = None if data is None else data.get("seq")
        return value if isinstance(value, int) else None

    def save_cursor(self, generation: int, seq: int) -> None:
        """Record that a generation has applied (and committed) everything up to `seq`."""
        _write_json(self.root / f"{self.name}-{generation}.cursor", {"seq": seq})

    def progress(self) -> RebuildProgress | None:
        """The running rebuild's progress, if one is running (or crashed: the writer clears it)."""
        data = _read_json(self._progress_path)
        if data is None:
            return None
        try:
            return RebuildProgress(**{k: data[k] for k in ("generation", "done", "total", "started", "updated")})
        except (KeyError, TypeError):
            return None

    def save_progress(self, progress: RebuildProgress) -> None:
        """Publish a rebuild's progress."""
        _write_json(self._progress_path, asdict(progress))

    def clear_progress(self) -> None:
        """A rebuild has finished (or is abandoned)."""
        with contextlib.suppress(FileNotFoundError):
            self._progress_path.unlink()

    def remove_generations(self, *, keep: set[int]) -> None:
        """Delete every generation (and its cursor) not in `keep`."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            stem = entry.name.removesuffix(".cursor")
            prefix, _, number = stem.rpartition("-")
            if prefix != self.name or not number.isdigit() or int(number) in keep:
                continue
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()

    @staticmethod
    def now() -> float:
        """Wall-clock seconds (for progress stamps)."""
        return time.time()
