"""Which channels get the digest, with which settings: the config file's channels merged with the slash commands'.

Everything that asks "what are the subscriptions" — the running service, `/paper digest status`, the dry run and
`paperbot digest status` — reads them here, so the bot and the CLI can never disagree about them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from bot.catalogue import DigestStore
from bot.config import Settings
from bot.models import Paper, Subscription

__all__ = ["DigestCatalogue", "effective_subscriptions"]


class DigestCatalogue(Protocol):
    """What the digest needs from the catalogue: the day lists, papers by id (for a settled edit), and its own
    store of subscriptions and posts."""

    async def day_papers(self, day: dt.date) -> list[Paper]: ...

    async def get_many(self, paper_ids: Sequence[str]) -> list[Paper]: ...

    @property
    def digests(self) -> DigestStore: ...


async def effective_subscriptions(catalogue: DigestCatalogue, settings: Settings) -> list[Subscription]:
    """Config channels merged with slash-command subscriptions (the database wins for the same channel).

    A config channel is owed posts from when a running bot first saw it (`created_at`; None until then).
    """
    config = {sub.channel_id: sub for sub in settings.digest.subscriptions()}
    stored = {sub.channel_id: sub for sub in await catalogue.digests.subscriptions()}
    states = await catalogue.digests.channel_states()
    merged: dict[int, Subscription] = {}
    for channel_id in sorted(config.keys() | stored.keys()):
        state = states.get(channel_id)
        if channel_id in config:
            first_seen = state.first_seen if state else None
            sub = stored.get(channel_id, config[channel_id])
            created = [t for t in (first_seen, stored[channel_id].created_at if channel_id in stored else None) if t]
            sub = replace(sub, source="config", created_at=min(created) if created else None)
        else:
            sub = stored[channel_id]
        merged[channel_id] = replace(
            sub,
            failing_reason=state.failing_reason if state else None,
            failing_since=state.failing_since if state else None,
        )
    return list(merged.values())
