"""One escaping rule for all paper text: hostile titles, authors and abstracts render literally and ping nobody.

The rule is checked as properties over generated hostile text rather than a list of cases only: escaping is
lossless (removing the escapes gives the text back), leaves no markdown character unescaped outside URLs,
neutralises every mention, and keeps URLs whole.
"""

from __future__ import annotations

import re

from hypothesis import example, given
from hypothesis import strategies as st

from bot.render.text import (
    authors_within,
    escape,
    jump_url,
    masked_link,
    one_line,
    shorten_authors,
    stars_label,
    truncate,
    upvotes_label,
)

_INLINE = set("\\*_~`|[]")
_hostile_piece = st.sampled_from(
    [
        "*", "**", "_", "__", "`", "```", "~~", "||", "|", "\\", "\\\\", "[", "]", "(", ")", "<", ">", "#", "##",
        "-", "-#", "1.", "12. ", "> ", ">>> ", "@everyone", "@here", "<@123456789012345678>", "<@!123456789012345678>",
        "<@&1500000000000000001>", "<#1400000000000000001>", "<t:1700000000:R>", "<:emoji:123>", "</cmd:1>",
        "[free nitro](https://evil.example/x)", "\n", "\n\n", " ", "\t", "🤗", "é", "word", "Attention",
    ]
)  # fmt: skip
hostile = st.lists(st.one_of(_hostile_piece, st.text(alphabet="ab *_~`|[]\\<>@#-.\n1", max_size=8)), max_size=40).map(
    "".join
)


def unescape(text: str) -> str:
    """What a reader sees: one backslash before an escaped character removed, the zero-width space dropped."""
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL).replace("@\u200b", "@")


def unescaped_specials(text: str) -> list[str]:
    """Markdown characters in `text` not preceded by an escaping backslash."""
    found: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 2  # an escape pair: the escaped character is literal
            continue
        if text[i] in _INLINE:
            found.append(text[i])
        i += 1
    return found


_LIVE_MENTION = re.compile(r"(?<!\u200b)@(everyone|here)\b|<@[!&]?\d+>")
_LIVE_TOKEN = re.compile(r"(?<!\\)<(?:#|:|a:|t:|/)")
_LINE_MARKER = re.compile(r"^[ \t]*(?:[#>-]|\d+\.\s)", re.MULTILINE)


@given(hostile)
@example("**@everyone** [free](https://evil.example) ||spoiler|| `code` # Heading\n> quote\n- item\n1. first")
def test_escaping_is_lossless_and_leaves_nothing_live(text: str) -> None:
    escaped = escape(text)
    if "http" not in text:  # URLs are kept as they are, so only text without one round-trips exactly
        assert unescape(escaped) == text
        assert unescaped_specials(escaped) == []
    assert not _LIVE_MENTION.search(escaped), escaped
    assert not _LIVE_TOKEN.search(escaped), escaped
    for line in escaped.splitlines():
        assert not _LINE_MARKER.match(line), line


def test_hostile_paper_title_reads_literally() -> None:
    title = "@everyone **Attention** is all <@&1500000000000000001> needs: [free nitro](https://evil.example/x)"
    escaped = escape(title)
    assert escaped == (
        "@\u200beveryone \\*\\*Attention\\*\\* is all <@\u200b&1500000000000000001> needs: "
        "\\[free nitro\\](https://evil.example/x)"
    )
    assert unescape(escaped) == title


def test_line_start_markers_are_escaped_where_discord_reads_them() -> None:
    assert escape("# Heading\n> quote\n  - item\n-# small\n12. item\nv1.2 and 3.5") == (
        "\\# Heading\n\\> quote\n  \\- item\n\\-# small\n12\\. item\nv1.2 and 3.5"
    )


def test_urls_stay_whole() -> None:
    assert escape("code at https://github.com/a_b/c*d_e.") == "code at https://github.com/a_b/c*d_e."
    assert escape("<https://x.org/a_b>") == "<https://x.org/a_b>"


@given(st.text(alphabet="ab\\ *_", max_size=50), st.integers(1, 60))
def test_truncate_never_leaves_a_dangling_escape(text: str, limit: int) -> None:
    escaped = escape(text)
    cut = truncate(escaped, limit)
    assert len(cut) <= limit
    if cut != escaped:
        body = cut.removesuffix("…")
        assert (len(body) - len(body.rstrip("\\"))) % 2 == 0


@given(hostile, st.integers(20, 300))
def test_masked_link_fits_and_keeps_the_url(label: str, limit: int) -> None:
    url = "https://huggingface.co/papers/2403.07815"
    link = masked_link(label, url, limit)
    assert len(link) <= max(limit, len(url) + 5)
    assert link.endswith(f"]({url})")
    inner = link[1 : -len(url) - 3]
    assert unescaped_specials(inner) == [] or "http" in label


def test_author_lists() -> None:
    assert shorten_authors([]) is None
    assert shorten_authors([" ", ""]) is None
    assert shorten_authors(["A", "B"]) == "A, B"
    assert shorten_authors(["A", "B", "C"]) == "A, B, C"
    assert shorten_authors(["A", "B", "C", "D"]) == "A, B, C et al."
    assert shorten_authors(["A  \n B"]) == "A B"
    assert authors_within([], 100, keep=3) == "Unknown authors"
    assert authors_within(["*A*", "B", "C", "D"], 100, keep=2) == "\\*A\\*, B et al."
    assert authors_within(["x" * 500], 100, keep=2).endswith("…")


def test_labels() -> None:
    assert upvotes_label(12) == "▲ 12" and upvotes_label(None) == "▲ –"
    assert stars_label(950) == "950" and stars_label(1234) == "1.2k"
    assert one_line("  a\n\tb  ") == "a b"
    assert jump_url(1, 2, 3) == "https://discord.com/channels/1/2/3"
    assert jump_url(None, 2, 3) == "https://discord.com/channels/@me/2/3"
