"""`paperbot digest --dry-run`: print exactly what a channel's post would contain, without Discord.

Same path as the bot: `effective_subscriptions` → `build_post` (compose + render) → message specs; only the
last step differs — `bot.render.plain.rendered_text` prints the specs instead of turning them into
`discord.Embed`s. So a fresh machine with no token shows the main job of the bot from the local catalogue
alone (no refresh, nothing recorded, no first-seen written).
"""

from __future__ import annotations

import datetime as dt

from bot.config import Settings
from bot.digest.schedule import utc_now
from bot.digest.service import DigestCatalogue, build_post, effective_subscriptions
from bot.digest.timing import list_day_for, zone
from bot.models import Subscription
from bot.render.plain import rendered_text

__all__ = ["dry_run"]


def _title(sub: Subscription, origin: str, list_day: dt.date) -> str:
    filters = [f"top {sub.top_n}"]
    if sub.min_upvotes:
        filters.append(f"≥ {sub.min_upvotes} upvotes")
    if sub.keywords:
        filters.append("keywords: " + ", ".join(sub.keywords))
    filters.append(f"empty days: {sub.empty_days}")
    channel = f"channel {sub.channel_id}" if sub.channel_id else "no channel"
    return (
        f"══ {channel} ({origin}) · {sub.time:%H:%M} {sub.timezone} · {' · '.join(filters)} · "
        f"list of {list_day.isoformat()} ══"
    )


async def dry_run(
    settings: Settings,
    catalogue: DigestCatalogue,
    day: dt.date | None,
    channel_id: int | None,
    *,
    now: dt.datetime | None = None,
) -> str:
    """Render the post(s) as readable text: one channel, or every subscribed channel, or the defaults.

    `day` is the list date shown (default: the list a post made right now would show, i.e. yesterday UTC);
    `channel_id` picks one channel (its subscription, else the [digest] defaults for it).
    """
    now = now or utc_now()
    list_day = day or list_day_for(now)
    subs = await effective_subscriptions(catalogue, settings)
    config_ids = {s.channel_id for s in settings.digest.subscriptions()}
    chosen: list[tuple[Subscription, str]]
    if channel_id is not None:
        found = [s for s in subs if s.channel_id == channel_id]
        if found:
            chosen = [(found[0], "config file" if channel_id in config_ids else "subscribed with /paper digest")]
        else:
            chosen = [(settings.digest.default_subscription(channel_id), "not subscribed: [digest] defaults")]
    elif subs:
        chosen = [(s, "config file" if s.channel_id in config_ids else "subscribed with /paper digest") for s in subs]
    else:
        chosen = [(settings.digest.default_subscription(0), "no channel is subscribed: [digest] defaults")]
    blocks: list[str] = []
    for sub, origin in chosen:
        local_date = now.astimezone(zone(sub.timezone)).date()
        rendered = await build_post(catalogue, sub, list_day, local_date)
        block = [_title(sub, origin, list_day)]
        if not await catalogue.day_papers(list_day):
            block.append(
                f"(no papers are stored for {list_day.isoformat()}; if that is unexpected, run "
                f"`paperbot ingest --date {list_day.isoformat()}` first)"
            )
        block.append(rendered_text(rendered).rstrip())
        blocks.append("\n".join(block))
    return "\n\n".join(blocks) + "\n"
