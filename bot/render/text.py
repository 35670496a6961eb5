"""Text hygiene for everything paperbot shows: whitespace, Discord escaping, truncation and small labels.

Two rules hold for every piece of paper data (titles, authors, abstracts, organisations, queries) that reaches
a Discord slot where markdown renders — message content, embed titles, descriptions and field values:

* it is escaped with `escape`, so `**@everyone** [free](https://evil)` shows literally and pings nobody
  (messages are also sent with no allowed mentions: escaping is the second belt);
* it is cut *after* escaping, with `truncate`, to the limit of the slot, never leaving half an escape.

Slots that Discord shows as plain text (embed author names and footers, select-menu options, autocomplete
choices, thread names) get `one_line` and `truncate` only: a backslash there would be shown as a backslash.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

__all__ = [
    "ELLIPSIS",
    "UNKNOWN_AUTHORS",
    "authors_within",
    "date_label",
    "discord_time",
    "escape",
    "is_http_url",
    "jump_url",
    "masked_link",
    "one_line",
    "shorten_authors",
    "split_text",
    "stars_label",
    "truncate",
    "upvotes_label",
]

ELLIPSIS = "…"
UNKNOWN_AUTHORS = "Unknown authors"
AUTHORS_SHOWN = 3  # enough to recognise a paper without a wall of names

_WS = re.compile(r"\s+")
# One pass over the text finds, in this order of preference at each position:
# - a URL (autolinked by Discord; escaping inside it would break the link, so it is kept as is — the same
#   pattern discord.py's own `escape_markdown` skips);
# - a line-start marker: heading `#`, quote `>`, list or subtext `-`, numbered list `1.`;
# - an inline markdown character (bold/italic `*` `_`, strike `~`, code `` ` ``, spoiler `|`, masked-link
#   brackets `[` `]`, and the backslash itself so a literal one is not read as an escape);
# - the `<` of a channel mention, custom emoji, timestamp or command mention (`<#…>`, `<:…>`, `<t:…>`, `</…>`).
_ESCAPE = re.compile(
    r"(?P<url><[^: >]+:/[^ >]+>|https?://[^\s<]+[^<.,:;\"'\]\s])"
    r"|(?P<line>^[ \t]*(?:[#>-]|\d+\.(?=\s)))"
    r"|(?P<char>[\\*_~`|\[\]])"
    r"|(?P<token><(?=[#:/]|a:|t:))",
    re.MULTILINE,
)
# @everyone, @here and user/role mentions get a zero-width space after the @: they read the same and are no
# longer mention syntax (discord.py's `escape_mentions` does the same).
_MENTION = re.compile(r"@(everyone|here|[!&]?[0-9]{17,20})")


def one_line(text: str) -> str:
    """Collapse all whitespace (arXiv titles carry hard line wraps) to single spaces, trimmed."""
    return _WS.sub(" ", text).strip()


def _escape_match(match: re.Match[str]) -> str:
    if match["url"] is not None:
        return match["url"]
    line = match["line"]
    if line is not None:
        marker = line.lstrip(" \t")
        pad = line[: len(line) - len(marker)]
        if marker.endswith("."):  # "12." → "12\." keeps the number, stops the list
            return f"{pad}{marker[:-1]}\\."
        return f"{pad}\\{marker}"
    if match["char"] is not None:
        return "\\" + match["char"]
    return "\\<"


def escape(text: str) -> str:
    """Escape Discord markdown, mentions and `<…>` tokens so `text` renders literally and pings nobody.

    URLs stay as they are (they are links, and a backslash inside one would break it). Removing one backslash
    before each escaped character and the zero-width space after `@` gives the original text back.
    """
    return _MENTION.sub("@\u200b\\1", _ESCAPE.sub(_escape_match, text))


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, marking a cut with an ellipsis.

    Escaped text must not end in half an escape: a trailing odd run of backslashes would escape the ellipsis
    (or whatever follows the piece), so one backslash is dropped.
    """
    if len(text) <= limit:
        return text
    if limit <= 0:
        return ""
    cut = text[: limit - 1].rstrip()
    if (len(cut) - len(cut.rstrip("\\"))) % 2 == 1:
        cut = cut[:-1]
    return cut + ELLIPSIS


def split_text(text: str, limit: int, *, first_limit: int | None = None) -> list[str]:
    """Split (escaped) text into chunks of at most `limit` characters, the first at most `first_limit`.

    Breaks prefer a paragraph, then a line or word boundary in the second half of the window, else cut hard;
    a cut never separates an escape backslash from the character it escapes. Only whitespace at the cuts is
    lost, so the chunks joined by spaces read as the whole text.
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


def _names(authors: Sequence[str]) -> list[str]:
    return [one_line(a) for a in authors if a.strip()]


def shorten_authors(authors: Sequence[str], *, keep: int = AUTHORS_SHOWN) -> str | None:
    """`A, B, C et al.`: the first `keep` names, "et al." when there are more; None without any name.

    Raw text (not escaped): escape it for a markdown slot, use it as is in an author line or a terminal.
    """
    names = _names(authors)
    if not names:
        return None
    if len(names) <= keep:
        return ", ".join(names)
    return ", ".join(names[:keep]) + " et al."


def authors_within(authors: Sequence[str], limit: int, *, keep: int) -> str:
    """Escaped author list of at most `keep` names and `limit` characters, then "et al." for the rest."""
    names = [escape(name) for name in _names(authors)]
    if not names:
        return UNKNOWN_AUTHORS
    full = ", ".join(names)
    if len(names) <= keep and len(full) <= limit:
        return full
    suffix = " et al."
    kept: list[str] = []
    for name in names[:keep]:
        if len(", ".join([*kept, name])) + len(suffix) > limit:
            break
        kept.append(name)
    if not kept:  # a single absurdly long name
        return truncate(names[0], limit)
    return ", ".join(kept) + suffix


def upvotes_label(upvotes: int | None) -> str:
    """`▲ 12`, or `▲ –` when the count is unknown (never a made-up 0)."""
    return f"▲ {upvotes}" if upvotes is not None else "▲ –"


def stars_label(stars: int) -> str:
    """GitHub stars compactly: 950, 1.2k, 45.3k."""
    return f"{stars / 1000:.1f}k" if stars >= 1000 else str(stars)


def date_label(day: dt.date | None) -> str:
    """A paper's date as ISO, or "date unknown"."""
    return day.isoformat() if day else "date unknown"


def is_http_url(url: str | None) -> bool:
    """Whether `url` can go into an embed's URL slots (Discord accepts only http and https there)."""
    return bool(url) and str(url).startswith(("https://", "http://"))


def masked_link(label: str, url: str, limit: int) -> str:
    """`[label](url)` with the raw `label` escaped and cut so the whole link fits in `limit` characters."""
    room = max(limit - len(url) - 4, 1)
    return f"[{truncate(escape(label), room)}]({url})"


def discord_time(instant: dt.datetime | None) -> str:
    """A Discord timestamp shown in each reader's own time zone, with a relative hint; "unknown" for None."""
    if instant is None:
        return "unknown"
    unix = int(instant.timestamp())
    return f"<t:{unix}:f> (<t:{unix}:R>)"


def jump_url(guild_id: int | None, channel_id: int, message_id: int) -> str:
    """The link that opens a message in Discord (`@me` for a direct message, which has no guild)."""
    return f"https://discord.com/channels/{guild_id if guild_id is not None else '@me'}/{channel_id}/{message_id}"
