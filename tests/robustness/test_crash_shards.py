"""Two real `paperbot run` shard processes on one real PostgreSQL catalogue act as one bot, and keep doing so
when one of them is killed with SIGKILL in the middle of a digest post.

The world: the loopback fake Discord with guilds on shards 0, 1 and 2 of 3 (the fake routes READY and events
by `(guild_id >> 22) % 3`, as Discord does); two processes run `--shard-ids 0 --shard-count 3` and
`--shard-ids 1 --shard-count 3`; nobody runs shard 2. Every guild has a channel subscribed to a digest owed
since 30 minutes ago (local time chosen so that is mid-day wherever the test runs), so both processes try to
make every post the moment they are ready.

* ``test_two_shard_processes_act_as_one_bot``: every channel gets its digest exactly once, all parts, no part
  sent twice (nonce replays included) — the guild on shard 2 too, through REST; one `[ingest] cron` firing
  (every minute here) runs in one process only (the loopback Hugging Face server sees the ingest's requests
  once, the catalogue holds one claim, the other process logs that it left the slot); each follower gets
  exactly one follow DM for the day — one member's DM is held with a 429 so that the other process meets it
  claimed and not yet sent.
* ``test_sigkill_of_a_shard_process_mid_post_*``: the fake Discord holds one channel's part with a 429
  (discord.py waits it out) and the process making that post is killed there, at a point picked by
  ``random.Random(seed)`` among those of the SQLite crash test (`test_crash_digest.py`):
  ``held-first`` (claimed, nothing sent), ``held-second`` (part 1 in the channel, part 2 held),
  ``after-last`` (every part sent; killed before or after `posted` is recorded). The survivor takes the
  expired lease over (the runner shortens the lease to a few seconds, `_short_lease.py`), reconciles from the
  channel and finishes: every part of every channel exactly once, every record `posted`.

CI runs one seed of the kill test; `PAPERBOT_CRASH_SEEDS=N` adds N seeded kills (slow). Every outcome prints
its seed; a failure names it (rerun one with `PAPERBOT_CRASH_SEED=<seed>`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from bot.catalogue import open_catalogue
from bot.digest.timing import list_day_for
from bot.follows.requests import new_follow
from bot.ingest import default_days
from bot.models import DailyEntry, Subscription
from bot.render.follows import parse_follow_marker
from fake_discord import FakeDiscord, guild_id_on_shard, ids, small_guild
from fake_discord.world import Guild
from tests.fixture_server import FixtureServer
from tests.postgres import PostgresServer, create_database, drop_database
from tests.robustness._discord import assert_exactly_one_complete_digest, bot_messages, digest_parts
from tests.robustness._proc import wait_for
from tests.robustness._shards import (
    LEASE_S,
    PostRow,
    Shards,
    follow_dm_rows,
    job_slots,
    midday_zone,
    owner_pid,
    poll,
    post_rows,
)
from tests.stores import fixture_days

SHARD_COUNT = 3
RUN = (0, 1)  # the shards the two processes run; shard 2 has no process
GUILDS_PER_SHARD = 2
KILL_POINTS = ("held-first", "held-second", "after-last")
DEFAULT_SEED = 7  # picks held-second, the point with a half-made post in the channel
EXTRA_SEEDS = int(os.environ.get("PAPERBOT_CRASH_SEEDS", "0"))
ONE_SEED = os.environ.get("PAPERBOT_CRASH_SEED")
LIST_FROM = dt.date(2024, 5, 28)  # the recorded Hugging Face day every post shows (15 papers: 2 parts at top 14)
TOP_N = 14
FOLLOWERS = {ids.MEMBER_USER_ID: "diffusion", ids.OTHER_USER_ID: "video"}
INGEST_CRON = "* * * * *"
HOLD_S = 10.0  # the 429's retry_after: the held part waits this long (the kill comes well before)
# One member's follow DM is held this long (its first send answered 429), so the other process's start-up run
# finds that DM claimed and not yet in the channel: only the claim keeps it from being sent a second time.
HOLD_DM_S = 8.0


def _world() -> list[Guild]:
    guilds = [small_guild(guild_id_on_shard(s, SHARD_COUNT, i)) for s in RUN for i in range(GUILDS_PER_SHARD)]
    return [*guilds, small_guild(guild_id_on_shard(2, SHARD_COUNT, 0))]


def _channels(guilds: list[Guild]) -> dict[int, int]:
    """Each guild's (one) text channel → the guild."""
    return {guild.channels[0].id: guild.id for guild in guilds}


@dataclass(frozen=True)
class Owed:
    """What the catalogue was prepared with: the posts owed now."""

    local_date: dt.date
    list_day: dt.date
    channels: dict[int, int]  # channel → guild


async def _prepare(url: str, fixtures: FixtureServer, guilds: list[Guild], *, follows: bool) -> Owed:
    """A list for the posts to show (the loopback Hugging Face serves the same list, so a refresh changes
    nothing), a subscription per channel owed a post since 30 minutes ago, and (optionally) two followers who
    followed before that list came in."""
    now = dt.datetime.now(dt.UTC)
    zone, local = midday_zone(now)
    list_day = list_day_for(now - dt.timedelta(minutes=30))
    channels = _channels(guilds)
    fixtures.set_day(list_day, fixtures.day_items(LIST_FROM))
    async with await open_catalogue(url) as catalogue:
        if follows:
            for user_id, keyword in FOLLOWERS.items():
                await catalogue.follows.add_follow(
                    user_id, new_follow(keyword, None), guild_id=guilds[0].id, now=now - dt.timedelta(days=2)
                )
        entries = fixture_days()[LIST_FROM]
        await catalogue.record_day(list_day, [DailyEntry(list_day, e.paper, e.upvotes) for e in entries])
        for channel_id, guild_id in channels.items():
            sub = Subscription(
                channel_id=channel_id,
                guild_id=guild_id,
                time=local.time().replace(second=0, microsecond=0),
                timezone=zone,
                top_n=TOP_N,
            )
            await catalogue.digests.subscribe(sub, now=now - dt.timedelta(days=2))
    return Owed(local.date(), list_day, channels)


def _env(fake: FakeDiscord, fixtures: FixtureServer, url: str, *, ingest: str | None = None) -> dict[str, str]:
    env = fixtures.environ() | {
        "PAPERBOT_DISCORD__TOKEN": fake.token,
        "PAPERBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "PAPERBOT_DATABASE__URL": url,
        "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
        "PAPERBOT_FOLLOWS__TIME": "00:00",  # today's follow DMs are owed from the start
    }
    if ingest is not None:
        env["PAPERBOT_INGEST__CRON"] = ingest
    return env


@asynccontextmanager
async def _two_shards(fake: FakeDiscord, env: dict[str, str], tmp_path: Path) -> AsyncIterator[Shards]:
    """Both shard processes started (each in its own folder: its own search index and heartbeat file)."""
    async with Shards() as shards:
        for shard in RUN:
            await shards.start(f"shard-{shard}", [shard], SHARD_COUNT, env=env, cwd=tmp_path / f"shard-{shard}")
        yield shards


def _assert_every_post_once(fake: FakeDiscord, owed: Owed) -> dict[int, int]:
    """Every channel holds its digest exactly once, and no part was ever created twice (a second create
    answered from an enforced nonce counts as a second send: it means a process did not know the part was
    there). Returns channel → parts."""
    parts = {channel: assert_exactly_one_complete_digest(fake, channel, owed.local_date) for channel in owed.channels}
    for channel, total in parts.items():
        created = [r for r in fake.requests_to(f"POST /channels/{channel}/messages") if r.ok]
        assert len(created) == total, f"channel {channel}: {len(created)} creates for {total} parts"
    assert fake.nonces.replays == [], f"parts sent twice (answered from their nonce): {fake.nonces.replays}"
    return parts


# ---- a, c, d: two live shard processes ------------------------------------------------------------------


async def test_two_shard_processes_act_as_one_bot(
    postgres_url: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    guilds = _world()
    owed = await _prepare(postgres_url, fixture_server, guilds, follows=True)
    async with FakeDiscord(guilds=guilds, shard_count=SHARD_COUNT) as fake:
        env = _env(fake, fixture_server, postgres_url, ingest=INGEST_CRON)
        member = fake.dms.find_user(ids.MEMBER_USER_ID)
        assert member is not None
        dm_channel = fake.dms.open_channel(member)  # the member has talked to the bot before: the channel exists
        fake.rate_limit_next(f"POST /channels/{dm_channel.id}/messages", retry_after=HOLD_DM_S)
        async with _two_shards(fake, env, tmp_path) as shards:
            try:
                for shard in shards.running:
                    await shard.wait_line("Digest service ready", deadline_s=90)
                await fake.wait_for(
                    lambda: fake.gateway.live_shards() == {(s, SHARD_COUNT) for s in RUN}, timeout=30, what="shards"
                )
                await _wait_all_posted(postgres_url, owed, deadline_s=60)
                assert [2, SHARD_COUNT] not in [i.get("shard") for i in fake.gateway.identifies]  # shard 2: nobody
                await _wait_dms_closed(postgres_url)
                # The ingest cron fires every minute in both processes; one runs each firing.
                ingest = await _wait_ingest_slots(postgres_url, fixture_server, shards, owed)
            except BaseException:
                print(shards.tails())
                raise
            codes = [await shard.stop() for shard in shards.running]
            assert codes == [0, 0], shards.tails()
        parts = _assert_every_post_once(fake, owed)
        made = {shard.name: sum(line.rstrip().endswith(" posted") for line in shard.lines) for shard in shards.running}
        dms = {user: _assert_one_dm(fake, user) for user in FOLLOWERS}
        fake.assert_clean()
    print(
        f"two shards: posts {parts} (channel → parts; shard-2 guild's channel {guilds[-1].channels[0].id}), "
        f"posts made per process {made}; follow DMs (member → parts) {dms}; ingest firings (UTC) run by "
        f"{ingest}"
    )


def _dm_markers(fake: FakeDiscord, user_id: int) -> list[tuple[dt.date, int, int]]:
    found = []
    for message in fake.dm_messages(user_id):
        for embed in message.embeds:
            marker = parse_follow_marker((embed.get("footer") or {}).get("text", ""))
            if marker:
                found.append(marker)
                break
    return found


async def _wait_dms_closed(url: str) -> None:
    """Wait until every follower's DM record of today is closed (sent) in the catalogue."""
    today = dt.datetime.now(dt.UTC).date()
    expected = [(user, today, "sent") for user in sorted(FOLLOWERS)]
    await poll(partial(follow_dm_rows, url), expected.__eq__, deadline_s=60, what="each follower's DM sent")


def _assert_one_dm(fake: FakeDiscord, user_id: int) -> int:
    """Exactly one complete follow DM today: each part once, and no part created twice."""
    today = dt.datetime.now(dt.UTC).date()
    markers = _dm_markers(fake, user_id)
    assert markers and {day for day, _, _ in markers} == {today}, markers
    (total,) = {parts for _, _, parts in markers}
    assert sorted(part for _, part, _ in markers) == list(range(1, total + 1)), f"member {user_id}: {markers}"
    channel = fake.dms.channel_with(user_id)
    assert channel is not None
    created = [r for r in fake.requests_to(f"POST /channels/{channel.id}/messages") if r.ok]
    assert len(created) == total, f"member {user_id}: {len(created)} DM messages created for {total} parts"
    return total


def _first_pages(fixtures: FixtureServer, day: dt.date) -> int:
    """How many times the list of `day` was fetched (each fetch asks its first page once)."""
    return sum(
        1
        for r in fixtures.requests_to("/api/daily_papers")
        if r.query.get("date") == day.isoformat() and r.query.get("p", "0") == "0"
    )


@dataclass(frozen=True)
class IngestSeen:
    """The ingest firings as the catalogue, the processes' logs and the Hugging Face server saw them."""

    slots: dict[dt.datetime, str]  # claimed firing → the pid-bearing owner that claimed it
    left: dict[dt.datetime, list[str]]  # firing → the processes that logged leaving it to another
    fetched: dict[dt.date, int]  # ingest day → how many times its list was fetched

    def settled(self) -> bool:
        """Every claimed firing is decided by both processes (or a list was fetched more often than claimed)."""
        runs = len(self.slots)
        return bool(self.slots) and (
            any(n > runs for n in self.fetched.values())
            or (all(self.left.get(t) for t in self.slots) and all(n >= runs for n in self.fetched.values()))
        )


async def _wait_ingest_slots(url: str, fixtures: FixtureServer, shards: Shards, owed: Owed) -> dict[str, str]:
    """Wait for an `[ingest] cron` firing (every minute here) to be claimed and decided by both processes; check
    that each claimed firing ran in exactly one process.

    The days the ingest refreshes (yesterday and today, UTC) other than the list the posts show are fetched by
    nothing else, so their request counts are the number of ingest runs. The process that claimed a firing runs
    it; the other logs that another process did. A broken claim shows as two fetches and no such line.
    Returns each firing's time → the process that ran it.
    """
    ingest_days = [day for day in default_days() if day != owed.list_day]

    async def read() -> IngestSeen:
        slots = {t.astimezone(dt.UTC): owner for t, owner in await job_slots(url, "ingest")}
        left = {
            t: [s.name for s in shards.running if s.has_line(f"Scheduled job ingest at {t}: run by another process")]
            for t in slots
        }
        return IngestSeen(slots, left, {day: _first_pages(fixtures, day) for day in ingest_days})

    # The next whole minute, plus start-up on a loaded machine.
    seen = await poll(read, IngestSeen.settled, deadline_s=75, what="an ingest firing run by one process")
    runs = len(seen.slots)
    assert seen.fetched == dict.fromkeys(ingest_days, runs), f"{runs} firing(s) claimed, lists fetched: {seen}"
    ran_by = {}
    for slot, owner in seen.slots.items():
        runner = [s.name for s in shards.running if s.pid == owner_pid(owner)]
        assert runner and seen.left[slot] and seen.left[slot] != runner, f"firing {slot}: {runner} ran it, {seen}"
        ran_by[f"{slot:%H:%M}"] = runner[0]
    return ran_by


# ---- b: kill -9 one process mid-post ----------------------------------------------------------------------


@contextmanager
def _seed_named(seed: int, point: str) -> Iterator[None]:
    """Every failure of a seeded run names its seed and kill point."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"[seed {seed}, kill point {point}; rerun: PAPERBOT_CRASH_SEED={seed}] {exc}") from exc


async def _kill_mid_post(seed: int, tmp_path: Path, postgres_url: str, fixtures: FixtureServer) -> dict[str, object]:
    rng = random.Random(seed)
    point = rng.choice(KILL_POINTS)
    print(f"shard crash: seed {seed} → kill point {point}")
    with _seed_named(seed, point):
        return await _kill_at(point, rng, tmp_path, postgres_url, fixtures, seed)


async def _kill_at(
    point: str, rng: random.Random, tmp_path: Path, url: str, fixtures: FixtureServer, seed: int
) -> dict[str, object]:
    guilds = _world()
    owed = await _prepare(url, fixtures, guilds, follows=False)
    target = rng.choice(sorted(owed.channels))  # the channel whose post is killed mid-way
    target_posts = f"POST /channels/{target}/messages"
    async with FakeDiscord(guilds=guilds, shard_count=SHARD_COUNT) as fake:
        env = _env(fake, fixtures, url)

        def sent() -> int:
            return len(bot_messages(fake, target))

        def parts_total() -> int | None:
            parts = digest_parts(fake, target)
            return parts[0][2] if parts else None

        def held() -> bool:
            return any(r.status == 429 for r in fake.requests_to(target_posts))

        if point == "held-first":
            fake.rate_limit_next(target_posts, retry_after=HOLD_S)
        async with _two_shards(fake, env, tmp_path / f"seed-{seed}") as shards:
            try:
                if point == "held-first":
                    await fake.wait_for(held, timeout=90, what="part 1 held")
                elif point == "held-second":
                    await fake.wait_for(lambda: sent() > 0, timeout=90, what="part 1")
                    fake.rate_limit_next(target_posts, retry_after=HOLD_S)  # whatever part comes next waits
                    await fake.wait_for(
                        lambda: held() or sent() == parts_total(), timeout=30, what="part 2 held (or all sent)"
                    )
                else:
                    await fake.wait_for(
                        lambda: sent() > 0 and sent() == parts_total(), timeout=90, what="every part sent"
                    )
                rows = {r.channel_id: r for r in await post_rows(url)}
                holder_pid = owner_pid(rows[target].owner) if target in rows else None
                victim = next((s for s in shards.running if s.pid == holder_pid), None)
                if victim is None:  # after-last: closed already (no owner left): kill either
                    victim = rng.choice(shards.running)
                await asyncio.sleep(rng.uniform(0.0, 0.05))  # the seeded kill instant itself, not a synchronisation
                await victim.kill()
                killed_at = asyncio.get_running_loop().time()
                survivor = next(s for s in shards.running if s is not victim)
                state_at_kill = {r.channel_id: r.state for r in await post_rows(url)}.get(target)
                sent_at_kill = sent()
                # The survivor finishes every post: the one killed mid-way after the lease runs out.
                await wait_for(
                    lambda: len(digest_parts(fake, target)) == (parts_total() or -1),
                    deadline_s=LEASE_S * 2 + 60,
                    what="the survivor to finish the killed post",
                )
                await _wait_all_posted(url, owed, deadline_s=LEASE_S * 2 + 60)
                took_s = asyncio.get_running_loop().time() - killed_at
            except BaseException:
                print(shards.tails())
                raise
            assert await survivor.stop() == 0, survivor.tail()
        parts = _assert_every_post_once(fake, owed)
        took_over = "taking over the post" in survivor.log
        fake.assert_clean()
    outcome: dict[str, object] = {
        "seed": seed,
        "point": point,
        "channel": target,
        "killed": victim.name,
        "state_at_kill": state_at_kill,
        "sent_at_kill": sent_at_kill,
        "parts": parts[target],
        "survivor_took_over": took_over,
        "finished_after_kill_s": round(took_s, 1),
    }
    print(f"shard crash: {outcome}")
    if state_at_kill == "posting":
        assert took_over, f"the survivor never logged a takeover\n{survivor.tail()}"
    return outcome


async def _wait_all_posted(url: str, owed: Owed, *, deadline_s: float) -> list[PostRow]:
    """Wait until every owed post's record is closed as posted."""

    def done(rows: list[PostRow]) -> bool:
        return {r.channel_id for r in rows} == set(owed.channels) and all(r.state == "posted" for r in rows)

    return await poll(partial(post_rows, url), done, deadline_s=deadline_s, what="every post recorded as posted")


async def test_sigkill_of_a_shard_process_mid_post_survivor_finishes_once(
    postgres_url: str, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    seed = int(ONE_SEED) if ONE_SEED else DEFAULT_SEED
    outcome = await _kill_mid_post(seed, tmp_path, postgres_url, fixture_server)
    if not ONE_SEED:
        assert outcome["point"] == "held-second" and outcome["state_at_kill"] == "posting", outcome


@pytest.mark.slow
@pytest.mark.skipif(EXTRA_SEEDS == 0, reason="set PAPERBOT_CRASH_SEEDS=N to try N more kill points")
async def test_sigkill_of_a_shard_process_mid_post_many_seeds(
    postgres_server: PostgresServer, fixture_server: FixtureServer, tmp_path: Path
) -> None:
    outcomes = []
    for i in range(EXTRA_SEEDS):
        # Each seed on a database of its own: the posts of one run are not owed again in the next.
        database = create_database(postgres_server, f"seed_{4000 + i}")
        try:
            outcomes.append(await _kill_mid_post(4000 + i, tmp_path, database.url, fixture_server))
        finally:
            drop_database(postgres_server, database.name)
    print(f"shard crash: {outcomes}")
