"""Is the running bot alive? A heartbeat file the bot writes from its event loop, and the check that reads it.

A container health check must tell a live bot from a stuck one. A live process is not enough: a bot whose
event loop is blocked (a synchronous call that never returns, a deadlock, a stopped process) still has its
pid, yet answers nothing. And a running loop is not enough either: a bot that lost the gateway and cannot
get back serves no slash command. So the bot writes, every `HEARTBEAT_INTERVAL_S` seconds, from a task on
its own event loop, a small JSON file: when it was written, and whether each of its gateway shards is
connected. A stuck loop stops rewriting it, a lost gateway is written down as such, a clean stop deletes it.
`paperbot health` (`check`) reads the file without connecting anywhere — no database, no Discord, nothing a
frequent probe could overload — and answers healthy only when the file is fresh and every shard connected.

The file lives in the process's own local index folder (`Settings.search_index_dir()`): every bot process
already needs one of its own (two processes never share it), so the path is unique per process and the same
for `paperbot run` and `paperbot health` run with the same configuration (as Docker's HEALTHCHECK does, inside
the container). The search views never touch a file of this name.

Nothing here knows discord.py: the runtime hands in a `probe` that reads the client's state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "HEARTBEAT_FILE",
    "HEARTBEAT_INTERVAL_S",
    "Beat",
    "GatewayState",
    "Heartbeat",
    "Verdict",
    "check",
    "heartbeat_path",
]

log = logging.getLogger(__name__)

HEARTBEAT_FILE = "heartbeat.json"
# How often the bot rewrites the file. Cheap (one small file, atomically replaced), frequent enough that a
# stuck loop shows within a few beats.
HEARTBEAT_INTERVAL_S = 5.0
# A file older than this means the loop is stuck (or the process gone): six missed beats, so a loop that is
# only slow for a moment (a long garbage collection, a busy machine) is not declared dead.
DEFAULT_MAX_AGE_S = 30.0


def heartbeat_path(settings: Settings) -> Path:
    """Where this configuration's bot writes its heartbeat: its local index folder."""
    return settings.search_index_dir() / HEARTBEAT_FILE


@dataclass(frozen=True, slots=True)
class GatewayState:
    """What the probe reports: each shard this process runs → connected (socket open, READY seen)."""

    shards: Mapping[int, bool]
    latency_s: float | None = None  # the gateway's heartbeat round trip, when known

    @property
    def connected(self) -> bool:
        return bool(self.shards) and all(self.shards.values())


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat, as written to the file (times are wall-clock seconds: the reader is another process)."""

    pid: int
    written_at: float
    started_at: float
    interval_s: float
    shards: dict[int, bool] = field(default_factory=dict)
    latency_ms: float | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "pid": self.pid,
            "written_at": self.written_at,
            "started_at": self.started_at,
            "interval_s": self.interval_s,
            "gateway": "connected" if self.connected else "disconnected",
            "shards": {str(shard): "connected" if up else "disconnected" for shard, up in sorted(self.shards.items())},
            "latency_ms": self.latency_ms,
        }
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Beat:
        """Parse a heartbeat file; raises ValueError when it is not one."""
        try:
            data = json.loads(text)
            shards = {int(shard): state == "connected" for shard, state in dict(data["shards"]).items()}
            latency = data.get("latency_ms")
            return cls(
                pid=int(data["pid"]),
                written_at=float(data["written_at"]),
                started_at=float(data["started_at"]),
                interval_s=float(data["interval_s"]),
                shards=shards,
                latency_ms=float(latency) if latency is not None else None,
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a heartbeat file ({type(exc).__name__}: {exc})") from None

    @property
    def connected(self) -> bool:
        return bool(self.shards) and all(self.shards.values())


class Heartbeat:
    """Writes the heartbeat file every `interval` seconds from a task on the running loop; deletes it on stop."""

    def __init__(
        self,
        path: Path,
        probe: Callable[[], GatewayState],
        *,
        interval: float = HEARTBEAT_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._probe = probe
        self._interval = interval
        self._clock = clock
        self._started_at = clock()
        self._failing = False

    def beat(self) -> Beat:
        """Write one heartbeat now (atomically: a reader sees the old file or the new one, never half)."""
        try:
            state = self._probe()
        except Exception:  # a probe that fails must not stop the heartbeat: report the gateway as down
            log.exception("Reading the gateway state for the heartbeat failed")
            state = GatewayState(shards={})
        latency = state.latency_s
        beat = Beat(
            pid=os.getpid(),
            written_at=self._clock(),
            started_at=self._started_at,
            interval_s=self._interval,
            shards=dict(state.shards),
            latency_ms=round(latency * 1000, 1) if latency is not None and latency != float("inf") else None,
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            temporary.write_text(beat.to_json(), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as exc:
            # Keep serving: the file goes stale and the health check reports it, which is the truth — this
            # process can no longer prove it is alive. Log once per failing spell, not every beat.
            if not self._failing:
                log.warning("Cannot write the heartbeat file %s: %s", self.path, exc)
            self._failing = True
        else:
            if self._failing:
                log.info("Heartbeat file %s is written again", self.path)
            self._failing = False
        return beat

    async def run(self) -> None:
        """Beat until cancelled; then delete the file (a stopped bot is not a healthy one)."""
        try:
            while True:
                self.beat()
                await asyncio.sleep(self._interval)
        finally:
            self.remove()

    def remove(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The health check's answer: healthy or not, and one line saying why."""

    healthy: bool
    line: str


def _shards_named(shards: Mapping[int, bool], *, up: bool) -> str:
    """`shard 1` or `shards 0, 2`: the shards in that state."""
    chosen = [str(shard) for shard, state in sorted(shards.items()) if state is up]
    return ("shard " if len(chosen) == 1 else "shards ") + ", ".join(chosen)


def check(path: Path, *, max_age_s: float = DEFAULT_MAX_AGE_S, now: float | None = None) -> Verdict:
    """Healthy when the heartbeat at `path` is at most `max_age_s` old and every shard in it is connected."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Verdict(False, f"unhealthy: no heartbeat at {path}: the bot is not running (or not started yet)")
    except OSError as exc:
        return Verdict(False, f"unhealthy: cannot read the heartbeat at {path}: {exc.strerror or exc}")
    try:
        beat = Beat.from_json(text)
    except ValueError as exc:
        return Verdict(False, f"unhealthy: {path}: {exc}")
    age = max(0.0, (time.time() if now is None else now) - beat.written_at)
    if age > max_age_s:
        return Verdict(
            False,
            f"unhealthy: last heartbeat {age:.0f} s ago (limit {max_age_s:g} s): the event loop of pid {beat.pid} "
            "is stuck, or the process is gone",
        )
    if not beat.shards:
        return Verdict(False, f"unhealthy: not connected to the Discord gateway yet (pid {beat.pid})")
    if not beat.connected:
        down = _shards_named(beat.shards, up=False)
        return Verdict(False, f"unhealthy: gateway {down} not connected (pid {beat.pid})")
    latency = f", gateway latency {beat.latency_ms:.0f} ms" if beat.latency_ms is not None else ""
    return Verdict(
        True,
        f"healthy: gateway {_shards_named(beat.shards, up=True)} connected, last heartbeat {age:.0f} s ago"
        f"{latency} (pid {beat.pid})",
    )
