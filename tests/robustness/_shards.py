"""Several real `paperbot run` shard processes on one PostgreSQL catalogue, for the multi-process crash tests.

`ShardProcess` is one `python -m bot run --shard-ids N --shard-count C` (through `_short_lease`, so a killed
process's digest post is taken over in seconds, not minutes) with its log read as it is written: a test can
wait for a line, kill the process with SIGKILL, or stop it with SIGTERM and check it exited cleanly. What the
processes did together is read back from the catalogue's own tables with a plain connection (independent of the
code under test) and from what the fake Discord recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import psycopg

from tests.robustness._proc import clean_env

REPO = Path(__file__).resolve().parents[2]
# Short enough that a takeover comes within seconds of a kill; long enough that a live owner on a loaded
# 2-core CI machine renews (every quarter of it) well before it runs out.
LEASE_S = 4.0
T = TypeVar("T")


def midday_zone(now: dt.datetime) -> tuple[str, dt.datetime]:
    """An Etc/GMT zone where it is around noon now, and the local time 30 minutes ago there (a post owed since
    then falls mid-day, far from any local midnight, wherever and whenever the test runs)."""
    offset = (12 - now.hour + 12) % 24 - 12  # hours east of UTC, in [-12, 11]
    name = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-5 is UTC+5 (POSIX sign)
    local = (now - dt.timedelta(minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=offset)))
    return name, local


def owner_pid(owner: str | None) -> int | None:
    """The pid in a claim's owner (`host:pid:random`, `bot.digest.service.process_owner`)."""
    if owner is None:
        return None
    parts = owner.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


@dataclass
class ShardProcess:
    """One running `paperbot run` for a shard range; its stderr (the log) is collected line by line."""

    name: str
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def tail(self, chars: int = 3000) -> str:
        return f"--- {self.name} (pid {self.pid}) log tail ---\n{self.log[-chars:]}"

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode(errors="replace"))
            self._changed.set()
        self._changed.set()

    async def wait_line(self, text: str, *, deadline_s: float) -> str:
        """Wait until a log line contains `text` (event-driven: woken by each new line); return that line."""
        async with asyncio.timeout(deadline_s):
            while True:
                found = next((line for line in self.lines if text in line), None)
                if found is not None:
                    return found
                if self._reader is not None and self._reader.done():
                    raise AssertionError(f"{self.name} exited before logging {text!r}\n{self.tail()}")
                self._changed.clear()
                await self._changed.wait()

    def has_line(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def kill(self) -> None:
        """kill -9: no shutdown code runs, leases and sockets are left as they are."""
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()
        if self._reader is not None:
            await self._reader

    async def stop(self) -> int:
        """SIGTERM and wait for the graceful stop; return the exit status."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            code = await self.process.wait()
            if self._reader is not None:
                await self._reader
        return code


def _make_folder(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


async def poll(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, deadline_s: float, what: str) -> T:
    """Read another process's effects (database rows, log lines) until `done(value)`; return the value.

    Polling, because another process's database writes raise no event here; a failure shows the last value."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not done(value := await read()):
        if loop.time() > end:
            raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}; last seen: {value}")
        await asyncio.sleep(0.1)
    return value


async def start_shard(
    name: str, shard_ids: Sequence[int], shard_count: int, *, env: Mapping[str, str], cwd: Path
) -> ShardProcess:
    """Start `paperbot run --shard-ids … --shard-count …` (lease `LEASE_S`) in `cwd` (its own index folder)."""
    _make_folder(cwd)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.robustness._short_lease", str(LEASE_S),
        "run", "--shard-ids", ",".join(map(str, shard_ids)), "--shard-count", str(shard_count),
        env=clean_env(dict(env) | {"PYTHONPATH": str(REPO)}), cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    shard = ShardProcess(name, process)
    shard._reader = asyncio.create_task(shard._read(), name=f"{name}-log")
    return shard


class Shards:
    """The shard processes of one test: `async with Shards() as shards: await shards.start(…)`; leaving the
    block kills (SIGKILL) every one still running, so a failing test leaves no process behind."""

    def __init__(self) -> None:
        self.running: list[ShardProcess] = []

    async def start(
        self, name: str, shard_ids: Sequence[int], shard_count: int, *, env: Mapping[str, str], cwd: Path
    ) -> ShardProcess:
        shard = await start_shard(name, shard_ids, shard_count, env=env, cwd=cwd)
        self.running.append(shard)
        return shard

    def tails(self) -> str:
        return "\n".join(shard.tail() for shard in self.running)

    async def __aenter__(self) -> Shards:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for shard in self.running:
            with contextlib.suppress(ProcessLookupError):
                await shard.kill()


# ---- reading the catalogue back (plain SQL, not the code under test) ---------------------------------------


@dataclass(frozen=True)
class PostRow:
    channel_id: int
    local_date: dt.date
    state: str
    owner: str | None
    parts_recorded: int


async def post_rows(url: str) -> list[PostRow]:
    """Every digest post record with how many of its parts have a message id."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT p.channel_id, p.local_date, p.state, p.owner,"
            " (SELECT count(*) FROM digest_post_parts q WHERE q.channel_id = p.channel_id"
            "  AND q.local_date = p.local_date AND q.message_id IS NOT NULL)"
            " FROM digest_posts p ORDER BY p.channel_id"
        )
        return [PostRow(int(c), d, s, o, int(n)) for c, d, s, o, n in await cur.fetchall()]


async def job_slots(url: str, job: str) -> list[tuple[dt.datetime, str]]:
    """(slot time, owner) of every claimed run of a scheduled job."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT slot_time, owner FROM job_slots WHERE job = %s ORDER BY slot_time", (job,))
        return [(t, o) for t, o in await cur.fetchall()]


async def follow_dm_rows(url: str) -> list[tuple[int, dt.date, str]]:
    """(member, UTC date, state) of every follow DM record."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT user_id, dm_date, state FROM follow_dms ORDER BY user_id, dm_date")
        return [(int(u), d, s) for u, d, s in await cur.fetchall()]
