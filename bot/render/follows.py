"""The daily follow DM: the papers that matched a member's follows since their last DM, with links.

However many papers matched, the DM fits Discord's limits and stays readable: papers are listed best first, one
compact entry each (linked title, upvotes, first author, which follow matched), packed into embeds and messages
within the limits, and at most `DM_PAPERS_MAX` of them — the rest are counted, with a hint to narrow the
follows. A DM pings nobody (no allowed mentions) whatever the papers contain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.models import Paper
from bot.render import limits
from bot.render.papers import paper_line
from bot.render.specs import EmbedSpec, MessageSpec, pack
from bot.render.text import escape, one_line, truncate

__all__ = ["DM_PAPERS_MAX", "FollowMatch", "follow_dm"]

DM_PAPERS_MAX = 50  # more than this in one DM is noise: the follows are too broad, and the DM says so
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


def follow_dm(matches: Sequence[FollowMatch], *, since: dt.date | None, until: dt.date) -> tuple[MessageSpec, ...]:
    """The DM's messages (empty when nothing matched: no DM at all).

    `since` is the list day after the member's last DM (None for a first DM); `until` the newest list day in it.
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
    embeds[-1] = replace(
        embeds[-1], footer="Your follows on paperbot: /paper following lists them, /paper unfollow stops one."
    )
    groups = pack(embeds)
    return tuple(
        MessageSpec(embeds=group, part=index, parts=len(groups)) for index, group in enumerate(groups, start=1)
    )
