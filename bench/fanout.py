"""`python -m bench.fanout --posts 10000`: many digest posts due at the same minute, at Discord's rate limits.

Every digest subscription posts at its own local time, and most keep the default 09:00: at that minute each
channel owes one post — today's digest, rendered by the production code (`bot.digest.render`) from a real Hugging
Face Daily Papers day (`tests/fixtures/hf`), so each post has the real number of messages (parts) and embeds.
Discord allows one bot token 50 requests per second in all (the *global* limit; interaction answers are exempt)
and 5 messages per 5 s in one channel; a client over a limit gets 429 and must wait. discord.py waits and retries
a 429 by itself, but only five times per request, then raises: a fan-out that starts too much at once loses
posts. This benchmark measures which way of starting the posts gets them all out soonest without losing one.

Each strategy posts to `--posts` channels of the loopback fake Discord (`fake_discord`, limits switched on as
Discord's: `use_discord_defaults()`), through the real discord.py client logged in over the gateway and the
production send path (`bot.discord_ui.digest_commands.DiscordDigestSink.send`: embeds, no mentions). Messages
of one post go in order; posts run side by side as the strategy allows:

  unbounded   every post at once — what one scheduler job per subscription does when all fire at 09:00
  cap N       at most N posts in flight (a semaphore), no pacing
  paced R/s   each message waits for its turn on an even R-per-second schedule (a token bucket holding one
              token), with at most `--paced-cap` posts in flight

Beside the posts, a probe times a request every 0.25 s on a route Discord exempts from the global limit, the
route of an interaction's follow-up messages ("answer" in the table): discord.py holds every new request while
it waits out a global 429, so an unpaced fan-out delays the bot's answers to slash commands too, against
Discord's 3 s deadline.

The fake answers on loopback in microseconds; Discord answers a message create in roughly 100 ms. `--rtt-ms`
adds that round trip to every request on the client side (half before sending, half after the answer, through
aiohttp's request tracing), so "N in flight" means what it would mean against Discord. `--rtt-ms 0` gives the
bare loopback figures.

Prints one table (the recommended strategy is the fastest that lost no post; every row is compared with it)
and writes the same as JSON under `bench/results/`. Each post is checked in the fake: every part exactly once.

    python -m bench.fanout --posts 10000                    # ≈ 1 h: each strategy needs ≥ 400 s at 50/s
    python -m bench.fanout --posts 2000 --strategies "cap 50,paced 45"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import discord
from bot.digest.render import MessageSpec, render
from bot.discord_ui.digest_commands import DiscordDigestSink

from bot.digest.compose import compose
from bot.digest.sink import DeliveryError
from bot.models import Subscription
from bot.sources.huggingface import parse_daily_papers
from fake_discord import pointed_at_urls, small_guild
from fake_discord.ratelimits import DISCORD_GLOBAL_PER_SECOND

HERE = Path(__file__).resolve().parent
HF_FIXTURES = HERE.parent / "tests" / "fixtures" / "hf"
CHANNELS_PER_GUILD = 50
DEFAULT_STRATEGIES = "unbounded,cap 10,cap 25,cap 50,paced 40,paced 45,paced 48,paced 50"
# Discord restricts an IP for a while after 10,000 invalid requests (401, 403, 429) in 10 minutes.
INVALID_REQUESTS_PER_10_MIN = 10_000
# A recommended strategy draws at most one 429 per this many messages.
INVALID_SHARE = 100


# ---- strategies -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Strategy:
    """How posts are started: `cap` posts in flight at most (None: no cap), messages paced at `rate` per second
    (None: as fast as the cap allows)."""

    name: str
    cap: int | None = None
    rate: float | None = None


def parse_strategy(text: str, *, paced_cap: int) -> Strategy:
    """`unbounded`, `cap N` or `paced R` (messages per second)."""
    words = text.split()
    if words == ["unbounded"]:
        return Strategy("unbounded")
    if len(words) == 2 and words[0] == "cap" and words[1].isdigit() and int(words[1]) > 0:
        return Strategy(f"cap {int(words[1])}", cap=int(words[1]))
    if len(words) == 2 and words[0] == "paced":
        try:
            rate = float(words[1])
        except ValueError:
            rate = 0.0
        if rate > 0:
            return Strategy(f"paced {rate:g}/s", cap=paced_cap, rate=rate)
    raise argparse.ArgumentTypeError(f"expected 'unbounded', 'cap N' or 'paced R', got {text!r}")


class Pacer:
    """An even schedule of `rate` starts per second, shared by every task that waits on it.

    A token bucket holding one token: each start takes the next free slot, `1/rate` after the previous one,
    so no second ever sees more than `rate` starts (plus one at a window's edge). Holding more tokens would
    let a burst through after a quiet spell — exactly what a fixed one-second window on Discord's side punishes.
    """

    def __init__(self, rate: float) -> None:
        self._interval = 1.0 / rate
        self._next = -math.inf

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._next)
        self._next = start + self._interval
        if start > now:
            await asyncio.sleep(start - now)


# ---- what is posted -----------------------------------------------------------------------------------------


def digest_messages(top_n: int = 10) -> tuple[MessageSpec, ...]:
    """Today's post as production renders it, for the newest recorded Hugging Face day (default top_n)."""
    newest = sorted(HF_FIXTURES.glob("hf_daily_papers_*.json"))[-1]
    day = dt.date.fromisoformat(newest.name.split("_")[3])
    entries = parse_daily_papers(json.loads(newest.read_bytes()), day)
    sub = Subscription(channel_id=1, top_n=top_n)
    return render(compose([e.paper for e in entries], sub, day), day).messages


def fanout_world(posts: int) -> tuple[list[Any], list[int]]:
    """Guilds of CHANNELS_PER_GUILD text channels each, and the ids of the first `posts` channels."""
    guild_count = max(1, math.ceil(posts / CHANNELS_PER_GUILD))
    guilds = [small_guild(((1_300_000 + g) << 22) | 1, channels=CHANNELS_PER_GUILD) for g in range(guild_count)]
    channels = [c.id for guild in guilds for c in guild.channels if c.type == 0][:posts]
    return guilds, channels


def _latency(rtt_s: float) -> aiohttp.TraceConfig | None:
    """A client-side round trip added to every request: half before it is sent, half after its answer."""
    if rtt_s <= 0:
        return None
    trace = aiohttp.TraceConfig()

    async def half_way(*_: object) -> None:
        await asyncio.sleep(rtt_s / 2)

    trace.on_request_start.append(half_way)
    trace.on_request_end.append(half_way)
    return trace


# ---- one strategy -----------------------------------------------------------------------------------------


def _percentiles(values: Sequence[float]) -> dict[str, float | None]:
    """Median, 95th percentile and maximum ("last")."""
    if not values:
        return {"p50": None, "p95": None, "last": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {"p50": statistics.median(ordered), "p95": p95, "last": ordered[-1]}


@dataclass
class Outcome:
    """What one strategy achieved (times in seconds from the moment every post was due)."""

    strategy: str
    cap: int | None
    rate: float | None
    posts: int
    parts: int
    posted: int = 0
    gave_up: int = 0
    gave_up_reasons: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    duplicates: int = 0
    partial: int = 0
    requests: int = 0
    hits_global: int = 0
    hits_route: int = 0
    seconds: float = 0.0
    done_at: list[float] = field(default_factory=list)
    peak_in_flight: int = 0
    cpu_seconds: float = 0.0
    loop_lag_max: float = 0.0
    answer_s: dict[str, float | None] = field(default_factory=dict)

    @property
    def hits(self) -> int:
        return self.hits_global + self.hits_route

    @property
    def hits_per_10_min(self) -> float:
        """429s at this strategy's pace over Discord's 10-minute invalid-request window."""
        return self.hits * 600 / self.seconds if self.seconds else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def posts_per_s(self) -> float:
        return self.posted / self.seconds if self.seconds else 0.0

    def lateness(self) -> dict[str, float | None]:
        """When posts were complete, in seconds after they were due: median, p95 and the last one."""
        return _percentiles(self.done_at)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["done_at"]
        return data | {
            "messages_per_s": self.messages_per_s,
            "posts_per_s": self.posts_per_s,
            "hits_per_10_min": self.hits_per_10_min,
            "lateness": self.lateness(),
        }


class FakeProcess:
    """The fake Discord running in its own process (`bench._fanout_fake`), driven over its stdin/stdout."""

    def __init__(self, proc: asyncio.subprocess.Process, hello: dict[str, str]) -> None:
        self._proc = proc
        self.api: str = hello["api"]
        self.gateway: str = hello["gateway"]
        self.token: str = hello["token"]

    @classmethod
    @contextlib.asynccontextmanager
    async def started(cls, posts: int, global_limit: int) -> AsyncIterator[FakeProcess]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench._fanout_fake",
            str(posts),
            str(global_limit),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=HERE.parent,
            limit=1 << 26,  # the stats line lists every channel
        )
        try:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
            if not line:
                raise SystemExit("the fake Discord process ended before it started (see its stderr above)")
            yield cls(proc, json.loads(line))
        finally:
            if proc.returncode is None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    assert proc.stdin is not None
                    proc.stdin.write(b"quit\n")
                    await proc.stdin.drain()
                try:
                    await asyncio.wait_for(proc.wait(), timeout=30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()

    async def ask(self, command: str) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(command.encode() + b"\n")
        await self._proc.stdin.drain()
        answer: dict[str, Any] = json.loads(await self._proc.stdout.readline())
        return answer


@contextlib.asynccontextmanager
async def logged_in(fake: FakeProcess, rtt_s: float) -> AsyncIterator[discord.Client]:
    """A real discord.py client logged into the fake and on its gateway (READY, guilds cached), then closed."""
    options: dict[str, Any] = {"guild_ready_timeout": 0.1}
    trace = _latency(rtt_s)
    if trace is not None:
        options["http_trace"] = trace
    client = discord.Client(intents=discord.Intents.default(), **options)
    with pointed_at_urls(fake.api, fake.gateway):
        await client.login(fake.token)
        connecting = asyncio.create_task(client.connect(reconnect=False), name="fanout-client")
        try:
            ready = asyncio.create_task(client.wait_until_ready())
            done, _ = await asyncio.wait({ready, connecting}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                ready.cancel()
                raise SystemExit(f"the client did not become ready: {connecting.exception() if done else 'timeout'}")
            yield client
        finally:
            await client.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(connecting, 10)


async def _watch_loop_lag(lag: list[float], period: float = 0.05) -> None:
    """Record how late the loop wakes a sleeper: a late wake-up delays paced sends (noise, not the design)."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(period)
        lag.append(loop.time() - before - period)


async def _probe_answers(client: discord.Client, latencies: list[float], period: float = 0.25) -> None:
    """Time, every `period` seconds, a request on a route Discord exempts from the global limit (the route of
    an interaction's follow-up messages): how long an answer to a slash command would take while the fan-out
    runs. discord.py holds *every* new request while it waits out a global 429, exempt routes included."""
    route = discord.http.Route(
        "GET",
        "/webhooks/{webhook_id}/{webhook_token}/messages/@original",
        webhook_id=client.application_id,
        webhook_token="fanout-probe",
    )
    loop = asyncio.get_running_loop()
    while True:
        sent = loop.time()
        with contextlib.suppress(discord.HTTPException):  # no such interaction: 404, as intended
            await client.http.request(route)
        latencies.append(loop.time() - sent)
        await asyncio.sleep(period)


async def run_strategy(
    fake: FakeProcess, channels: Sequence[int], messages: Sequence[MessageSpec], strategy: Strategy, rtt_s: float
) -> Outcome:
    """Post `messages` to every channel as `strategy` says; check every part landed once; return the outcome."""
    await fake.ask("reset")  # a clean slate: no messages, no traffic, empty rate-limit windows
    outcome = Outcome(strategy.name, strategy.cap, strategy.rate, len(channels), len(messages))
    async with logged_in(fake, rtt_s) as client:
        sink = DiscordDigestSink(client)
        gate = asyncio.Semaphore(strategy.cap) if strategy.cap else None
        pacer = Pacer(strategy.rate) if strategy.rate else None
        reasons: Counter[str] = Counter()
        in_flight = 0
        loop = asyncio.get_running_loop()
        lag: list[float] = []
        watcher = asyncio.create_task(_watch_loop_lag(lag))
        answers: list[float] = []
        prober = asyncio.create_task(_probe_answers(client, answers))
        cpu_before = time.process_time()
        due = loop.time()

        async def post(channel_id: int) -> None:
            nonlocal in_flight
            async with gate if gate is not None else contextlib.nullcontext():
                in_flight += 1
                outcome.peak_in_flight = max(outcome.peak_in_flight, in_flight)
                try:
                    for message in messages:
                        if pacer is not None:
                            await pacer.wait()
                        await sink.send(channel_id, message)
                except DeliveryError as exc:
                    outcome.gave_up += 1
                    reasons[f"{exc.status or 'network'}: {exc.reason[:60]}"] += 1
                    return
                finally:
                    in_flight -= 1
                outcome.posted += 1
                outcome.done_at.append(loop.time() - due)

        await asyncio.gather(*(post(c) for c in channels))
        outcome.seconds = loop.time() - due
        outcome.cpu_seconds = time.process_time() - cpu_before
        watcher.cancel()
        prober.cancel()
        outcome.loop_lag_max = max(lag, default=0.0)
        outcome.answer_s = _percentiles(answers)
        outcome.gave_up_reasons = dict(reasons.most_common())
    _count_in_fake(await fake.ask("stats"), channels, len(messages), outcome)
    return outcome


def _count_in_fake(stats: dict[str, Any], channels: Sequence[int], parts: int, out: Outcome) -> None:
    """What Discord (the fake) really holds: messages, doubled parts, half-made posts, requests and 429s."""
    wanted = {str(c) for c in channels}
    per_part = {key: n for key, n in stats["parts"].items() if key.split("|")[0] in wanted}
    out.messages = sum(per_part.values())
    out.duplicates = sum(n - 1 for n in per_part.values() if n > 1)
    parts_seen = Counter(key.split("|")[0] for key in per_part)
    out.partial = sum(1 for n in parts_seen.values() if n < parts)
    out.requests = stats["requests"]
    out.hits_global = stats["hits_global"]
    out.hits_route = stats["hits_route"]


async def run(
    posts: int,
    strategies: Sequence[Strategy],
    *,
    rtt_ms: float = 100.0,
    global_limit: int = DISCORD_GLOBAL_PER_SECOND,
    top_n: int = 10,
) -> dict[str, Any]:
    """Run every strategy against one fake Discord at Discord's limits; return the results (not printed)."""
    messages = digest_messages(top_n)
    _guilds, channels = fanout_world(posts)
    outcomes: list[Outcome] = []
    async with FakeProcess.started(posts, global_limit) as fake:
        for strategy in strategies:
            print(f"  {strategy.name:<14} …", end="", file=sys.stderr, flush=True)
            outcome = await run_strategy(fake, channels, messages, strategy, rtt_ms / 1000)
            print(f" {outcome.seconds:7.1f} s", file=sys.stderr, flush=True)
            outcomes.append(outcome)
    best = recommend(outcomes)
    return {
        "posts": posts,
        "parts": len(messages),
        "embeds": sum(len(m.embeds) for m in messages),
        "chars": [m.size() for m in messages],
        "rtt_ms": rtt_ms,
        "global_limit": global_limit,
        "route_limit": "5 per 5 s per channel",
        "floor_seconds": posts * len(messages) / global_limit,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "recommended": best.strategy if best else None,
        "outcomes": [o.to_json() for o in outcomes],
    }


def recommend(outcomes: Sequence[Outcome]) -> Outcome | None:
    """The fastest strategy that lost nothing and stayed almost clear of 429s.

    Lost nothing: every post complete, no part doubled. Clear of 429s: at most one per INVALID_SHARE messages.
    Discord bans an IP for a while after 10,000 invalid requests (401, 403, 429) in 10 minutes, and every
    other 429/403 of the bot counts too: a fan-out that is a little faster by drawing thousands of 429s is
    one bad day away from taking the whole bot offline.
    """
    whole = [
        o
        for o in outcomes
        if o.posted == o.posts and not o.duplicates and not o.partial and o.hits * INVALID_SHARE <= o.messages
    ]
    return min(whole, key=lambda o: (round(o.seconds, 0), o.hits), default=None)


# ---- the table --------------------------------------------------------------------------------------------


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render_table(results: dict[str, Any]) -> str:
    """The one printed table: a row per strategy, compared with the recommended one."""
    outcomes = results["outcomes"]
    best = next((o for o in outcomes if o["strategy"] == results["recommended"]), None)
    columns: list[tuple[str, int, Callable[[dict[str, Any]], str]]] = [
        ("posted", 7, lambda o: f"{o['posted']:,}"),
        ("gave up", 7, lambda o: f"{o['gave_up']:,}"),
        ("partial", 7, lambda o: f"{o['partial']:,}"),
        ("doubled", 7, lambda o: f"{o['duplicates']:,}"),
        ("429 g/r", 11, lambda o: f"{o['hits_global']:,}/{o['hits_route']:,}"),
        ("429/10min", 9, lambda o: f"{o['hits_per_10_min']:,.0f}"),
        ("time s", 7, lambda o: _num(o["seconds"])),
        ("msg/s", 6, lambda o: _num(o["messages_per_s"])),
        ("post/s", 6, lambda o: _num(o["posts_per_s"])),
        ("p50 s", 6, lambda o: _num(o["lateness"]["p50"])),
        ("p95 s", 6, lambda o: _num(o["lateness"]["p95"])),
        ("last s", 7, lambda o: _num(o["lateness"]["last"])),
        ("in flight", 9, lambda o: f"{o['peak_in_flight']:,}"),
        ("cpu s", 6, lambda o: _num(o["cpu_seconds"])),
        ("lag ms", 6, lambda o: f"{o['loop_lag_max'] * 1000:.0f}"),
        ("answer p50/max s", 16, lambda o: f"{_num(o['answer_s']['p50'], 2)}/{_num(o['answer_s']['last'], 2)}"),
        ("vs best", 7, lambda o: _num(o["seconds"] / best["seconds"], 2) + "×" if best and best["seconds"] else "-"),
    ]
    lines = [
        f"paperbot digest fan-out: {results['posts']:,} posts due at once, {results['parts']} messages each "
        f"({results['embeds']} embeds, {'+'.join(str(c) for c in results['chars'])} chars), "
        f"{results['posts'] * results['parts']:,} messages in all",
        f"fake Discord at Discord's limits: global {results['global_limit']}/s, {results['route_limit']}; "
        f"client round trip {results['rtt_ms']:g} ms; floor {results['floor_seconds']:,.0f} s "
        f"(messages / global limit); load {results['loadavg_1m']}",
        "",
        f"  {'strategy':<14}" + "".join(f" {name:>{width}}" for name, width, _ in columns),
    ]
    for o in outcomes:
        cells = "".join(f" {cell(o):>{width}}" for _, width, cell in columns)
        lines.append(f"  {o['strategy']:<14}{cells}" + (" ←" if best is o else ""))
    for o in outcomes:
        for reason, count in o["gave_up_reasons"].items():
            lines.append(f"  {o['strategy']}: {count:,} posts gave up — {reason}")
    if best is not None:
        lines.append(
            f"\nrecommended: {best['strategy']} — {best['messages_per_s']:.1f} messages/s, every post out "
            f"{best['lateness']['last']:.0f} s after it was due, {best['hits_global'] + best['hits_route']} 429s"
        )
    else:
        lines.append("\nrecommended: none — every strategy lost a post or drew more than 1 429 per 100 messages")
    lines.append(
        f"(a strategy is recommended when it lost nothing and drew ≤ 1 429 per {INVALID_SHARE} messages: Discord "
        f"restricts an IP after {INVALID_REQUESTS_PER_10_MIN:,} invalid requests — 401, 403, 429 — in 10 minutes)"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the fan-out benchmark; print the table and write the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=10_000, help="channels whose post is due at the same minute")
    parser.add_argument(
        "--strategies", default=DEFAULT_STRATEGIES, help=f"comma-separated (default: {DEFAULT_STRATEGIES!r})"
    )
    parser.add_argument("--paced-cap", type=int, default=50, help="posts in flight at most under a paced strategy")
    parser.add_argument("--rtt-ms", type=float, default=100.0, help="client-side round trip per request")
    parser.add_argument("--global-limit", type=int, default=DISCORD_GLOBAL_PER_SECOND, help="requests per second")
    parser.add_argument("--top-n", type=int, default=10, help="papers per post (the subscription default: 10)")
    parser.add_argument("--out", type=Path, default=None, help="JSON report path (default: bench/results/…)")
    args = parser.parse_args(argv)
    # discord.py logs every 429 it waits out at WARNING; the table counts them instead.
    logging.getLogger("discord").setLevel(logging.ERROR)
    strategies = [parse_strategy(s.strip(), paced_cap=args.paced_cap) for s in args.strategies.split(",") if s.strip()]
    print(f"fan-out: {args.posts:,} posts, {len(strategies)} strategies", file=sys.stderr)
    results = asyncio.run(
        run(args.posts, strategies, rtt_ms=args.rtt_ms, global_limit=args.global_limit, top_n=args.top_n)
    )
    print(render_table(results))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / f"fanout-n{args.posts}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"  report: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
