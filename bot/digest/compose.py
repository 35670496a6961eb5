"""What a subscription's post contains: a pure function of (the day's papers, the subscription, the day).

No I/O and no Discord here, so the same answer comes out of the running bot, `/paper digest preview` and
`paperbot digest --dry-run`, and property tests can hammer it. Rendering to messages is `bot.render.digest`.

Also here: what a weekly recap shows (`compose_recap`: the week's most upvoted papers by the same filters) and
which of a subscription's topic role pings a post triggers (`matched_pings`: by the same keyword rule).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from bot.models import Digest, Paper, RolePing, Subscription
from bot.render.digest import WeeklyRecap

WEEK_DAYS = 7


def _upvotes(paper: Paper) -> int:
    return paper.upvotes if paper.upvotes is not None else 0


def rank(papers: Iterable[Paper]) -> list[Paper]:
    """Order by upvotes (most first), ties by id; a paper listed twice counts once, with its best upvotes."""
    best: dict[str, Paper] = {}
    for paper in papers:
        known = best.get(paper.id)
        if known is None or _upvotes(paper) > _upvotes(known):
            best[paper.id] = paper
    return sorted(best.values(), key=lambda p: (-_upvotes(p), p.id))


def normalise_keywords(keywords: Iterable[str]) -> tuple[str, ...]:
    """Casefold, trim and de-duplicate keywords, dropping empty ones (keeps the user's order)."""
    seen: dict[str, None] = {}
    for keyword in keywords:
        key = " ".join(keyword.split()).casefold()
        if key:
            seen.setdefault(key, None)
    return tuple(seen)


@lru_cache(maxsize=1024)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    # Anchored at the start of a word, open at the end: "transformer" finds "Transformers", "RL" finds
    # "RLHF" but not "world", "vision-language" finds itself. Spaces in a keyword match any whitespace.
    words = r"\s+".join(re.escape(part) for part in keyword.split())
    return re.compile(rf"(?<!\w){words}", re.IGNORECASE)


def matches(paper: Paper, keywords: Sequence[str]) -> bool:
    """Whether any keyword starts a word (case-insensitively) in the title, the abstract or the AI keywords."""
    wanted = normalise_keywords(keywords)
    if not wanted:
        return True
    haystack = "\n".join([paper.title, paper.abstract or "", "\n".join(paper.ai_keywords or ())])
    return any(_keyword_pattern(keyword).search(haystack) for keyword in wanted)


def select(papers: Iterable[Paper], sub: Subscription) -> list[Paper]:
    """Rank, then keep papers with at least min_upvotes that match the keywords, cut to top_n."""
    kept = [p for p in rank(papers) if _upvotes(p) >= sub.min_upvotes and matches(p, sub.keywords)]
    return kept[: max(sub.top_n, 0)]


def compose(
    papers: Sequence[Paper],
    sub: Subscription,
    day: dt.date,
    *,
    week_papers: Sequence[Paper] = (),
) -> Digest:
    """Build the post of `sub` for list day `day` from that day's papers.

    `week_papers` are the papers of the 7 list days ending at `day`, used only by `empty_days = "week"` when
    nothing of `day` survives the filters. An empty result gets the subscription's empty_days treatment:
    "skip" (post nothing), "note" (one line) or "week" (the week's best, same filters).
    """
    listed = rank(papers)
    chosen = select(listed, sub)
    if chosen:
        return Digest(day=day, subscription=sub, papers=tuple(chosen), kind="list", total_listed=len(listed))
    reason = (
        f"No papers were listed on {day.isoformat()}."
        if not listed
        else f"None of the {len(listed)} papers listed on {day.isoformat()} matched this channel's filters."
    )
    if sub.empty_days == "skip":
        return Digest(day=day, subscription=sub, papers=(), kind="skip", total_listed=len(listed), notes=(reason,))
    if sub.empty_days == "week":
        week = select(week_papers, sub)
        if week:
            first = day - dt.timedelta(days=WEEK_DAYS - 1)
            notes = (reason, f"Here is the best of the week {first.isoformat()} – {day.isoformat()} instead.")
            return Digest(
                day=day, subscription=sub, papers=tuple(week), kind="week", total_listed=len(listed), notes=notes
            )
    return Digest(day=day, subscription=sub, papers=(), kind="note", total_listed=len(listed), notes=(reason,))


def compose_recap(week: Sequence[Paper], sub: Subscription, last_day: dt.date) -> WeeklyRecap:
    """The weekly recap of `sub` for the 7 list days ending at `last_day`, from those days' papers (a paper listed
    on several days counts once, with its best upvotes): the most upvoted that pass the filters, top_n of them."""
    listed = rank(week)
    first = last_day - dt.timedelta(days=WEEK_DAYS - 1)
    return WeeklyRecap(first_day=first, last_day=last_day, papers=tuple(select(listed, sub)), total_listed=len(listed))


def matched_pings(papers: Sequence[Paper], pings: Sequence[RolePing]) -> tuple[RolePing, ...]:
    """The role pings a post of `papers` triggers: each role once, with only its keywords that a paper matched
    (the digest's keyword rule). A ping without keywords never triggers: it would ping for every post."""
    out: list[RolePing] = []
    for ping in pings:
        found = tuple(k for k in ping.keywords if k.strip() and any(matches(p, (k,)) for p in papers))
        if found:
            out.append(RolePing(ping.role_id, found))
    return tuple(out)
