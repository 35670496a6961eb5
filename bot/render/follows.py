"""The daily follow DM: the papers that matched a member's follows since their last DM, with links.

However many papers matched, the DM fits Discord's limits and stays readable: papers are listed best first, one
compact entry each (linked title, upvotes, first author, which follow matched), packed into embeds and messages
within the limits, and at most `DM_PAPERS_MAX` of them — the rest are counted, with a hint to narrow the
follows. A DM pings nobody (no allowed mentions) whatever the papers contain.

Like a digest post, a DM of several messages must be safe to send again after a failure part-way: every
message carries a nonce derived from (member, DM date, part), and its last embed's footer ends in a marker
`paperbot follows <date> · i/n` that `parse_follow_marker` reads back from the DM channel.

`following_view` is `/paper following`: a member's follows, whether their DMs are paused (why, and that
following again resumes them) and when the next DM goes out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.models import Paper
from bot.render import limits
from bot.render.papers import paper_line
from bot.render.specs import EmbedSpec, MessageSpec, pack, stable_nonce
from bot.render.text import discord_time, escape, one_line, truncate

__all__ = [
    "DM_PAPERS_MAX",
    "FOLLOW_MARKER",
    "FollowMatch",
    "follow_dm",
    "follow_nonce",
    "following_view",
    "parse_follow_marker",
]

DM_PAPERS_MAX = 50  # more than this in one DM is noise: the follows are too broad, and the DM says so
FOLLOW_MARKER = "paperbot follows"
_FOLLOW_MARKER_RE = re.compile(r"paperbot follows (\d{4}-\d{2}-\d{2}) · (\d+)/(\d+)")
_FOOTER = "Your follows on paperbot: /paper following lists them, /paper unfollow stops one."
_ENTRY_MAX = 420  # a linked line of at most 320 plus a "matched" line of at most 100
# Two filled embeds (plus the title, footer and "… and N more" line) fit one message's 6000 characters.
_DESCRIPTION_ROOM = 2800


@dataclass(frozen=True, slots=True)
class FollowMatch:
    """One paper for the DM and what brought it: the follows it matched, e.g. `keyword “diffusion”`."""

    paper: Paper
    matched: tuple[str, ...] = ()


def _entry(number: int, match: FollowMatch) -> str:
    line = paper_line(match.paper, 320, number=number)
    reasons = ", ".join(escape(one_line(m)) for m in match.matched if m.strip())
    if reasons:
        line += "\n" + truncate(f"↳ {reasons}", 100)
    return line


def follow_nonce(user_id: int, dm_date: dt.date, part: int) -> str:
    """The nonce of one message of one member's DM for one date (same inputs, same nonce, ≤ 25 chars)."""
    return stable_nonce("follow", user_id, dm_date.isoformat(), part)


def parse_follow_marker(text: str) -> tuple[dt.date, int, int] | None:
    """Read (DM date, part, parts) back from a DM message's footer, or None if it is not a follow DM."""
    found = _FOLLOW_MARKER_RE.search(text)
    if not found:
        return None
    return dt.date.fromisoformat(found.group(1)), int(found.group(2)), int(found.group(3))


def follow_dm(
    matches: Sequence[FollowMatch], *, user_id: int, dm_date: dt.date, since: dt.date | None, until: dt.date
) -> tuple[MessageSpec, ...]:
    """The DM's messages for member `user_id` on `dm_date` (empty when nothing matched: no DM at all).

    `since` is the first list day in it after the member's last DM (None for a first DM); `until` the newest.
    """
    if not matches:
        return ()
    shown = matches[:DM_PAPERS_MAX]
    hidden = len(matches) - len(shown)
    span = f"since {since.isoformat()}" if since is not None else f"up to {until.isoformat()}"
    count = f"{len(matches)} new paper{'s' if len(matches) != 1 else ''}"

    descriptions: list[str] = []
    current = ""
    for number, match in enumerate(shown, start=1):
        entry = truncate(_entry(number, match), _ENTRY_MAX)
        candidate = f"{current}\n\n{entry}" if current else entry
        if len(candidate) > _DESCRIPTION_ROOM:
            descriptions.append(current)
            candidate = entry
        current = candidate
    if hidden:
        current += f"\n\n… and {hidden} more. Narrow your follows with `/paper following` and `/paper unfollow`."
    descriptions.append(current)

    embeds = [EmbedSpec(description=text) for text in descriptions]
    embeds[0] = replace(embeds[0], title=truncate(f"Papers for your follows — {count} {span}", limits.TITLE_MAX))
    groups = pack(embeds, reserve=len(_FOOTER) + 40)
    messages: list[MessageSpec] = []
    for index, group in enumerate(groups, start=1):
        marker = f"{FOLLOW_MARKER} {dm_date.isoformat()} · {index}/{len(groups)}"
        footer = f"{_FOOTER} · {marker}" if index == len(groups) else marker
        last = replace(group[-1], footer=footer)
        messages.append(
            MessageSpec(
                embeds=(*group[:-1], last),
                part=index,
                parts=len(groups),
                nonce=follow_nonce(user_id, dm_date, index),
            )
        )
    return tuple(messages)


def following_view(
    follows: Sequence[str],
    *,
    limit: int,
    next_dm: dt.datetime,
    paused_reason: str | None = None,
    paused_at: dt.datetime | None = None,
    last_dm_at: dt.datetime | None = None,
) -> MessageSpec:
    """`/paper following`: the member's follows (each described in plain words), numbered, with the DM state.

    A paused member reads why, since when, and what resumes the DMs; everyone reads when the next DM is due (it
    comes only if a new paper matches).
    """
    if not follows:
        return MessageSpec(
            content="You follow nothing yet. Try `/paper follow keywords: diffusion, agents` or `/paper follow author: "
            "Jane Smith`: once a day I send you a DM with the new papers that match."
        )
    lines = [f"{number}. {truncate(escape(one_line(text)), 300)}" for number, text in enumerate(follows, start=1)]
    state: list[str] = []
    if paused_reason is not None:
        reason = truncate(escape(one_line(paused_reason)), 300)
        state.append(f"⏸ **Your DMs are paused** since {discord_time(paused_at)}: {reason}")
        state.append(
            "Allow direct messages from this server's members (Privacy Settings), then follow again — any "
            "`/paper follow`, even one you have — to resume."
        )
    else:
        state.append(f"Next DM: {discord_time(next_dm)}, if new papers match.")
    if last_dm_at is not None:
        state.append(f"Last DM: {discord_time(last_dm_at)}.")
    description = truncate("\n".join(lines) + "\n\n" + "\n".join(state), limits.DESCRIPTION_MAX)
    embed = EmbedSpec(
        title=f"Your follows ({len(follows)} of {limit})",
        description=description,
        footer="/paper unfollow removes one; /paper follow adds one.",
    )
    return MessageSpec(embeds=(embed,))
