"""Streaming reader for the public arXiv metadata snapshot (`arxiv-metadata-oai-snapshot.json`).

The snapshot is JSON Lines, one record per line (≈2.7M lines, ≈4 GB plain), optionally gzip-compressed. The
reader never holds more than one line: memory is flat whatever the file size. Each line becomes a `Paper`, or a
`BadLine` saying why it was skipped, so an importer can count bad lines without aborting on the first one.

Field mapping (one record → `Paper`):

* `id` → the unversioned arXiv id, old style (`hep-th/9901001`) too, through `ids.parse_paper_ref`.
* `title`, `abstract` → whitespace collapsed to single spaces (the snapshot hard-wraps at ~80 columns).
* `authors_parsed` (`[last, first, suffix, affiliation…]`, already Unicode) → "first last suffix"; when it is
  missing, the `authors` string is split on commas and " and ", parenthesised affiliations are dropped, and
  the common LaTeX accent macros (`\\'a`, `\\"o`, `\\v{s}`, `{\\O}`, `\\ss` …) are decoded to Unicode.
  Anything the decoder does not know is left as written (FORMATS.md Q3: never try to render LaTeX).
* `categories` (space-separated) → tuple.
* `published` → UTC date of `versions[0].created` (RFC 2822, the v1 submission), else `update_date`.

Nothing else in the record (doi, journal-ref, comments, license) has a `Paper` field, so it is ignored.

Lines are decoded with orjson: 2.5x faster than the standard library's `json` on snapshot lines (bench/README.md,
issue 9), which matters at 2.7M lines. It is also stricter where strictness helps: a lone surrogate escape or
invalid UTF-8 makes the line a `BadLine` instead of a title SQLite would refuse to store.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO

import orjson

from bot.models import Paper
from bot.sources.ids import parse_paper_ref

__all__ = ["BadLine", "SnapshotReader", "decode_latex_accents", "parse_record", "read_snapshot"]

_GZIP_MAGIC = b"\x1f\x8b"
_READ_BUFFER = 1 << 20

_MONTHS = {
    m: i
    for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1)
}

# Accent macro → combining character (applied to the following letter, then NFC-composed).
_COMBINING = {
    "'": "\u0301",
    "`": "\u0300",
    "^": "\u0302",
    '"': "\u0308",
    "~": "\u0303",
    "=": "\u0304",
    ".": "\u0307",
    "u": "\u0306",
    "v": "\u030c",
    "H": "\u030b",
    "c": "\u0327",
    "k": "\u0328",
    "r": "\u030a",
    "b": "\u0331",
    "d": "\u0323",
}
_ACCENT_RE = re.compile(
    r"""\{?\\(?:(?P<sym>['`^"~=.])|(?P<let>[uvHckrbd])(?![A-Za-z]))\s*(?:\{\s*(?P<a>\\[ij]|[A-Za-z])\s*\}|(?P<b>\\[ij](?![A-Za-z])|[A-Za-z]))\}?"""
)
_LETTERS = {
    "ss": "ß",
    "o": "ø",
    "O": "Ø",
    "ae": "æ",
    "AE": "Æ",
    "aa": "å",
    "AA": "Å",
    "l": "ł",
    "L": "Ł",
    "oe": "œ",
    "OE": "Œ",
    "i": "ı",
    "j": "ȷ",
}
_LETTER_RE = re.compile(r"\{?\\(ss|ae|AE|aa|AA|oe|OE|o|O|l|L|i|j)(?![A-Za-z])\s*(?:\{\})?\}?")
_AFFILIATION_RE = re.compile(r"\([^()]*\)")
_AUTHOR_SPLIT_RE = re.compile(r",|\band\b|;|&")


@dataclass(frozen=True, slots=True)
class BadLine:
    """A snapshot line that could not become a `Paper` (1-based line number and a short reason)."""

    line_no: int
    reason: str


def _collapse(text: object) -> str:
    """Whitespace runs → one space, trimmed (same result as `" ".join(text.split())`)."""
    if not isinstance(text, str):
        return ""
    # Fast path for the usual snapshot text: ASCII, hard-wrapped with single newlines. Splitting a 1 KB
    # abstract into words and joining them again costs ~3x more, and the import parses millions of them.
    flat = text.strip().replace("\n", " ")
    # isprintable() is False for every ASCII whitespace but " " (tab, CR, VT, FF, \x1c-\x1f): those and
    # double spaces take the exact slow path.
    if flat.isascii() and flat.isprintable() and "  " not in flat:
        return flat
    return " ".join(text.split())


def decode_latex_accents(text: str) -> str:
    """Decode the LaTeX accent and letter macros common in arXiv author strings; leave the rest alone."""
    if "\\" not in text:
        return text

    def accent(m: re.Match[str]) -> str:
        mark = _COMBINING[m["sym"] or m["let"]]
        base = m["a"] or m["b"]
        base = {"\\i": "i", "\\j": "j"}.get(base, base)
        return unicodedata.normalize("NFC", base + mark)

    text = _ACCENT_RE.sub(accent, text)
    return _LETTER_RE.sub(lambda m: _LETTERS[m[1]], text)


def _part(value: object) -> str:
    # Name parts are short and almost always clean: only pay for a full collapse when there is a wrap.
    if not isinstance(value, str):
        return ""
    if "\n" in value or "  " in value or "\t" in value:
        return " ".join(value.split())
    return value.strip()


def _author_name(entry: object) -> str:
    """One `authors_parsed` entry ([last, first, suffix, affiliation…]) as "first last suffix" ("" if empty)."""
    if not isinstance(entry, list) or not entry:
        raise ValueError("authors_parsed entry is not a list")
    last = _part(entry[0])
    first = _part(entry[1]) if len(entry) > 1 else ""
    suffix = _part(entry[2]) if len(entry) > 2 else ""
    if first and last:
        return f"{first} {last} {suffix}" if suffix else f"{first} {last}"
    return " ".join(part for part in (first, last, suffix) if part)


def _authors_from_parsed(parsed: list[Any]) -> tuple[str, ...]:
    names: list[str] = []
    for entry in parsed:
        # Fast path for the snapshot's usual entry, three clean strings: join first, check the result once.
        # A part with surrounding or doubled whitespace shows as "  " or a space at either end of the name,
        # and every other whitespace character is unprintable, so a name passing these checks is exactly
        # what `_author_name` makes — at a third of the cost (it runs ~12M times for the full snapshot).
        if type(entry) is list and len(entry) >= 3:
            last, first, suffix = entry[0], entry[1], entry[2]
            if type(last) is str and type(first) is str and type(suffix) is str and last and first:
                name = f"{first} {last} {suffix}" if suffix else f"{first} {last}"
                if name.isprintable() and "  " not in name and name[0] != " " and name[-1] != " ":
                    names.append(name)
                    continue
        name = _author_name(entry)
        if name:
            names.append(name)
    return tuple(names)


def _authors_from_string(authors: str) -> tuple[str, ...]:
    flat = _AFFILIATION_RE.sub(" ", decode_latex_accents(authors))
    names = (_collapse(part).strip("{} ") for part in _AUTHOR_SPLIT_RE.split(flat))
    return tuple(name for name in names if name)


def _published(record: dict[str, Any]) -> dt.date | None:
    versions = record.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        created = versions[0].get("created")
        if isinstance(created, str):
            # Fast path for the one shape the snapshot uses: "Mon, 2 Apr 2007 19:18:42 GMT".
            parts = created.split()
            if len(parts) == 6 and parts[5] == "GMT" and parts[2] in _MONTHS:
                try:
                    return dt.date(int(parts[3]), _MONTHS[parts[2]], int(parts[1]))
                except ValueError:
                    pass
            try:
                stamp = parsedate_to_datetime(created)
            except (TypeError, ValueError, IndexError):
                stamp = None
            if stamp is not None:
                if stamp.tzinfo is not None:
                    stamp = stamp.astimezone(dt.UTC)
                return stamp.date()
    update = record.get("update_date")
    if isinstance(update, str):
        try:
            return dt.date.fromisoformat(update.strip())
        except ValueError:
            return None
    return None


def parse_record(record: object, seen_at: dt.datetime | None = None) -> Paper:
    """Turn one decoded snapshot record into a `Paper`; raise ValueError when it has no usable id or title.

    `seen_at` (an import's start time) becomes the paper's first and last sighting, so the paper is already
    in the form the catalogue stores a new row in, and the catalogue need not build a second copy of it.
    """
    if not isinstance(record, dict):
        raise ValueError("record is not a JSON object")
    raw_id = record.get("id")
    paper_id = parse_paper_ref(raw_id) if isinstance(raw_id, str) else None
    if paper_id is None:
        raise ValueError(f"bad or missing id {raw_id!r:.40}")
    title = _collapse(record.get("title"))
    if not title:
        raise ValueError("missing title")
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        authors = _authors_from_parsed(parsed)
    else:
        raw_authors = record.get("authors")
        authors = _authors_from_string(raw_authors) if isinstance(raw_authors, str) else ()
    raw_categories = record.get("categories")
    categories = tuple(raw_categories.split()) if isinstance(raw_categories, str) else None
    return Paper(
        id=paper_id,
        title=title,
        abstract=_collapse(record.get("abstract")) or None,
        authors=authors,
        published=_published(record),
        categories=categories or None,
        first_seen=seen_at,
        last_seen=seen_at,
    )


class SnapshotReader:
    """Iterate a snapshot file (plain or gzip, detected by magic bytes) as `Paper | BadLine`.

    `bytes_read` / `total_bytes` are positions in the file *on disk* (compressed bytes for .gz), so a progress
    bar's ETA stays honest for both forms. `seen_at`: see `parse_record`.
    """

    def __init__(self, path: Path | str, *, seen_at: dt.datetime | None = None) -> None:
        self.path = Path(path)
        self.seen_at = seen_at
        self._raw: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by close()/__exit__
        self.total_bytes = self.path.stat().st_size
        self._stream: IO[bytes]
        if self._raw.read(2) == _GZIP_MAGIC:
            self._raw.seek(0)
            self._stream = io.BufferedReader(gzip.GzipFile(fileobj=self._raw, mode="rb"), _READ_BUFFER)
        else:
            self._raw.seek(0)
            self._stream = io.BufferedReader(self._raw, _READ_BUFFER)
        self.lines = 0

    @property
    def bytes_read(self) -> int:
        """How far into the on-disk file the reader has got."""
        try:
            return min(self._raw.tell(), self.total_bytes)
        except ValueError:  # closed
            return self.total_bytes

    def __iter__(self) -> Iterator[Paper | BadLine]:
        for line in self._stream:
            self.lines += 1
            if not line.strip():
                continue
            try:
                yield parse_record(orjson.loads(line), self.seen_at)
            except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
                yield BadLine(self.lines, str(exc)[:200] or type(exc).__name__)

    def close(self) -> None:
        """Close the file."""
        self._stream.close()
        self._raw.close()

    def __enter__(self) -> SnapshotReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def read_snapshot(path: Path | str) -> Iterator[Paper | BadLine]:
    """Yield every record of the snapshot at `path` as a `Paper`, or a `BadLine` for a line that is not one."""
    with SnapshotReader(path) as reader:
        yield from reader
