"""The load scenario behind `python -m bench.load` and its smoke test: a big catalogue, the real bot, a burst.

* `build_catalogue`: N synthetic papers imported through the production snapshot importer, plus 30 days of
  Daily Papers lists (so trending has data), all deterministic from a seed.
* `run_load`: the production runtime (`bot.runtime.run_bot`, exactly what `paperbot run` runs) logged into the
  loopback fake Discord (fake_discord/) with that catalogue, then a burst of slash-command interactions
  (search, abstract, title autocomplete, trending) dispatched at a fixed rate over the gateway, all in flight
  at once. For each: the initial response's latency as the fake measured it (from INTERACTION_CREATE to the
  callback; Discord's deadline is 3 s), and the time until the user sees the final answer.

Sources are disabled: the load is on the bot and its catalogue, not on loopback HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import statistics
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.catalogue import open_catalogue
from bot.config import DatabaseSettings, DiscordSettings, Settings, SourcesSettings
from bot.importer import import_snapshot
from bot.models import DailyEntry, Paper
from bot.runtime import run_bot
from fake_discord import FakeDiscord, Member, User, default_guild, ids

DEADLINE_S = 3.0
Command = tuple[str, str, dict[str, Any]]  # (kind, slash command, options)
_FIRST_USER_ID = 1_700_000_000_000_000_000
_HEAD = (
    "language model models diffusion video generation transformer attention graph neural network robust sparse "
    "quantum lattice retrieval agents reasoning benchmark scaling laws vision multimodal learning reinforcement "
    "policy alignment instruction tuning efficient inference memory long context speech audio 3d reconstruction "
    "segmentation detection tracking medical protein molecule code synthesis mathematical theorem proving"
)
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]


def _vocabulary(rng: random.Random, size: int = 20_000) -> tuple[list[str], list[float]]:
    """Head words plus a pseudo-word tail, with Zipf weights (rank^-1.05), as cumulative weights."""
    words = list(dict.fromkeys(_HEAD.split()))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    cumulative, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += rank**-1.05
        cumulative.append(total)
    return words, cumulative


def paper_id(index: int) -> str:
    """The synthetic paper `index`'s arXiv id (new style, 99 999 per month from January 2020)."""
    month, number = divmod(index, 99_999)
    return f"{20 + month // 12:02d}{month % 12 + 1:02d}.{number + 1:05d}"


def write_snapshot(path: Path, papers: int, seed: int) -> None:
    """JSON Lines in the public arXiv snapshot format, text drawn from a Zipf vocabulary."""
    rng = random.Random(seed)
    words, cumulative = _vocabulary(rng)

    def text(n: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cumulative, k=n))

    with path.open("w", encoding="utf-8") as out:
        for i in range(papers):
            record = {
                "id": paper_id(i),
                "authors": ", ".join(f"{rng.choice('ABCDEFGH')}. {rng.choice(words).title()}" for _ in range(4)),
                "title": text(rng.randint(5, 14)).capitalize(),
                "categories": "cs.LG cs.CL",
                "abstract": text(rng.randint(80, 220)),
                "versions": [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}],
                "update_date": "2023-01-03",
            }
            out.write(json.dumps(record) + "\n")


async def build_catalogue(path: Path, papers: int, seed: int = 1) -> None:
    """Fill a fresh catalogue at `path` with `papers` synthetic papers and 30 days of Daily Papers lists."""
    snapshot = path.with_suffix(".jsonl")
    write_snapshot(snapshot, papers, seed)
    rng = random.Random(seed)
    async with await open_catalogue(path) as catalogue:
        await import_snapshot(snapshot, catalogue, progress=False)
        last = dt.date(2026, 11, 20)
        for back in range(30):
            day = last - dt.timedelta(days=back)
            listed = rng.sample(range(papers), min(25, papers))
            entries = []
            for index in listed:
                stored = await catalogue.get(paper_id(index))
                assert stored is not None
                votes = rng.randint(0, 400)
                entries.append(DailyEntry(day, Paper(id=stored.id, title=stored.title, upvotes=votes), votes))
            await catalogue.record_day(day, entries)
    snapshot.unlink()


@dataclass
class Outcome:
    """One interaction under load."""

    kind: str
    first_response_s: float | None = None  # INTERACTION_CREATE → callback, fake's clock
    answered_s: float | None = None  # INTERACTION_CREATE → final answer visible
    response_type: int | None = None
    throttled: bool = False  # answered with the per-user cooldown's "Slow down" line instead of a result
    error: str | None = None


@dataclass
class LoadReport:
    """The burst's outcomes and their latency distribution."""

    papers: int
    interactions: int
    burst_seconds: float
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def lost(self) -> list[Outcome]:
        """Interactions never answered (no initial response, or no final answer)."""
        return [o for o in self.outcomes if o.error is not None]

    @property
    def late(self) -> list[Outcome]:
        """Initial responses after Discord's 3 s deadline."""
        return [o for o in self.outcomes if o.first_response_s is not None and o.first_response_s > DEADLINE_S]

    def summary(self) -> dict[str, Any]:
        """Counts plus p50/p95/p99/max of first-response and answer latencies (seconds)."""
        first = [o.first_response_s for o in self.outcomes if o.first_response_s is not None]
        answered = [o.answered_s for o in self.outcomes if o.answered_s is not None]
        kinds: dict[str, int] = {}
        for o in self.outcomes:
            kinds[o.kind] = kinds.get(o.kind, 0) + 1
        return {
            "papers": self.papers,
            "interactions": self.interactions,
            "burst_seconds": self.burst_seconds,
            "kinds": kinds,
            "answered": len(answered),
            "throttled": sum(o.throttled for o in self.outcomes),
            "lost": len(self.lost),
            "late_first_response": len(self.late),
            "first_response_s": distribution(first),
            "answered_s": distribution(answered),
            "errors": sorted({o.error for o in self.lost if o.error})[:10],
        }

    def to_json(self) -> dict[str, Any]:
        """Summary plus every outcome."""
        return self.summary() | {"outcomes": [asdict(o) for o in self.outcomes]}


def distribution(values: list[float]) -> dict[str, float | None]:
    """p50/p95/p99/max/mean of `values` (None when empty)."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    return {
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def _settings(fake: FakeDiscord, db: Path) -> Settings:
    return Settings(
        discord=DiscordSettings(token=SecretStr(fake.token), api_base_url=fake.api_base_url, guild_ids=[ids.GUILD_ID]),
        database=DatabaseSettings(path=db),
        sources=SourcesSettings.model_validate({"huggingface": {"enabled": False}, "arxiv": {"enabled": False}}),
    )


def plan_commands(count: int, stored: list[tuple[str, str]], rng: random.Random) -> list[Command]:
    """(kind, command, options) for each interaction: a realistic mix, deterministic from `rng`."""
    plan: list[Command] = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.40:
            # Words a user would type: one to three words of a stored title, so most searches hit.
            title_words = rng.choice(stored)[1].lower().split()
            query = " ".join(rng.sample(title_words, min(len(title_words), rng.randint(1, 3))))
            sort = rng.choice(["relevance", "relevance", "upvotes", "newest"])
            plan.append(("search", "paper search", {"query": query, "sort": sort}))
        elif roll < 0.65:
            title = rng.choice(stored)[1]
            typed = title[: rng.randint(1, max(1, len(title) // 2))]
            plan.append(("autocomplete", "paper abstract", {"title": typed}))
        elif roll < 0.85:
            paper = rng.choice(stored)[0]
            ref = rng.choice([paper, f"https://arxiv.org/abs/{paper}v1"])
            plan.append(("abstract", "paper abstract", {"title": ref}))
        else:
            period = rng.choice(["day", "week", "month"])
            plan.append(("trending", "paper trending", {"period": period, "limit": rng.randint(5, 25)}))
    return plan


async def _follow(fake: FakeDiscord, kind: str, handle: Any, answer_timeout: float) -> Outcome:
    outcome = Outcome(kind=kind)
    record = handle.record
    try:
        # Either the fake accepted an initial response, or it refused one (10062: later than 3 s).
        await handle.wait_for(
            lambda: record.response is not None or handle.errors, timeout=answer_timeout, what="a response"
        )
        if record.response is None:
            refused = handle.errors[0]
            outcome.first_response_s = refused.since_dispatch
            outcome.error = f"initial response refused: {refused}"
            return outcome
        outcome.first_response_s = record.response.latency
        outcome.response_type = record.response.type
        content = (record.response.data or {}).get("content") or ""
        outcome.throttled = record.response.type == 4 and content.startswith("Slow down")
        if kind != "autocomplete" and record.response.type == 5:
            await handle.original(timeout=answer_timeout)
        outcome.answered_s = fake.clock() - record.dispatched_at
        if handle.errors:
            outcome.error = f"rejected: {handle.errors[0]}"
    except AssertionError as exc:  # FakeTimeout: never answered
        outcome.error = f"no answer within {answer_timeout:g} s: {str(exc).splitlines()[0][:80]}"
    return outcome


def _bot_env(fake: FakeDiscord, db: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))}
    return base | {
        "PAPERBOT_DISCORD__TOKEN": fake.token,
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DISCORD__GUILD_IDS": f"[{ids.GUILD_ID}]",
        "PAPERBOT_DATABASE__PATH": str(db),
        "PAPERBOT_SOURCES__HUGGINGFACE__ENABLED": "false",
        "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
        "PAPERBOT_LOG__LEVEL": "WARNING",
    }


@dataclass
class BotProcess:
    """The bot under load: whether it has exited, and (as a subprocess) its pid for CPU and memory figures."""

    exited: Callable[[], bool]
    pid: int | None = None

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the bot process has used so far (None in-process or once gone)."""
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float | None:
        """The bot process's peak resident memory so far (VmHWM), in MB."""
        if self.pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None


@contextlib.asynccontextmanager
async def _bot_in_process(fake: FakeDiscord, db: Path) -> AsyncIterator[BotProcess]:
    stop = asyncio.Event()
    bot = asyncio.create_task(run_bot(_settings(fake, db), stop=stop), name="paperbot under load")
    try:
        yield BotProcess(bot.done)
    finally:
        stop.set()
        await asyncio.wait_for(bot, 30)


@contextlib.asynccontextmanager
async def _bot_subprocess(fake: FakeDiscord, db: Path) -> AsyncIterator[BotProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", env=_bot_env(fake, db), cwd=db.parent, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        yield BotProcess(lambda: process.returncode is not None, process.pid)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 60)


@dataclass
class Session:
    """A running bot logged into the fake Discord, with members to send interactions as."""

    fake: FakeDiscord
    users: list[int]
    bot: BotProcess


@contextlib.asynccontextmanager
async def serving(db: Path, *, members: int, subprocess: bool = True) -> AsyncIterator[Session]:
    """The production runtime serving `db` on a fresh fake Discord, ready for slash commands."""
    serve = _bot_subprocess if subprocess else _bot_in_process
    # A big server: every interaction comes from one of many members (the bot rate-limits each user).
    guild = default_guild()
    people = [Member(User(_FIRST_USER_ID + i, f"user{i}", f"User {i}")) for i in range(max(1, members))]
    guild.members.extend(people)
    async with FakeDiscord(guilds=[guild]) as fake, serve(fake, db) as bot:
        await fake.wait_for(
            lambda: bot.exited() or (fake.gateway.session is not None and fake.gateway.session.connection),
            timeout=60,
            what="the bot on the gateway",
        )
        if bot.exited():
            raise RuntimeError("the bot exited during start-up")
        await fake.wait_for_commands(ids.GUILD_ID, timeout=30)
        yield Session(fake, [m.id for m in people], bot)


async def sample_papers(db: Path, papers: int, rng: random.Random, count: int = 300) -> list[tuple[str, str]]:
    """(id, title) of `count` random stored papers, to build realistic commands from."""
    async with await open_catalogue(db) as catalogue:
        sample = [await catalogue.get(paper_id(rng.randrange(papers))) for _ in range(count)]
    return [(p.id, p.title) for p in sample if p is not None]


async def burst(session: Session, plan: list[Command], burst_seconds: float, answer_timeout: float) -> list[Outcome]:
    """Dispatch `plan` at an even rate over `burst_seconds`, all in flight at once; every outcome."""
    fake = session.fake
    loop = asyncio.get_running_loop()
    start = loop.time()
    followers = []
    for i, (kind, command, options) in enumerate(plan):
        # Pacing of the load generator (an arrival schedule), not synchronisation.
        await asyncio.sleep(max(0.0, start + i * burst_seconds / max(1, len(plan)) - loop.time()))
        user = session.users[i % len(session.users)]
        if kind == "autocomplete":
            handle = await fake.autocomplete(command, "title", user_id=user, **options)
        else:
            handle = await fake.slash(command, user_id=user, **options)
        followers.append(asyncio.create_task(_follow(fake, kind, handle, answer_timeout)))
    return list(await asyncio.gather(*followers))


async def one_by_one(
    session: Session, plan: list[Command], answer_timeout: float, *, first_user: int = 0
) -> list[Outcome]:
    """Send `plan` one interaction at a time, each after the previous one's final answer (round trips)."""
    outcomes = []
    for i, (kind, command, options) in enumerate(plan):
        user = session.users[(first_user + i) % len(session.users)]
        handle = await session.fake.slash(command, user_id=user, **options)
        outcomes.append(await _follow(session.fake, kind, handle, answer_timeout))
    return outcomes


async def run_load(
    db: Path,
    *,
    papers: int,
    interactions: int,
    burst_seconds: float,
    seed: int = 7,
    answer_timeout: float = 30.0,
    subprocess: bool = True,
) -> LoadReport:
    """Serve `db` with the real runtime on a fake Discord and fire `interactions` within `burst_seconds`.

    With `subprocess` (the benchmark), the bot is `python -m bot run` in its own process, as in production, so
    the fake Discord and the load generator do not share its event loop; otherwise `run_bot` runs in-process.
    """
    rng = random.Random(seed)
    plan = plan_commands(interactions, await sample_papers(db, papers, rng), rng)
    report = LoadReport(papers=papers, interactions=interactions, burst_seconds=burst_seconds)
    async with serving(db, members=interactions // 2, subprocess=subprocess) as session:
        report.outcomes = await burst(session, plan, burst_seconds, answer_timeout)
    return report
