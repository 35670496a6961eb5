"""A digest post as message specs: a header, one compact embed per paper, packed into numbered parts.

Every part carries, in the footer of its last embed, a marker `paperbot digest <local date> · i/n`, and a
nonce derived from (channel, local date, part). The marker lets the service find its own half-made post in a
channel after a crash; the nonce makes Discord answer a repeated send of the same part (discord.py's own
retry of a 5xx, or another process finishing the post) with the message it already created, instead of
posting it twice.

Also here, for the features built on the daily post: the weekly recap (`render_recap`), the name of a post's
discussion thread (`thread_name`), the topic role pings (`role_ping_line`, `with_role_pings`) and the one edit
of a post with settled upvotes (`settled`): the same messages, the same papers in the same order, each paper's
embed rebuilt from the paper as it is now, and the footer saying when the upvotes were read (`is_settled`
recognises an edited part, so a process finishing another's edit never edits a part twice).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from bot.models import HF_DAY_URL, HF_PAPER_URL, Digest, Paper, RolePing
from bot.render import limits
from bot.render.papers import summary
from bot.render.specs import EmbedSpec, MessageSpec, limit_problems, pack, stable_nonce
from bot.render.text import escape, is_http_url, one_line, shorten_authors, stars_label, truncate, upvotes_label

__all__ = [
    "MARKER",
    "Rendered",
    "WeeklyRecap",
    "digest_nonce",
    "header_embed",
    "is_settled",
    "long_date",
    "marker_for",
    "paper_embed",
    "paper_id_of",
    "parse_marker",
    "recap_header",
    "render",
    "render_recap",
    "role_ping_line",
    "settled",
    "thread_name",
    "with_role_pings",
]

MARKER = "paperbot digest"
SUMMARY_MAX = 320  # one or two sentences: enough to decide whether to click
_MARKER_RE = re.compile(r"paperbot digest (\d{4}-\d{2}-\d{2}) · (\d+)/(\d+)")
# Room kept free in each message for the footer marker added after packing (and the settled note of an edit).
_FOOTER_RESERVE = 120
SETTLED = "upvotes as of"
_RANKED_TITLE = re.compile(r"^(\d+)\. ")
_PAPER_URL = re.compile("^" + re.escape(HF_PAPER_URL.split("{id}")[0]) + r"(\S+)$")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A whole post: its messages in order, and the marker that identifies them in the channel."""

    marker: str
    messages: tuple[MessageSpec, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class WeeklyRecap:
    """What a weekly recap shows: the week's most upvoted papers (already chosen and ranked)."""

    first_day: dt.date
    last_day: dt.date
    papers: tuple[Paper, ...]
    total_listed: int


# ---- marker and nonce -----------------------------------------------------------------------------------


def marker_for(local_date: dt.date) -> str:
    """The footer marker prefix of a post for a channel's local date (the post record's key)."""
    return f"{MARKER} {local_date.isoformat()}"


def parse_marker(text: str) -> tuple[dt.date, int, int] | None:
    """Read (local date, part, parts) back from a footer, or None if it is not a digest marker."""
    found = _MARKER_RE.search(text)
    if not found:
        return None
    return dt.date.fromisoformat(found.group(1)), int(found.group(2)), int(found.group(3))


def digest_nonce(channel_id: int, local_date: dt.date, part: int, *, kind: str = "daily") -> str:
    """The nonce of one part of one channel's post for one local date: same inputs, same nonce, ≤ 25 chars.

    `kind` keeps a weekly recap and a daily post of the same channel and date apart.
    """
    return stable_nonce(kind, channel_id, local_date.isoformat(), part)


# ---- embeds ---------------------------------------------------------------------------------------------


def long_date(day: dt.date) -> str:
    """`Saturday 24 October 2026`."""
    return f"{day:%A} {day.day} {day:%B %Y}"


def paper_embed(paper: Paper, rank: int) -> EmbedSpec:
    """One compact embed: linked title, authors, summary, upvotes · organisation · GitHub ★, thumbnail."""
    meta = [upvotes_label(paper.upvotes)]
    if paper.organization and paper.organization.strip():
        meta.append(truncate(escape(one_line(paper.organization)), 80))
    if paper.github_repo and is_http_url(paper.github_repo):
        stars = f" ★ {stars_label(paper.github_stars)}" if paper.github_stars is not None else ""
        meta.append(f"[GitHub]({truncate(paper.github_repo, 300)}){stars}")
    text = escape(summary(paper, SUMMARY_MAX, sentences=2))
    description = "\n".join(part for part in (text, " · ".join(meta)) if part)
    authors = shorten_authors(paper.authors)
    return EmbedSpec(
        title=truncate(f"{rank}. " + escape(one_line(paper.title)), limits.TITLE_MAX),
        url=paper.url,
        description=truncate(description, limits.DESCRIPTION_MAX),
        author=truncate(authors, limits.AUTHOR_MAX) if authors else None,
        thumbnail=paper.thumbnail if is_http_url(paper.thumbnail) else None,
    )


def header_embed(digest: Digest) -> EmbedSpec:
    """The first embed: which day, how many papers, a link to the day on Hugging Face, and any notes."""
    day = digest.day
    link = HF_DAY_URL.format(day=day.isoformat())
    lines: list[str] = []
    if digest.kind == "list":
        shown = len(digest.papers)
        if shown < digest.total_listed:
            lines.append(f"Top {shown} of {digest.total_listed} papers listed on {long_date(day)}.")
        else:
            lines.append(f"{shown} paper{'s' if shown != 1 else ''} listed on {long_date(day)}.")
    else:
        lines.extend(digest.notes)
    lines.append(f"[See the whole day on Hugging Face]({link})")
    title = f"Hugging Face Daily Papers — {day.isoformat()}"
    if digest.kind == "week":
        title += " (best of the week)"
    return EmbedSpec(title=title, url=link, description="\n".join(lines))


def recap_header(recap: WeeklyRecap) -> EmbedSpec:
    """The first embed of a weekly recap: the week, how many papers of how many, a link to its last day."""
    link = HF_DAY_URL.format(day=recap.last_day.isoformat())
    shown = len(recap.papers)
    span = f"{long_date(recap.first_day)} to {long_date(recap.last_day)}"
    if shown:
        line = f"The {shown} most upvoted of {recap.total_listed} papers listed from {span}."
    else:
        line = f"No papers were listed from {span}."
    return EmbedSpec(
        title=f"Hugging Face Daily Papers — week {recap.first_day.isoformat()} – {recap.last_day.isoformat()}",
        url=link,
        description=f"{line}\n[See the last day on Hugging Face]({link})",
    )


# ---- whole posts ----------------------------------------------------------------------------------------


def _parts(
    header: EmbedSpec,
    papers: Sequence[Paper],
    label: str,
    channel_id: int,
    local_date: dt.date,
    kind: str,
    pings: Sequence[RolePing] = (),
) -> Rendered:
    """Pack header + paper embeds into numbered messages, each ending in the marker, each with its nonce; the
    first message names the matched roles (`pings`), allowed to ping exactly those."""
    marker = marker_for(local_date)
    embeds = [header] + [paper_embed(p, i) for i, p in enumerate(papers, start=1)]
    packed = pack(embeds, reserve=_FOOTER_RESERVE)
    total = len(packed)
    messages: list[MessageSpec] = []
    for index, group in enumerate(packed, start=1):
        footer = f"{label} · {marker} · {index}/{total}"
        last = replace(group[-1], footer=footer)
        messages.append(
            MessageSpec(
                embeds=(*group[:-1], last),
                part=index,
                parts=total,
                nonce=digest_nonce(channel_id, local_date, index, kind=kind),
            )
        )
    if messages and pings:
        messages[0] = with_role_pings(messages[0], pings)
    return Rendered(marker=marker, messages=tuple(messages))


def render(digest: Digest, local_date: dt.date, *, pings: Sequence[RolePing] = ()) -> Rendered:
    """The messages of a subscription's post for `local_date`; a "skip" digest renders to no messages.

    `pings` are the subscription's role pings that a paper of the post matched (see `role_ping_line`).
    """
    if digest.kind == "skip":
        return Rendered(marker=marker_for(local_date))
    label = f"Daily Papers {digest.day.isoformat()}"
    channel_id = digest.subscription.channel_id
    return _parts(header_embed(digest), digest.papers, label, channel_id, local_date, "daily", pings)


def render_recap(
    recap: WeeklyRecap, channel_id: int, local_date: dt.date, *, pings: Sequence[RolePing] = ()
) -> Rendered:
    """The messages of a weekly recap posted in `channel_id` on `local_date` (same marker and nonces)."""
    label = f"Weekly recap {recap.first_day.isoformat()} – {recap.last_day.isoformat()}"
    return _parts(recap_header(recap), recap.papers, label, channel_id, local_date, "weekly", pings)


# ---- settled upvotes ------------------------------------------------------------------------------------


def paper_id_of(embed: EmbedSpec) -> str | None:
    """The id of the paper a post's paper embed shows (from its link), or None for any other embed."""
    if embed.url is None or embed.title is None or not _RANKED_TITLE.match(embed.title):
        return None
    found = _PAPER_URL.match(embed.url)
    return found.group(1) if found else None


def _settled_note(at: dt.datetime) -> str:
    return f" · {SETTLED} {at.astimezone(dt.UTC):%d %b %H:%M} UTC"


def is_settled(footer: str) -> bool:
    """Whether a part's footer shows it was already edited with settled upvotes."""
    return parse_marker(footer) is not None and SETTLED in footer


def _settled_message(message: MessageSpec, papers: Mapping[str, Paper], note: str) -> MessageSpec:
    embeds: list[EmbedSpec] = []
    for embed in message.embeds:
        paper_id = paper_id_of(embed)
        ranked = _RANKED_TITLE.match(embed.title or "")
        if paper_id is not None and paper_id in papers and ranked is not None:
            embed = replace(paper_embed(papers[paper_id], int(ranked.group(1))), footer=embed.footer)
        embeds.append(embed)
    if embeds and embeds[-1].footer is not None:
        embeds[-1] = replace(embeds[-1], footer=truncate(embeds[-1].footer + note, limits.FOOTER_MAX))
    return replace(message, embeds=tuple(embeds))


def settled(messages: Sequence[MessageSpec], papers: Mapping[str, Paper], at: dt.datetime) -> tuple[MessageSpec, ...]:
    """The post's messages as its one edit shows them: every part, same papers in the same order and the same
    header, mentions and nonce, with each paper's embed rebuilt from `papers` (by id: the papers as they are
    now, with their settled upvotes) and the footer noting the time `at` the upvotes were read.

    A paper missing from `papers` keeps its embed. Should a part's new embeds outgrow a message (an upvote label
    a few characters longer, an abstract edited meanwhile), that part keeps its embeds and only gains the note.
    """
    note = _settled_note(at)
    out: list[MessageSpec] = []
    for message in messages:
        edited = _settled_message(message, papers, note)
        if limit_problems(edited):
            edited = _settled_message(message, {}, note)
        out.append(edited)
    return tuple(out)


# ---- threads and pings ----------------------------------------------------------------------------------


def thread_name(day: dt.date, *, weekly: bool = False) -> str:
    """The name of the discussion thread started from a post (plain text, ≤ 100 characters)."""
    name = f"Papers of the week to {day.isoformat()}" if weekly else f"Daily Papers — {long_date(day)}"
    return truncate(one_line(name), limits.THREAD_NAME_MAX)


def _role_mentions(pings: Sequence[RolePing]) -> list[int]:
    seen: dict[int, None] = {}
    for ping in pings:
        seen.setdefault(ping.role_id, None)
    return list(seen)


def role_ping_line(pings: Sequence[RolePing]) -> str | None:
    """`<@&1> <@&2> — papers on diffusion, robots`: each matched role once; None when no role matched.

    `pings` are the subscription's pings that a paper of the post matched, each with the keywords to name
    (pass `RolePing(role_id, matched_keywords)` to name only those that matched).

    Only the mentions are guaranteed a place: the keyword list is cut (or left out) to keep the line within
    a message's content limit, and roles beyond what 2000 characters can hold are not mentioned at all (so
    the message's allowed roles, `with_role_pings`, are exactly the roles the line names).
    """
    roles = _role_mentions(pings)
    if not roles:
        return None
    mentions: list[str] = []
    for role_id in roles:
        candidate = " ".join([*mentions, f"<@&{role_id}>"])
        if len(candidate) > limits.CONTENT_MAX:
            break
        mentions.append(f"<@&{role_id}>")
    line = " ".join(mentions)
    keywords: dict[str, None] = {}
    for ping in pings:
        for keyword in ping.keywords:
            if one_line(keyword):
                keywords.setdefault(one_line(keyword), None)
    if keywords:
        topics = " — papers on " + ", ".join(escape(k) for k in keywords)
        room = limits.CONTENT_MAX - len(line)
        if room > len(" — papers on …"):
            line += truncate(topics, room)
    return line


def with_role_pings(message: MessageSpec, pings: Sequence[RolePing]) -> MessageSpec:
    """`message` with the role ping line first in its content, allowed to ping exactly those roles.

    Paper data never goes into the content, so the roles named here are the only mentions Discord can
    resolve; the adapter turns `allowed_role_ids` into `allowed_mentions` with those roles and nothing else.
    """
    line = role_ping_line(pings)
    if line is None:
        return message
    mentioned = tuple(int(m) for m in re.findall(r"<@&(\d+)>", line))
    room = limits.CONTENT_MAX - len(line) - 1  # the line stays whole: the message's own content gives way
    content = f"{line}\n{truncate(message.content, room)}" if message.content and room > 1 else line
    return replace(message, content=content, allowed_role_ids=mentioned)
