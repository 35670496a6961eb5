"""The load scenario behind `python -m bench.load` and its smoke test: a big catalogue, the real bot, a burst.

* `build_catalogue`: N synthetic papers imported through the production snapshot importer, plus 30 days of
  Daily Papers lists (so trending has data), all deterministic from a seed.
* `run_load`: the production runtime (`bot.runtime.run_bot`, exactly what `paperbot run` runs) logged into the
  loopback fake Discord (tests/fake_discord) with that catalogue, then a burst of slash-command interactions
  (search, abstract, title autocomplete, trending) dispatched at a fixed rate over the gateway, all in flight
  at once. For each: the initial response's latency as the fake measured it (from INTERACTION_CREATE to the
  callback; Discord's deadline is 3 s), and the time until the user sees the final answer.

Sources are disabled: the load is on the bot and its catalogue, not on loopback HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.catalogue import Catalogue
from bot.config import DatabaseSettings, DiscordSettings, Settings, SourcesSettings
from bot.importer import import_snapshot
from bot.models import DailyEntry, Paper
from bot.runtime import run_bot
from tests.fake_discord import FakeDiscord, ids

DEADLINE_S = 3.0
_VOCABULARY = (
    "language model models diffusion video generation transformer attention graph neural network robust sparse "
    "quantum lattice retrieval agents reasoning benchmark scaling laws vision multimodal learning reinforcement "
    "policy alignment instruction tuning efficient inference memory long context speech audio 3d reconstruction "
    "segmentation detection tracking medical protein molecule code synthesis mathematical theorem proving"
)
_WORDS = _VOCABULARY.split()
_TAIL = [f"{a}{b}{c}" for a in ("ka", "lo", "mi", "nu", "so", "te") for b in ("ra", "vi", "xo") for c in "bdfgk"]


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(_WORDS) if rng.random() < 0.8 else rng.choice(_TAIL) for _ in range(n))


def paper_id(index: int) -> str:
    """The synthetic paper `index`'s arXiv id (new style, 5 digits, months from 2001 on)."""
    return f"{20 + index // 1_199_988:02d}{1 + (index // 99_999) % 12:02d}.{index % 99_999 + 1:05d}"


def write_snapshot(path: Path, papers: int, seed: int) -> list[str]:
    """JSON Lines in the public arXiv snapshot format; returns the titles in file order."""
    rng = random.Random(seed)
    titles = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(papers):
            title = _words(rng, rng.randint(5, 14)).capitalize() + f" {i}"
            titles.append(title)
            record = {
                "id": paper_id(i),
                "authors": ", ".join(f"{rng.choice('ABCDEFGH')}. {rng.choice(_TAIL).title()}" for _ in range(4)),
                "title": title,
                "categories": "cs.LG cs.CL",
                "abstract": _words(rng, rng.randint(80, 220)),
                "versions": [{"version": "v1", "created": "Mon, 2 Jan 2023 10:00:00 GMT"}],
                "update_date": "2023-01-03",
            }
            out.write(json.dumps(record) + "\n")
    return titles


async def build_catalogue(path: Path, papers: int, seed: int = 1) -> None:
    """Fill a fresh catalogue at `path` with `papers` synthetic papers and 30 days of Daily Papers lists."""
    snapshot = path.with_suffix(".jsonl")
    write_snapshot(snapshot, papers, seed)
    rng = random.Random(seed)
    async with await Catalogue.open(path) as catalogue:
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


def _plan(count: int, papers: int, titles: list[str], rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, command, options) for each interaction: a realistic mix, deterministic from `rng`."""
    plan = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.40:
            query = " ".join(rng.sample(_WORDS, rng.randint(1, 3)))
            sort = rng.choice(["relevance", "relevance", "upvotes", "newest"])
            plan.append(("search", "paper search", {"query": query, "sort": sort}))
        elif roll < 0.65:
            title = rng.choice(titles)
            typed = title[: rng.randint(1, max(1, len(title) // 2))]
            plan.append(("autocomplete", "paper abstract", {"title": typed}))
        elif roll < 0.85:
            index = rng.randrange(papers)
            ref = rng.choice([paper_id(index), f"https://arxiv.org/abs/{paper_id(index)}v1"])
            plan.append(("abstract", "paper abstract", {"title": ref}))
        else:
            period = rng.choice(["day", "week", "month"])
            plan.append(("trending", "paper trending", {"period": period, "limit": rng.randint(5, 25)}))
    return plan


async def _follow(fake: FakeDiscord, kind: str, handle: Any, answer_timeout: float) -> Outcome:
    outcome = Outcome(kind=kind)
    try:
        response = await handle.response(timeout=answer_timeout)
        outcome.first_response_s = response.latency
        outcome.response_type = response.type
        if kind != "autocomplete" and response.type == 5:
            await handle.original(timeout=answer_timeout)
        outcome.answered_s = fake.clock() - handle.record.dispatched_at
        if handle.errors:
            outcome.error = f"rejected: {handle.errors[0]}"
    except AssertionError as exc:  # FakeTimeout: never answered
        outcome.error = f"no answer: {str(exc).splitlines()[0]}"
    return outcome


async def run_load(
    db: Path, *, papers: int, interactions: int, burst_seconds: float, seed: int = 7, answer_timeout: float = 30.0
) -> LoadReport:
    """Serve `db` with the real runtime on a fake Discord and fire `interactions` within `burst_seconds`."""
    rng = random.Random(seed)
    async with await Catalogue.open(db) as catalogue:
        sample = [await catalogue.get(paper_id(rng.randrange(papers))) for _ in range(200)]
    titles = [p.title for p in sample if p is not None]
    plan = _plan(interactions, papers, titles, rng)
    report = LoadReport(papers=papers, interactions=interactions, burst_seconds=burst_seconds)
    async with FakeDiscord() as fake:
        stop = asyncio.Event()
        bot = asyncio.create_task(run_bot(_settings(fake, db), stop=stop), name="paperbot under load")
        try:
            await fake.wait_for(
                lambda: bot.done() or (fake.gateway.session is not None and fake.gateway.session.connection),
                timeout=30,
                what="the bot on the gateway",
            )
            if bot.done():
                raise RuntimeError(f"the bot exited during start-up with status {bot.result()}")
            await fake.wait_for_commands(ids.GUILD_ID, timeout=30)
            loop = asyncio.get_running_loop()
            start = loop.time()
            followers = []
            users = [ids.MEMBER_USER_ID, ids.OTHER_USER_ID, ids.ADMIN_USER_ID, ids.MODERATOR_USER_ID]
            for i, (kind, command, options) in enumerate(plan):
                # Pacing of the load generator (an arrival schedule), not synchronisation.
                await asyncio.sleep(max(0.0, start + i * burst_seconds / interactions - loop.time()))
                user = users[i % len(users)]
                if kind == "autocomplete":
                    handle = await fake.autocomplete(command, "title", user_id=user, **options)
                else:
                    handle = await fake.slash(command, user_id=user, **options)
                followers.append(asyncio.create_task(_follow(fake, kind, handle, answer_timeout)))
            report.outcomes = list(await asyncio.gather(*followers))
        finally:
            stop.set()
            await asyncio.wait_for(bot, 30)
    return report
