"""A Digest as Discord-shaped message specs, and as terminal text — pure, no `discord` import.

Why specs and not `discord.Embed`: the layers below `discord_ui` may not import discord (DESIGN.md), yet the
dry run must print exactly what the bot posts. So the post is built once here as plain frozen data; the UI
turns an `EmbedSpec` into a `discord.Embed` field by field, and `to_text` prints the same specs.

Every message of a post carries a marker in the footer of its last embed (`paperbot digest <local date> ·
i/n`). After a crash between "posting" and "posted" the service finds its own messages by that marker, so it
neither posts twice nor leaves a part missing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bot.models import HF_DAY_URL, Digest, Paper

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
MAX_EMBEDS = 10
MAX_MESSAGE_CHARS = 6000
TITLE_MAX = 256
AUTHOR_MAX = 256
DESCRIPTION_MAX = 4096
FOOTER_MAX = 2048
# Room kept free in each message for the footer marker added after packing.
_FOOTER_RESERVE = 120

SUMMARY_MAX = 320
AUTHORS_SHOWN = 3
COLOR = 0xFFD21E  # Hugging Face yellow

MARKER = "paperbot digest"
_MARKER_RE = re.compile(r"paperbot digest (\d{4}-\d{2}-\d{2}) · (\d+)/(\d+)")
_MARKDOWN = re.compile(r"([\\*_~`|\[\]])")
_LINE_START = re.compile(r"^([#>-])", re.MULTILINE)
_MENTION = re.compile(r"@(everyone|here|[!&]?[0-9]{17,20})")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True, slots=True)
class EmbedSpec:
    """The parts of a Discord embed a digest uses; lengths already within Discord's per-field limits."""

    title: str | None = None
    url: str | None = None
    description: str | None = None
    author: str | None = None
    thumbnail: str | None = None
    footer: str | None = None
    color: int = COLOR

    def size(self) -> int:
        """Characters that count towards Discord's 6000-per-message total."""
        return sum(len(part or "") for part in (self.title, self.description, self.author, self.footer))


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """One Discord message: at most 10 embeds, at most 6000 embed characters."""

    embeds: tuple[EmbedSpec, ...]
    content: str | None = None
    part: int = 1
    parts: int = 1

    def size(self) -> int:
        """Characters that count towards Discord's 6000 limit."""
        return sum(embed.size() for embed in self.embeds)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A whole post: its messages in order, and the marker that identifies them in the channel."""

    marker: str
    messages: tuple[MessageSpec, ...] = field(default=())


def escape_markdown(text: str) -> str:
    """Escape Discord markdown and mentions so paper data like `*Attention* @everyone` shows literally.

    Messages are also sent with no allowed mentions; escaping keeps the text looking right as well.
    """
    escaped = _LINE_START.sub(r"\\\1", _MARKDOWN.sub(r"\\\1", text))
    return _MENTION.sub("@\u200b\\1", escaped)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, ending with an ellipsis when cut (never mid-escape)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rstrip()
    cut = cut.rstrip("\\")  # do not leave a dangling escape before the ellipsis
    return cut + "…"


def shorten_authors(authors: tuple[str, ...], shown: int = AUTHORS_SHOWN) -> str | None:
    """`A, B, C +4 more`: enough to recognise a paper without a wall of names."""
    names = [" ".join(a.split()) for a in authors if a.strip()]
    if not names:
        return None
    text = ", ".join(names[:shown])
    if len(names) > shown:
        text += f" +{len(names) - shown} more"
    return truncate(text, AUTHOR_MAX)


def summary(paper: Paper, limit: int = SUMMARY_MAX) -> str:
    """One or two sentences: the AI summary when there is one, else the abstract's first sentences."""
    if paper.ai_summary and paper.ai_summary.strip():
        return truncate(paper.ai_summary, limit)
    abstract = " ".join((paper.abstract or "").split())
    if not abstract:
        return ""
    sentences = _SENTENCE_END.split(abstract)
    text = sentences[0]
    if len(sentences) > 1 and len(text) + 1 + len(sentences[1]) <= limit:
        text = f"{text} {sentences[1]}"
    return truncate(text, limit)


def _stars(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)


def _http(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def paper_embed(paper: Paper, rank: int) -> EmbedSpec:
    """One compact embed: linked title, authors, summary, upvotes · organisation · GitHub ★, thumbnail."""
    meta = [f"▲ {paper.upvotes if paper.upvotes is not None else 0}"]
    if paper.organization:
        meta.append(escape_markdown(truncate(paper.organization, 80)))
    github = _http(paper.github_repo)
    if github:
        stars = f" ★ {_stars(paper.github_stars)}" if paper.github_stars is not None else ""
        meta.append(f"[GitHub]({github}){stars}")
    text = escape_markdown(summary(paper))
    description = "\n".join(part for part in (text, " · ".join(meta)) if part)
    return EmbedSpec(
        title=truncate(f"{rank}. " + escape_markdown(" ".join(paper.title.split())), TITLE_MAX),
        url=paper.url,
        description=truncate(description, DESCRIPTION_MAX) if len(description) > DESCRIPTION_MAX else description,
        author=shorten_authors(paper.authors),
        thumbnail=_http(paper.thumbnail),
    )


def _long_date(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def header_embed(digest: Digest) -> EmbedSpec:
    """The first embed: which day, how many papers, a link to the day on Hugging Face, and any notes."""
    day = digest.day
    link = HF_DAY_URL.format(day=day.isoformat())
    lines: list[str] = []
    if digest.kind == "list":
        shown = len(digest.papers)
        if shown < digest.total_listed:
            lines.append(f"Top {shown} of {digest.total_listed} papers listed on {_long_date(day)}.")
        else:
            lines.append(f"{shown} paper{'s' if shown != 1 else ''} listed on {_long_date(day)}.")
    else:
        lines.extend(digest.notes)
    lines.append(f"[See the whole day on Hugging Face]({link})")
    title = f"Hugging Face Daily Papers — {day.isoformat()}"
    if digest.kind == "week":
        title += " (best of the week)"
    return EmbedSpec(title=title, url=link, description="\n".join(lines))


def marker_for(local_date: dt.date) -> str:
    """The footer marker prefix of a post for a channel's local date (the post record's key)."""
    return f"{MARKER} {local_date.isoformat()}"


def parse_marker(text: str) -> tuple[dt.date, int, int] | None:
    """Read (local date, part, parts) back from a footer, or None if it is not a digest marker."""
    found = _MARKER_RE.search(text)
    if not found:
        return None
    return dt.date.fromisoformat(found.group(1)), int(found.group(2)), int(found.group(3))


def _pack(embeds: list[EmbedSpec]) -> list[list[EmbedSpec]]:
    """Greedily fill messages up to 10 embeds and 6000 characters (minus room for the footer marker)."""
    messages: list[list[EmbedSpec]] = []
    current: list[EmbedSpec] = []
    size = 0
    for embed in embeds:
        if current and (len(current) >= MAX_EMBEDS or size + embed.size() > MAX_MESSAGE_CHARS - _FOOTER_RESERVE):
            messages.append(current)
            current, size = [], 0
        current.append(embed)
        size += embed.size()
    if current:
        messages.append(current)
    return messages


def render(digest: Digest, local_date: dt.date) -> Rendered:
    """Turn a digest into the messages to post; a "skip" digest renders to no messages."""
    marker = marker_for(local_date)
    if digest.kind == "skip":
        return Rendered(marker=marker)
    embeds = [header_embed(digest)] + [paper_embed(p, i) for i, p in enumerate(digest.papers, start=1)]
    packed = _pack(embeds)
    total = len(packed)
    messages: list[MessageSpec] = []
    for index, group in enumerate(packed, start=1):
        footer = f"Daily Papers {digest.day.isoformat()} · {marker} · {index}/{total}"
        group[-1] = replace(group[-1], footer=footer)
        messages.append(MessageSpec(embeds=tuple(group), part=index, parts=total))
    return Rendered(marker=marker, messages=tuple(messages))


def to_text(rendered: Rendered) -> str:
    """The post as readable terminal text (the dry run): every message, embed and field, in order."""
    if not rendered.messages:
        return "(nothing would be posted: empty day and empty_days = skip)\n"
    out: list[str] = []
    for message in rendered.messages:
        out.append(
            f"── message {message.part}/{message.parts} · {len(message.embeds)} embed(s) · {message.size()} chars ──"
        )
        if message.content:
            out.append(message.content)
        for embed in message.embeds:
            if embed.author:
                out.append(f"  {embed.author}")
            if embed.title:
                out.append(f"  ■ {embed.title}" + (f"  <{embed.url}>" if embed.url else ""))
            for line in (embed.description or "").splitlines():
                out.append(f"    {line}")
            if embed.thumbnail:
                out.append(f"    [thumbnail {embed.thumbnail}]")
            if embed.footer:
                out.append(f"    — {embed.footer}")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def messages_to_json(messages: tuple[MessageSpec, ...]) -> str:
    """Serialise rendered messages for the 'posting' record (so a restart resends exactly these)."""
    return json.dumps([asdict(message) for message in messages], ensure_ascii=False)


def messages_from_json(text: str) -> tuple[MessageSpec, ...]:
    """Inverse of `messages_to_json`."""
    raw: list[dict[str, Any]] = json.loads(text)
    return tuple(
        MessageSpec(
            embeds=tuple(EmbedSpec(**embed) for embed in item["embeds"]),
            content=item.get("content"),
            part=int(item.get("part", 1)),
            parts=int(item.get("parts", 1)),
        )
        for item in raw
    )
