"""Terminal text: the CLI's paper lines and abstract, and the dry run's rendering of any message spec."""

from __future__ import annotations

import datetime as dt

from bot.models import Paper
from bot.render.plain import abstract_text, message_text, paper_lines
from bot.render.specs import ButtonSpec, EmbedSpec, FieldSpec, MessageSpec

PAPER = Paper(
    id="2403.07815",
    title="Chronos:\n  Learning the Language of Time Series",
    abstract="We introduce Chronos.",
    authors=("Ann", "Bo", "Cy", "Di"),
    published=dt.date(2024, 3, 12),
    upvotes=42,
    github_repo="https://github.com/amazon-science/chronos-forecasting",
    github_stars=2345,
    organization="Amazon",
)


def test_paper_lines_are_plain_text_with_the_shared_author_style() -> None:
    text = paper_lines([PAPER, Paper(id="2403.00002", title="*Raw* title")], start=9)
    assert text == (
        " 9. Chronos: Learning the Language of Time Series\n"
        "    Ann, Bo, Cy et al. · 2024-03-12 · ▲ 42\n"
        "    https://huggingface.co/papers/2403.07815\n"
        "10. *Raw* title\n"  # a terminal shows no markdown: nothing is escaped
        "    Unknown authors\n"
        "    https://huggingface.co/papers/2403.00002\n"
    )


def test_abstract_text() -> None:
    text = abstract_text(PAPER)
    assert text.startswith(
        "Chronos: Learning the Language of Time Series\nAnn, Bo, Cy, Di\narXiv 2403.07815 · 2024-03-12\n"
    )
    assert "▲ 42 upvotes\nAmazon\nGitHub: https://github.com/amazon-science/chronos-forecasting (★ 2.3k)\n" in text
    assert "\n\nWe introduce Chronos.\n\n" in text and text.endswith("https://arxiv.org/pdf/2403.07815\n")
    assert "(no abstract known)" in abstract_text(Paper(id="1", title="T"))


def test_message_text_shows_every_part() -> None:
    message = MessageSpec(
        content="hello",
        embeds=(
            EmbedSpec(
                title="T",
                url="https://x",
                description="D1\nD2",
                author="A",
                thumbnail="https://t.png",
                footer="F",
                fields=(FieldSpec("N", "V"),),
            ),
        ),
        buttons=(ButtonSpec(label="Open", url="https://o"),),
        part=2,
        parts=3,
    )
    assert message_text(message) == (
        "── message 2/3 · 1 embed(s) · 10 chars ──\nhello\n  A\n  ■ T  <https://x>\n    D1\n    D2\n    N: V\n"
        "    [thumbnail https://t.png]\n    — F\n\n  [Open] <https://o>"
    )
