"""`python -m bench.guild_cache`: what one gateway shard's guilds cost a bot process in memory.

discord.py keeps every guild of its shards in memory (channels, roles, the bot's own member; with paperbot's
default intents no member lists). A shard holds at most 2,500 guilds, so this bounds the memory a process
pays per shard it runs. The loopback fake Discord (this process) serves `--guilds` guilds shaped like a
typical community server (`--channels` text channels, `--roles` roles); a real discord.py client in a child
process logs in, receives READY and every GUILD_CREATE, and reports its resident memory before logging in
and once every guild is cached. The difference per guild is the figure to multiply.

    python -m bench.guild_cache                              # one full shard: 2,500 guilds
    python -m bench.guild_cache --guilds 500 --channels 10   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _rss_mb() -> float:
    """Resident memory of this process (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _world(guilds: int, channels: int, roles: int) -> list[object]:
    from fake_discord import Role, small_guild

    world = []
    for g in range(guilds):
        guild = small_guild(((1_400_000 + g) << 22) | 1, channels=channels)
        base = guild.id + 2 + channels
        guild.roles += [Role(id=base + r, name=f"role-{r}", permissions=0, position=2 + r) for r in range(roles)]
        world.append(guild)
    return world


async def _child(api: str, gateway: str, token: str, guilds: int) -> None:
    """The measured process: a discord.py client with paperbot's intents, until every guild is cached."""
    import discord

    from fake_discord import pointed_at_urls

    gc.collect()
    before = _rss_mb()
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.5)
    with pointed_at_urls(api, gateway):
        started = time.perf_counter()
        await client.login(token)
        connecting = asyncio.create_task(client.connect(reconnect=False))
        await asyncio.wait_for(client.wait_until_ready(), timeout=600)
        ready = time.perf_counter() - started
        gc.collect()
        after = _rss_mb()
        cached = len(client.guilds)
        await client.close()
        await asyncio.gather(connecting, return_exceptions=True)
    print(json.dumps({"before_mb": before, "after_mb": after, "guilds": cached, "ready_s": ready, "expected": guilds}))


async def _measure(guilds: int, channels: int, roles: int) -> dict[str, float]:
    from fake_discord import FakeDiscord

    async with FakeDiscord(guilds=_world(guilds, channels, roles)) as fake:  # type: ignore[arg-type]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.guild_cache", "--child",
            fake.api_base_url, fake.gateway.url, fake.token, str(guilds),
            cwd=HERE.parent, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the measured client failed ({proc.returncode})")
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Measure an empty client and one holding `--guilds` guilds; print the table."""
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        api, gateway, token, guilds = sys.argv[2:6]
        asyncio.run(_child(api, gateway, token, int(guilds)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.guild_cache", description=__doc__.split("\n\n")[0])
    parser.add_argument("--guilds", type=int, default=2_500, help="guilds on the shard (Discord's maximum: 2,500)")
    parser.add_argument("--channels", type=int, default=25, help="text channels per guild")
    parser.add_argument("--roles", type=int, default=15, help="roles per guild besides @everyone and the bot's")
    args = parser.parse_args(argv)
    baseline = asyncio.run(_measure(1, args.channels, args.roles))
    full = asyncio.run(_measure(args.guilds, args.channels, args.roles))
    assert full["guilds"] == args.guilds, full
    per_guild_kb = (full["after_mb"] - baseline["after_mb"]) * 1024 / (args.guilds - 1)
    shape = f"{args.channels} text channels and {args.roles + 2} roles"
    print(f"discord.py guild cache: guilds of {shape}, default intents")
    print(f"  {'guilds':>7} {'RSS before login MB':>20} {'RSS when ready MB':>18} {'READY + guilds s':>17}")
    for row in (baseline, full):
        print(f"  {row['guilds']:>7,} {row['before_mb']:>20.1f} {row['after_mb']:>18.1f} {row['ready_s']:>17.1f}")
    print(f"  per guild: {per_guild_kb:.1f} KiB → a full shard (2,500 guilds): {per_guild_kb * 2500 / 1024:.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
