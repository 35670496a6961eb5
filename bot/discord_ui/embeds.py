"""Pure builders from paperbot models to `discord.Embed`s, plus a plain-text renderer of those embeds.

Everything here is a function of its arguments: no I/O, no clock, no bot state. That keeps the cogs thin
(defer → use case → builder → reply), lets a terminal show exactly what Discord would get
(`render_message_text`), and lets property tests prove that *any* `Paper` fits Discord's limits.

Two rules hold for every piece of paper data that reaches an embed:

* it is escaped (`escape_text`: markdown, then mentions) so a title like ``**@everyone**`` shows literally
  and pings nobody — messages are also sent with ``AllowedMentions.none()``, escaping is the second belt;
* it is truncated *after* escaping, to the limit of the slot it goes into (`truncate`), never leaving a
  dangling escape backslash.

Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits) are the
module constants below; `abstract_messages` is the one builder that can need several messages, because an
abstract plus metadata can exceed the 6000-character per-message total.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import discord

from bot.models import Paper, SearchResults, Trending, TrendingPeriod

__all__ = [
    "AUTHOR_NAME_LIMIT",
    "DESCRIPTION_LIMIT",
    "EMBEDS_PER_MESSAGE",
    "FIELDS_PER_EMBED",
    "FIELD_NAME_LIMIT",
    "FIELD_VALUE_LIMIT",
    "FOOTER_LIMIT",
    "MESSAGE_TOTAL_LIMIT",
    "SEARCH_PAGE_SIZE",
    "SELECT_LABEL_LIMIT",
    "TITLE_LIMIT",
    "abstract_messages",
    "escape_text",
    "one_line_summary",
    "render_embed_text",
    "render_message_text",
    "search_page_embed",
    "shorten_authors",
    "trending_embed",
    "truncate",
]

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_PER_EMBED = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
AUTHOR_NAME_LIMIT = 256
MESSAGE_TOTAL_LIMIT = 6000
EMBEDS_PER_MESSAGE = 10
SELECT_LABEL_LIMIT = 100

SEARCH_PAGE_SIZE = 5
_ELLIPSIS = "…"
COLOUR = discord.Colour(0xFFD21E)  # Hugging Face yellow: the bot's posts are recognisable at a glance.

ABSTRACT_AUTHORS = 15  # beyond this a list (some papers have hundreds) buries the abstract
_SUMMARY_LIMIT = 200  # one line in a search result: enough to judge relevance, short enough for 5 per page
_WS = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_PERIOD_TITLES: dict[TrendingPeriod, str] = {"day": "today", "week": "this week", "month": "this month"}


# --- text hygiene -----------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """Collapse all whitespace (arXiv titles carry hard line wraps) to single spaces."""
    return _WS.sub(" ", text).strip()


def escape_text(text: str) -> str:
    """Escape Discord markdown, then mentions, so paper data renders literally and pings nobody."""
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _escape_link_label(text: str) -> str:
    """Escape text for the label of a masked link `[label](url)`: markdown, mentions and unescaped brackets."""
    escaped = escape_text(text)

    # After escape_markdown every literal backslash is doubled, so a bracket preceded by an odd run of
    # backslashes is already escaped (discord.py escapes `[x](y)` as a whole) and an even run is not.
    def _bracket(match: re.Match[str]) -> str:
        slashes, bracket = match.group(1), match.group(2)
        return slashes + ("\\" if len(slashes) % 2 == 0 else "") + bracket

    return re.sub(r"(\\*)([\[\]])", _bracket, escaped)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking the cut with an ellipsis.

    Escaped text must not end in half an escape: a trailing odd run of backslashes would escape the
    ellipsis (or whatever follows the piece), so one backslash is dropped.
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = text[: limit - 1].rstrip()
    if (len(cut) - len(cut.rstrip("\\"))) % 2 == 1:
        cut = cut[:-1]
    return cut + _ELLIPSIS


def shorten_authors(authors: Sequence[str], *, keep: int = 3) -> str:
    """Name the first `keep` authors and add "et al." when there are more (raw text, not escaped)."""
    names = [one_line(a) for a in authors if a.strip()]
    if not names:
        return "Unknown authors"
    if len(names) <= keep:
        return ", ".join(names)
    return ", ".join(names[:keep]) + " et al."


def _authors_within(authors: Sequence[str], limit: int, *, keep: int = ABSTRACT_AUTHORS) -> str:
    """Escaped author list: at most `keep` names and `limit` characters, then "et al." for the rest."""
    names = [escape_text(one_line(a)) for a in authors if a.strip()]
    if not names:
        return "Unknown authors"
    full = ", ".join(names)
    if len(names) <= keep and len(full) <= limit:
        return full
    suffix = " et al."
    kept: list[str] = []
    for name in names[:keep]:
        candidate = ", ".join([*kept, name])
        if len(candidate) + len(suffix) > limit:
            break
        kept.append(name)
    if not kept:  # a single absurdly long name
        return truncate(names[0], limit)
    return ", ".join(kept) + suffix


def one_line_summary(paper: Paper, *, limit: int = _SUMMARY_LIMIT) -> str:
    """The AI TL;DR when Hugging Face has one, else the abstract's first sentence (raw text, not escaped)."""
    if paper.ai_summary and paper.ai_summary.strip():
        text = one_line(paper.ai_summary)
    elif paper.abstract and paper.abstract.strip():
        text = _SENTENCE_END.split(one_line(paper.abstract), maxsplit=1)[0]
    else:
        return ""
    return truncate(text, limit)


def _split_text(text: str, limit: int, *, first_limit: int | None = None) -> list[str]:
    """Split escaped text into chunks of at most `limit` characters (the first at most `first_limit`).

    Breaks prefer a paragraph, then a line or word boundary in the second half of the window, else cut hard;
    a cut never separates an escape backslash from the character it escapes.
    """
    chunks: list[str] = []
    rest = text.strip()
    room = first_limit if first_limit is not None else limit
    while len(rest) > room:
        window = rest[:room]
        cut = window.rfind("\n\n")
        if cut < room // 2:
            cut = max(window.rfind("\n"), window.rfind(" "))
        if cut < room // 2:
            cut = room
        while cut > 1 and (cut - len(rest[:cut].rstrip("\\"))) % 2 == 1:
            cut -= 1
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
        room = limit
    if rest:
        chunks.append(rest)
    return chunks


def _date(paper: Paper) -> str:
    return paper.published.isoformat() if paper.published else "date unknown"


def _upvotes(paper: Paper) -> str:
    return f"▲ {paper.upvotes}" if paper.upvotes is not None else "▲ –"


def _is_http_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("https://", "http://"))


def _linked_title(paper: Paper, limit: int) -> str:
    """`[title](hf url)` with the label escaped and cut so the whole link fits in `limit`."""
    url = paper.url
    label = truncate(_escape_link_label(one_line(paper.title) or paper.id), max(limit - len(url) - 4, 1))
    return f"[{label}]({url})"


# --- search -----------------------------------------------------------------------------------------------


def search_page_embed(results: SearchResults, *, page_size: int = SEARCH_PAGE_SIZE) -> discord.Embed:
    """One page of search results: linked title, short authors, date, upvotes and a one-line summary each."""
    query = truncate(escape_text(one_line(results.query)), 200)
    embed = discord.Embed(title=truncate(f"Papers matching “{query}”", TITLE_LIMIT), colour=COLOUR)
    entries: list[str] = []
    # Per-entry budgets (link 330 + authors 170 + date/upvotes + summary 250 + markup) keep 5 entries under
    # 4096 characters, so the final truncate below never has to cut through a link.
    for number, paper in enumerate(results.papers[:page_size], start=results.offset + 1):
        authors = truncate(escape_text(shorten_authors(paper.authors)), 170)  # date and upvotes always show
        lines = [f"**{number}.** {_linked_title(paper, 330)}", f"{authors} · {_date(paper)} · {_upvotes(paper)}"]
        summary = one_line_summary(paper)
        if summary:
            lines.append(f"> {truncate(escape_text(summary), 250)}")
        entries.append("\n".join(lines))
    embed.description = truncate("\n\n".join(entries), DESCRIPTION_LIMIT)
    first = results.offset + 1
    last = results.offset + min(len(results.papers), page_size)
    footer = [f"Results {first}–{last}", f"sorted by {results.sort}"]
    if results.has_more:
        footer.append("more with Next ▶")
    if results.matched == "any":
        footer.append("no paper has every word, so these match some of them")
    embed.set_footer(text=truncate(" · ".join(footer), FOOTER_LIMIT))
    return embed


def select_label(paper: Paper, number: int) -> str:
    """A select-menu option label (≤100 chars) for a result; select labels render as plain text."""
    return truncate(f"{number}. {one_line(paper.title) or paper.id}", SELECT_LABEL_LIMIT)


def select_description(paper: Paper) -> str:
    """A select-menu option description (≤100 chars): short authors and date."""
    return truncate(f"{shorten_authors(paper.authors)} · {_date(paper)}", SELECT_LABEL_LIMIT)


# --- abstract ---------------------------------------------------------------------------------------------


def _abstract_fields(paper: Paper) -> list[tuple[str, str, bool]]:
    """(name, value, inline) for the first abstract embed; every value is escaped and within its limit."""
    fields: list[tuple[str, str, bool]] = [
        ("Authors", _authors_within(paper.authors, FIELD_VALUE_LIMIT), False),
        ("arXiv date", _date(paper), True),
        ("Upvotes", str(paper.upvotes) if paper.upvotes is not None else "–", True),
    ]
    if paper.ai_summary and paper.ai_summary.strip():
        fields.insert(0, ("TL;DR (AI)", truncate(escape_text(one_line(paper.ai_summary)), 500), False))
    if paper.organization and paper.organization.strip():
        fields.append(("Organization", truncate(escape_text(one_line(paper.organization)), 200), True))
    if _is_http_url(paper.github_repo):
        assert paper.github_repo is not None
        stars = f" · ★ {paper.github_stars}" if paper.github_stars is not None else ""
        fields.append(("Code", truncate(f"{paper.github_repo}{stars}", 400), False))
    if _is_http_url(paper.project_page):
        assert paper.project_page is not None
        fields.append(("Project page", truncate(paper.project_page, 400), False))
    links = f"[Hugging Face]({paper.url}) · [arXiv]({paper.arxiv_url}) · [PDF]({paper.pdf_url})"
    fields.append(("Links", links, False))
    return fields


def abstract_messages(paper: Paper) -> list[list[discord.Embed]]:
    """Embeds for a paper's abstract, grouped into messages that each respect Discord's limits.

    The first embed carries the linked title, the metadata fields and the thumbnail; the abstract fills its
    description and continues in further embeds when it is longer than 4096 characters (or than what the
    6000-character message total leaves). Embeds are packed ≤10 and ≤6000 characters per message; a
    result with more than one message is sent as a reply plus followups.
    """
    head = discord.Embed(
        title=truncate(escape_text(one_line(paper.title) or paper.id), TITLE_LIMIT), url=paper.url, colour=COLOUR
    )
    for name, value, inline in _abstract_fields(paper):
        head.add_field(name=name, value=value, inline=inline)
    if _is_http_url(paper.thumbnail):
        head.set_thumbnail(url=paper.thumbnail)
    if paper.withdrawn:
        head.set_footer(text="This paper has been withdrawn from arXiv.")

    abstract = escape_text(paper.abstract.strip()) if paper.abstract and paper.abstract.strip() else ""
    if not abstract:
        head.description = "*No abstract available.*"
        return [[head]]

    first_room = min(DESCRIPTION_LIMIT, MESSAGE_TOTAL_LIMIT - len(head))
    first, *rest_chunks = _split_text(abstract, DESCRIPTION_LIMIT, first_limit=first_room)
    head.description = first

    embeds = [head]
    for chunk in rest_chunks:
        embeds.append(discord.Embed(description=chunk, colour=COLOUR))
    if len(embeds) > 1:
        embeds[-1].set_footer(text=f"Abstract continued over {len(embeds)} embeds.")
    return _pack(embeds)


def _pack(embeds: Iterable[discord.Embed]) -> list[list[discord.Embed]]:
    """Group embeds into messages of ≤10 embeds and ≤6000 characters in total, keeping their order."""
    messages: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    total = 0
    for embed in embeds:
        size = len(embed)
        if current and (len(current) == EMBEDS_PER_MESSAGE or total + size > MESSAGE_TOTAL_LIMIT):
            messages.append(current)
            current, total = [], 0
        current.append(embed)
        total += size
    if current:
        messages.append(current)
    return messages


# --- trending ---------------------------------------------------------------------------------------------


def trending_embed(trending: Trending) -> discord.Embed:
    """Ranked papers of a trending window: position, linked title, upvotes and short authors."""
    when = _PERIOD_TITLES[trending.period]
    embed = discord.Embed(title=f"Trending papers {when}", colour=COLOUR)
    if not trending.papers:
        embed.description = (
            "No papers are stored for this period yet. Lists arrive with the next scheduled ingest "
            "(or run `paperbot ingest`)."
        )
        return embed
    count = len(trending.papers)
    # Share the description evenly: 25 entries with 256-character titles would not fit in 4096.
    per_entry = DESCRIPTION_LIMIT // count - 2
    lines: list[str] = []
    for rank, paper in enumerate(trending.papers, start=1):
        tail = f" — {_upvotes(paper)} · {escape_text(shorten_authors(paper.authors, keep=1))}"
        tail = truncate(tail, max(per_entry // 3, 12))
        head = f"**{rank}.** "
        link = _linked_title(paper, max(per_entry - len(head) - len(tail), len(paper.url) + 6))
        lines.append(truncate(head + link + tail, per_entry))
    embed.description = truncate("\n".join(lines), DESCRIPTION_LIMIT)
    if trending.first_day and trending.last_day:
        span = (
            trending.last_day.isoformat()
            if trending.first_day == trending.last_day
            else f"{trending.first_day.isoformat()} – {trending.last_day.isoformat()}"
        )
        embed.set_footer(text=f"Daily Papers lists {span} · ranked by upvotes")
    return embed


# --- plain text -------------------------------------------------------------------------------------------


def render_embed_text(embed: discord.Embed) -> str:
    """Render one embed as plain text, field by field, for terminals (`digest --dry-run`) and logs."""
    lines: list[str] = []
    if embed.author and embed.author.name:
        lines.append(embed.author.name)
    if embed.title:
        lines.append(embed.title if not embed.url else f"{embed.title} <{embed.url}>")
    if embed.description:
        lines.append(embed.description)
    for field in embed.fields:
        lines.append(f"{field.name}: {field.value}")
    if embed.thumbnail and embed.thumbnail.url:
        lines.append(f"thumbnail: {embed.thumbnail.url}")
    if embed.image and embed.image.url:
        lines.append(f"image: {embed.image.url}")
    if embed.footer and embed.footer.text:
        lines.append(f"— {embed.footer.text}")
    return "\n".join(lines)


def render_message_text(content: str | None, embeds: Sequence[discord.Embed]) -> str:
    """Render a whole message (content, then each embed separated by a rule) as plain text."""
    parts = [content] if content else []
    parts.extend(render_embed_text(embed) for embed in embeds)
    return "\n\n---\n\n".join(parts)
