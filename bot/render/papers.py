"""Papers as Discord specs: search and similar-papers pages, the abstract view, trending, autocomplete names.

Every function is a function of its arguments (no I/O, no clock). Paper text is escaped and then cut to its
slot (see `text`); whatever the paper contains, the result is within Discord's limits — the property tests in
`tests/render` generate hostile papers to hold every builder here to that.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from bot.models import Paper, SearchMode, SearchResults, Trending, TrendingPeriod
from bot.render import limits
from bot.render.specs import ButtonSpec, EmbedSpec, FieldSpec, MessageSpec, SelectOptionSpec, pack
from bot.render.text import (
    UNKNOWN_AUTHORS,
    authors_within,
    date_label,
    escape,
    is_http_url,
    masked_link,
    one_line,
    shorten_authors,
    split_text,
    stars_label,
    truncate,
    upvotes_label,
)

__all__ = [
    "ABSTRACT_AUTHORS",
    "SEARCH_COMMAND_DESCRIPTION",
    "SEARCH_PAGE_SIZE",
    "SEARCH_QUERY_DESCRIPTION",
    "SEARCH_SYNTAX_HELP",
    "SIMILAR_BUTTON_LABEL",
    "SIMILAR_CUSTOM_ID_PREFIX",
    "abstract_messages",
    "choice_name",
    "no_results_text",
    "no_similar_text",
    "paper_line",
    "search_options",
    "search_page",
    "similar_custom_id",
    "similar_page",
    "summary",
    "trending_embed",
]

SEARCH_PAGE_SIZE = 5
ABSTRACT_AUTHORS = 15  # beyond this a list (some papers have hundreds) buries the abstract
_SEARCH_SUMMARY = 200  # one line in a search result: enough to judge relevance, short enough for 5 per page
_NOTE_MAX = 200  # a "did you mean" or notice line above the results
# The search syntax, told where people look: the command's and its option's descriptions (Discord shows at most
# 100 characters of each) and the reply to a search that found nothing.
SEARCH_COMMAND_DESCRIPTION = (
    "Search papers by their words or what they are about; ti: au: cat: -word since: until: filter"
)
SEARCH_QUERY_DESCRIPTION = (
    "Words or a description, plus filters: ti:word au:name cat:cs.LG -word since:2024 until:2024-06"
)
SEARCH_SYNTAX_HELP = (
    "Narrow a search with `ti:word` (title), `au:name` (author), `cat:cs.LG` (arXiv category), `-word` "
    '(leave out), `since:2024-03` / `until:2024-06-30` (first version date); `"quoted phrases"` work too.'
)
SIMILAR_BUTTON_LABEL = "Similar papers"
# The "Similar papers" button's custom_id is this prefix and the paper id: it carries all it needs, so a press
# is answered by whichever process serves the guild, even after a restart.
SIMILAR_CUSTOM_ID_PREFIX = "paperbot:similar:"
_RANKINGS: dict[SearchMode, str] = {
    "hybrid": "ranked by words and meaning",
    "keyword": "ranked by words",
    "semantic": "ranked by meaning",
}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_PERIOD_TITLES: dict[TrendingPeriod, str] = {"day": "today", "week": "this week", "month": "this month"}


def summary(paper: Paper, limit: int, *, sentences: int = 1) -> str:
    """The AI TL;DR when Hugging Face has one, else the abstract's first sentences (raw text, one line).

    Up to `sentences` sentences are taken while they fit in `limit`; the result is cut to `limit` either way.
    """
    if paper.ai_summary and paper.ai_summary.strip():
        return truncate(one_line(paper.ai_summary), limit)
    abstract = one_line(paper.abstract or "")
    if not abstract:
        return ""
    parts = _SENTENCE_END.split(abstract)
    text = parts[0]
    for more in parts[1:sentences]:
        if len(text) + 1 + len(more) > limit:
            break
        text = f"{text} {more}"
    return truncate(text, limit)


def _authors(paper: Paper, *, keep: int = 3) -> str:
    return shorten_authors(paper.authors, keep=keep) or UNKNOWN_AUTHORS


def paper_line(paper: Paper, limit: int, *, number: int | None = None) -> str:
    """`**3.** [Title](url) — ▲ 12 · First Author et al.`: escaped, at most `limit` characters, link whole.

    The title gives way first (it is cut to what the upvotes and author leave), so the link survives any
    limit that can hold a link at all.
    """
    head = f"**{number}.** " if number is not None else ""
    tail = truncate(f" — {upvotes_label(paper.upvotes)} · {escape(_authors(paper, keep=1))}", max(limit // 3, 12))
    room = max(limit - len(head) - len(tail), len(paper.url) + 6)
    return truncate(head + masked_link(one_line(paper.title) or paper.id, paper.url, room) + tail, limit)


# ---- search -------------------------------------------------------------------------------------------------


def _notes(results: SearchResults) -> list[str]:
    """The lines a reader should see above the results: a corrected typo, then why results are degraded."""
    notes: list[str] = []
    if results.corrected_query:
        corrected = truncate(escape(one_line(results.corrected_query)), _NOTE_MAX)
        notes.append(f"Did you mean “{corrected}”? Showing results for it.")
    if results.notice:
        notes.append(f"*{truncate(escape(one_line(results.notice)), _NOTE_MAX)}*")
    return notes


def _entries(results: SearchResults, page_size: int, summary_max: int) -> list[str]:
    """One entry per paper on the page: linked title, authors · date · upvotes, and a one-line summary."""
    entries: list[str] = []
    for number, paper in enumerate(results.papers[:page_size], start=results.offset + 1):
        authors = truncate(escape(_authors(paper)), 170)
        lines = [
            f"**{number}.** {masked_link(one_line(paper.title) or paper.id, paper.url, 330)}",
            f"{authors} · {date_label(paper.published)} · {upvotes_label(paper.upvotes)}",
        ]
        line = summary(paper, _SEARCH_SUMMARY)
        if line:
            lines.append(f"> {truncate(escape(line), summary_max)}")
        entries.append("\n".join(lines))
    return entries


def _results_page(results: SearchResults, title: str, order: str, page_size: int, extra: list[str]) -> EmbedSpec:
    """A page of results under `title`: notes first, then the entries; the footer says which and how ordered.

    Per-entry budgets (link 330 + authors 170 + date/upvotes + summary + markup) keep 5 entries and two notes
    under 4096 characters, so the final truncate never has to cut through a link: the summaries give up what
    the notes take.
    """
    notes = _notes(results)
    head = "\n".join(notes)
    summary_max = 250 - math.ceil((len(head) + 2) / max(page_size, 1)) if notes else 250
    entries = _entries(results, page_size, summary_max)
    first = results.offset + 1
    last = results.offset + min(len(results.papers), page_size)
    footer = [f"Results {first}–{last}", order]
    if results.has_more:
        footer.append("more with Next ▶")
    footer.extend(extra)
    return EmbedSpec(
        title=truncate(title, limits.TITLE_MAX),
        description=truncate("\n\n".join([head, *entries] if notes else entries), limits.DESCRIPTION_MAX),
        footer=truncate(" · ".join(footer), limits.FOOTER_MAX),
    )


def search_page(results: SearchResults, *, page_size: int = SEARCH_PAGE_SIZE) -> EmbedSpec:
    """One page of results: a corrected typo and any notice first, then each paper's linked title, short
    authors, date, upvotes and one-line summary; the footer says how the results are ordered."""
    query = truncate(escape(one_line(results.query)), 200)
    order = _RANKINGS[results.ranked_by] if results.sort == "relevance" else f"sorted by {results.sort}"
    extra = ["no paper has every word, so these match some of them"] if results.matched == "any" else []
    return _results_page(results, f"Papers matching “{query}”", order, page_size, extra)


def similar_page(paper: Paper, results: SearchResults, *, page_size: int = SEARCH_PAGE_SIZE) -> EmbedSpec:
    """One page of the papers most like `paper` (nearest by meaning, the paper itself left out)."""
    title = truncate(escape(one_line(paper.title) or paper.id), 200)
    return _results_page(results, f"Papers like “{title}”", _RANKINGS["semantic"], page_size, [])


def search_options(results: SearchResults, *, page_size: int = SEARCH_PAGE_SIZE) -> tuple[SelectOptionSpec, ...]:
    """The "open an abstract" options of a page (plain text: select menus render no markdown)."""
    return tuple(
        SelectOptionSpec(
            label=truncate(f"{number}. {one_line(paper.title) or paper.id}", limits.SELECT_TEXT_MAX),
            value=paper.id,
            description=truncate(f"{_authors(paper)} · {date_label(paper.published)}", limits.SELECT_TEXT_MAX),
        )
        for number, paper in enumerate(results.papers[:page_size], start=results.offset + 1)
    )


def no_results_text(query: str, results: SearchResults | None = None) -> str:
    """The reply to a search nothing matches: why results may be missing, what to try instead, the syntax."""
    shown = truncate(escape(one_line(query)), 200)
    lines = [*(_notes(results) if results is not None else []), f"No papers match “{shown}”."]
    lines.append(
        "Try fewer or broader words, or describe what the paper does; `/paper abstract` with an arXiv id or URL "
        "fetches a paper that isn't stored yet."
    )
    lines.append(SEARCH_SYNTAX_HELP)
    return truncate("\n".join(lines), limits.CONTENT_MAX)


def no_similar_text(paper: Paper, results: SearchResults) -> str:
    """The reply when no paper comes out as similar: usually the vectors or the model are not there yet."""
    title = truncate(escape(one_line(paper.title) or paper.id), 200)
    why = escape(one_line(results.notice)) if results.notice else "No other stored paper is close to it yet."
    return truncate(f"I found no papers like “{title}”. {why}", limits.CONTENT_MAX)


def similar_custom_id(paper_id: str) -> str:
    """The "Similar papers" button's custom_id for `paper_id` (≤ 100 characters, as Discord requires)."""
    return (SIMILAR_CUSTOM_ID_PREFIX + paper_id)[: limits.CUSTOM_ID_MAX]


def choice_name(title: str, fallback: str) -> str:
    """An autocomplete choice's name for a title (plain text, ≤ 100 characters), else `fallback`."""
    return truncate(one_line(title), limits.CHOICE_TEXT_MAX) or truncate(fallback, limits.CHOICE_TEXT_MAX)


# ---- abstract -----------------------------------------------------------------------------------------------


def _abstract_fields(paper: Paper) -> list[FieldSpec]:
    """The metadata fields of the abstract's first embed; every value escaped and within its limit."""
    fields = [
        FieldSpec("Authors", authors_within(paper.authors, limits.FIELD_VALUE_MAX, keep=ABSTRACT_AUTHORS)),
        FieldSpec("arXiv date", date_label(paper.published), inline=True),
        FieldSpec("Upvotes", str(paper.upvotes) if paper.upvotes is not None else "–", inline=True),
    ]
    if paper.ai_summary and paper.ai_summary.strip():
        fields.insert(0, FieldSpec("TL;DR (AI)", truncate(escape(one_line(paper.ai_summary)), 500)))
    if paper.organization and paper.organization.strip():
        fields.append(FieldSpec("Organization", truncate(escape(one_line(paper.organization)), 200), inline=True))
    if paper.github_repo and is_http_url(paper.github_repo):
        stars = f" · ★ {stars_label(paper.github_stars)}" if paper.github_stars is not None else ""
        fields.append(FieldSpec("Code", truncate(f"{paper.github_repo}{stars}", 400)))
    if paper.project_page and is_http_url(paper.project_page):
        fields.append(FieldSpec("Project page", truncate(paper.project_page, 400)))
    links = f"[Hugging Face]({paper.url}) · [arXiv]({paper.arxiv_url}) · [PDF]({paper.pdf_url})"
    fields.append(FieldSpec("Links", links))
    return fields


def abstract_messages(paper: Paper, *, similar_button: bool = False) -> tuple[MessageSpec, ...]:
    """A paper's abstract view, in as many messages as Discord's limits need (usually one).

    The first embed carries the linked title, the metadata fields and the thumbnail; the abstract fills its
    description and continues in further embeds when it is longer than 4096 characters (or than what the
    6000-character message total leaves). A reply of several messages is sent as a reply plus followups.
    `similar_button` puts a "Similar papers" button under the last message (ids too long for a custom_id get
    none: a cut id would name another paper).
    """
    head = EmbedSpec(
        title=truncate(escape(one_line(paper.title) or paper.id), limits.TITLE_MAX),
        url=paper.url,
        fields=tuple(_abstract_fields(paper)),
        thumbnail=paper.thumbnail if is_http_url(paper.thumbnail) else None,
        footer="This paper has been withdrawn from arXiv." if paper.withdrawn else None,
    )
    abstract = escape(paper.abstract.strip()) if paper.abstract and paper.abstract.strip() else ""
    if not abstract:
        embeds = [replace(head, description="*No abstract available.*")]
    else:
        first_room = min(limits.DESCRIPTION_MAX, limits.MESSAGE_EMBED_CHARS - head.size())
        first, *rest = split_text(abstract, limits.DESCRIPTION_MAX, first_limit=first_room)
        embeds = [replace(head, description=first), *(EmbedSpec(description=chunk) for chunk in rest)]
        if len(embeds) > 1:
            embeds[-1] = replace(embeds[-1], footer=f"Abstract continued over {len(embeds)} embeds.")
    groups = pack(embeds)
    messages = [MessageSpec(embeds=group, part=index, parts=len(groups)) for index, group in enumerate(groups, start=1)]
    if similar_button and len(SIMILAR_CUSTOM_ID_PREFIX + paper.id) <= limits.CUSTOM_ID_MAX:
        button = ButtonSpec(label=SIMILAR_BUTTON_LABEL, custom_id=similar_custom_id(paper.id), emoji="🧭")
        messages[-1] = replace(messages[-1], buttons=(button,))
    return tuple(messages)


# ---- trending -----------------------------------------------------------------------------------------------


def trending_embed(trending: Trending) -> EmbedSpec:
    """Ranked papers of a trending window: position, linked title, upvotes and first author."""
    title = f"Trending papers {_PERIOD_TITLES[trending.period]}"
    if not trending.papers:
        return EmbedSpec(
            title=title,
            description=(
                "No papers are stored for this period yet. Lists arrive with the next scheduled ingest "
                "(or run `paperbot ingest`)."
            ),
        )
    # Share the description evenly: 25 entries with 256-character titles would not fit in 4096.
    per_entry = limits.DESCRIPTION_MAX // len(trending.papers) - 2
    lines = [paper_line(paper, per_entry, number=rank) for rank, paper in enumerate(trending.papers, start=1)]
    footer = None
    if trending.first_day and trending.last_day:
        span = (
            trending.last_day.isoformat()
            if trending.first_day == trending.last_day
            else f"{trending.first_day.isoformat()} – {trending.last_day.isoformat()}"
        )
        footer = f"Daily Papers lists {span} · ranked by upvotes"
    return EmbedSpec(title=title, description=truncate("\n".join(lines), limits.DESCRIPTION_MAX), footer=footer)
