"""A stand-in for a running bot while `bench.phases import-beside-bot` imports: `python -m bench._index_holder DB`.

It opens the catalogue at DB and its search the way `paperbot run` does (role "bot": it takes the index
folder's lease and follows the change log into the keyword index), prints `ready` once it holds the lease, and
keeps following until its stdin closes. Keyword mode: the benchmark measures the keyword index, and a real bot
embeds at nice 19, out of the import's way.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bench.phases import index_directory
from bot.catalogue import open_catalogue
from bot.search import open_search

_LEASE_WAIT_S = 30.0


async def _hold(db: Path) -> None:
    catalogue = await open_catalogue(db)
    async with catalogue, open_search(catalogue, index_directory(db), role="bot", mode="keyword") as search:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _LEASE_WAIT_S
        while not search.follower.lease.held:
            if loop.time() > deadline:
                raise SystemExit("the index holder never got the index folder's lease")
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the benchmark closes our stdin


if __name__ == "__main__":
    asyncio.run(_hold(Path(sys.argv[1])))
