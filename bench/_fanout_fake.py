"""The fake Discord of `bench.fanout`, in a process of its own: `python -m bench._fanout_fake POSTS GLOBAL_LIMIT`.

Why a separate process: Discord does not share an event loop (or a CPU) with the bot. In one process, a pause
of the loop — the machine is busy, a garbage collection — would delay the bot's requests *and* the fake's
clock together, so requests the bot spread out would reach the fake's one-second window bunched up, and the
bench would count 429s that real pacing would not cause.

Protocol (one JSON object per line): on start it prints `{"api": …, "gateway": …, "token": …}`; then it answers
each command read from stdin — `reset` (forget messages, traffic and rate-limit windows) → `{"ok": true}`,
`stats` → the counts below, `quit` → exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter

from bench.fanout import fanout_world
from fake_discord import FakeDiscord


def stats(fake: FakeDiscord) -> dict[str, object]:
    """What the fake holds: each (channel, last footer) with how many messages carry it, requests, 429s."""
    parts: Counter[str] = Counter()
    for stored in fake.messages_by_id.values():
        if stored.embeds:
            footer = stored.embeds[-1].get("footer", {}).get("text", "")
            parts[f"{stored.channel_id}|{footer}"] += 1
    return {
        "parts": dict(parts),
        "requests": len(fake.requests_to("POST /channels/*/messages")),
        "hits_global": sum(1 for hit in fake.rate_limits.hits if hit.scope == "global"),
        "hits_route": sum(1 for hit in fake.rate_limits.hits if hit.scope != "global"),
    }


async def serve(posts: int, global_limit: int) -> None:
    guilds, _channels = fanout_world(posts)
    async with FakeDiscord(guilds=guilds) as fake:
        fake.rate_limits.use_discord_defaults()  # global 50/s and 5 messages per 5 s per channel
        fake.rate_limits.set_global(global_limit)
        print(json.dumps({"api": fake.api_base_url, "gateway": fake.gateway.url, "token": fake.token}), flush=True)
        while True:
            command = (await asyncio.to_thread(sys.stdin.readline)).strip()
            if command == "reset":
                fake.reset()
                answer: dict[str, object] = {"ok": True}
            elif command == "stats":
                answer = stats(fake)
            else:  # "quit", or the parent closed the pipe
                return
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), int(sys.argv[2])))
