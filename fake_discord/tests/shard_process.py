"""A one-command sharded bot to run as its own process against a fake (`python -m fake_discord.tests.shard_process`).

The sharding tests start two of these with disjoint shard ids, as a scaled-out bot runs, and check that each
interaction is answered by the process holding its guild's shard. The bot answers ``/whoami`` with its label
and the shard that delivered the interaction.

    python -m fake_discord.tests.shard_process API_BASE_URL GATEWAY_URL TOKEN LABEL SHARD_COUNT SHARD_ID...
"""

from __future__ import annotations

import asyncio
import sys

import discord
from discord import app_commands
from discord.ext import commands

from fake_discord.harness import pointed_at_urls


class WhoAmI(commands.AutoShardedBot):
    def __init__(self, label: str, shard_ids: list[int], shard_count: int) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.default(),
            shard_ids=shard_ids,
            shard_count=shard_count,
            guild_ready_timeout=0.05,
        )
        self.label = label

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Documented hook; discord.py's default waits 5 s before each IDENTIFY after the first."""

    async def setup_hook(self) -> None:
        @app_commands.command(name="whoami", description="Which process and shard answer")
        async def whoami(interaction: discord.Interaction) -> None:
            shard = interaction.guild.shard_id if interaction.guild is not None else None
            await interaction.response.send_message(f"{self.label} shard {shard}")

        self.tree.add_command(whoami)
        await self.tree.sync()


async def main(argv: list[str]) -> None:
    api, gateway, token, label, count, *shard_ids = argv
    with pointed_at_urls(api, gateway):
        bot = WhoAmI(label, [int(s) for s in shard_ids], int(count))
        async with bot:
            await bot.start(token)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
