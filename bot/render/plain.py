"""Terminal text: the CLI's printed papers and abstracts, and any message spec (`paperbot digest --dry-run`).

Two kinds of output, on purpose. `message_text`/`rendered_text` print specs exactly as the bot would post them
(escapes included), so the dry run is a faithful preview. `paper_lines`/`abstract_text` print papers for a
person at a terminal: raw text, no markdown, sharing the author list and labels of the Discord views.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Paper
from bot.render.digest import Rendered
from bot.render.specs import MessageSpec
from bot.render.text import UNKNOWN_AUTHORS, one_line, shorten_authors, stars_label, upvotes_label

__all__ = ["abstract_text", "message_text", "paper_lines", "rendered_text"]

ABSTRACT_AUTHORS_SHOWN = 10  # a terminal has room for more names than a search line


def message_text(message: MessageSpec) -> str:
    """One message as readable text: a rule with its size, the content, then every embed part in order."""
    out = [f"── message {message.part}/{message.parts} · {len(message.embeds)} embed(s) · {message.size()} chars ──"]
    if message.content:
        out.append(message.content)
    for embed in message.embeds:
        if embed.author:
            out.append(f"  {embed.author}")
        if embed.title:
            out.append(f"  ■ {embed.title}" + (f"  <{embed.url}>" if embed.url else ""))
        out.extend(f"    {line}" for line in (embed.description or "").splitlines())
        out.extend(f"    {field.name}: {field.value}" for field in embed.fields)
        if embed.thumbnail:
            out.append(f"    [thumbnail {embed.thumbnail}]")
        if embed.footer:
            out.append(f"    — {embed.footer}")
        out.append("")
    for button in message.buttons:
        out.append(f"  [{button.label}]" + (f" <{button.url}>" if button.url else ""))
    return "\n".join(out).rstrip()


def rendered_text(rendered: Rendered) -> str:
    """A whole digest post as the dry run prints it: every message, embed and field, in order."""
    if not rendered.messages:
        return "(nothing would be posted: empty day and empty_days = skip)\n"
    return "\n\n".join(message_text(m) for m in rendered.messages) + "\n"


def _authors(paper: Paper, keep: int) -> str:
    return shorten_authors(paper.authors, keep=keep) or UNKNOWN_AUTHORS


def paper_lines(papers: Sequence[Paper], *, start: int = 1) -> str:
    """Numbered search results: title; authors · date · upvotes; the paper's page."""
    out: list[str] = []
    for number, paper in enumerate(papers, start=start):
        meta = [_authors(paper, 3)]
        if paper.published:
            meta.append(paper.published.isoformat())
        if paper.upvotes is not None:
            meta.append(upvotes_label(paper.upvotes))
        out.append(f"{number:>2}. {one_line(paper.title)}\n    {' · '.join(meta)}\n    {paper.url}\n")
    return "".join(out)


def abstract_text(paper: Paper) -> str:
    """One paper in full: title, authors, facts, the abstract and its links."""
    facts = [f"arXiv {paper.id}" + (f" · {paper.published.isoformat()}" if paper.published else "")]
    if paper.upvotes is not None:
        facts.append(f"{upvotes_label(paper.upvotes)} upvotes")
    if paper.organization:
        facts.append(one_line(paper.organization))
    if paper.github_repo:
        stars = f" (★ {stars_label(paper.github_stars)})" if paper.github_stars is not None else ""
        facts.append(f"GitHub: {paper.github_repo}{stars}")
    if paper.project_page:
        facts.append(f"Project: {paper.project_page}")
    if paper.withdrawn:
        facts.append("Withdrawn from arXiv.")
    return (
        f"{one_line(paper.title)}\n{_authors(paper, ABSTRACT_AUTHORS_SHOWN)}\n"
        + "\n".join(facts)
        + "\n\n"
        + ((paper.abstract or "").strip() or "(no abstract known)")
        + f"\n\n{paper.url}\n{paper.arxiv_url}\n{paper.pdf_url}\n"
    )
