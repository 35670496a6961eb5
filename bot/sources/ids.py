"""Pure normalisation of arXiv identifiers and of arXiv / Hugging Face paper URLs.

Every paper in paperbot is keyed by its *unversioned* arXiv id, because that is what Hugging Face's
`paper.id` carries and what joins the two sources (FORMATS.md §3). Users, however, paste ids in every
shape: `2401.12345v2`, `arXiv:2401.12345`, `https://arxiv.org/pdf/2401.12345v2.pdf`,
`<https://huggingface.co/papers/2401.12345?foo#bar>`, or an old-style `hep-th/9901001`. This module turns
all of them into the one key, and says `None` for anything else so callers can fall back to a title search.

Design choices:

* Validation is strict enough that a title is never mistaken for an id: a new-style id must have a real
  month (`YYMM` with MM 01-12, from 0704 when the scheme began) and the digit count arXiv used then
  (4 digits up to 1412, 5 from 1501).
* Old-style ids drop the subject class (`math.GT/0309136` → `math/0309136`): the class is not part of the
  identifier, and arXiv's API answers with `…/abs/math/0309136v1`, so keeping it would split one paper
  into two keys.
* No I/O and no exceptions on user text: any string in, `str | None` out.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

__all__ = ["is_old_style", "parse_paper_ref", "split_version"]

# New style (April 2007 on): YYMM.NNNN (to 1412) or YYMM.NNNNN (from 1501), optional version.
_NEW_RE = re.compile(r"(?P<yymm>\d{4})\.(?P<num>\d{4,5})(?:v(?P<ver>\d+))?", re.ASCII)
# Old style (to March 2007): archive[-sub][.CLASS]/YYMMNNN, optional version.
_OLD_RE = re.compile(
    r"(?P<archive>[a-z]+(?:-[a-z]+)?)(?:\.(?P<cls>[a-z]{2}(?:-[a-z]{2})?))?/(?P<num>\d{7})(?:v(?P<ver>\d+))?",
    re.ASCII | re.IGNORECASE,
)
_PREFIX_RE = re.compile(r"^arxiv\s*:\s*", re.IGNORECASE)
_ARXIV_HOSTS = frozenset({"arxiv.org", "www.arxiv.org", "export.arxiv.org", "browse.arxiv.org"})
_ARXIV_PATHS = frozenset({"abs", "pdf", "html", "format", "ps"})
_HF_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
_VERSION_RE = re.compile(r"^(?P<base>.+?)v(?P<ver>\d+)$", re.ASCII)
# Characters people wrap links in on Discord (`<url>` suppresses the embed) or drag along from prose.
_WRAPPERS = "<>()[]\"'`"


def _new_style(text: str) -> str | None:
    m = _NEW_RE.fullmatch(text)
    if m is None:
        return None
    yymm, num = m["yymm"], m["num"]
    month = int(yymm[2:])
    if not 1 <= month <= 12 or int(yymm) < 704:
        return None
    # arXiv switched from 4 to 5 digits after the dot in January 2015.
    if len(num) != (5 if int(yymm) >= 1501 else 4):
        return None
    return f"{yymm}.{num}"


def _old_style(text: str) -> str | None:
    m = _OLD_RE.fullmatch(text)
    if m is None:
        return None
    num = m["num"]
    month = int(num[2:4])
    if not 1 <= month <= 12:
        return None
    return f"{m['archive'].lower()}/{num}"


def _bare_id(text: str) -> str | None:
    """Return the unversioned id if `text` is exactly one id (any version, either style)."""
    return _new_style(text) or _old_style(text)


def _id_from_url(text: str) -> str | None:
    candidate = text if "://" in text else f"https://{text}"
    try:
        parts = urlsplit(candidate)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"}:
        return None
    host = (parts.hostname or "").lower()
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host in _ARXIV_HOSTS and len(segments) >= 2 and segments[0].lower() in _ARXIV_PATHS:
        rest = "/".join(segments[1:])
        if rest.lower().endswith(".pdf"):
            rest = rest[: -len(".pdf")]
        return _bare_id(rest)
    if host in _HF_HOSTS and len(segments) >= 2 and segments[0] == "papers":
        return _bare_id("/".join(segments[1:]))
    return None


def parse_paper_ref(text: str) -> str | None:
    """Return the unversioned arXiv id that `text` names (id in any form, arXiv or HF URL), else None."""
    cleaned = text.strip().strip(_WRAPPERS).strip()
    if not cleaned or len(cleaned) > 2048:
        return None
    cleaned = _PREFIX_RE.sub("", cleaned)
    bare = _bare_id(cleaned)
    if bare is not None:
        return bare
    if "/" in cleaned and "." in cleaned:
        return _id_from_url(cleaned)
    return None


def split_version(arxiv_id: str) -> tuple[str, int | None]:
    """Split `2401.12345v2` into (`2401.12345`, 2); an unversioned id gives (id, None)."""
    m = _VERSION_RE.match(arxiv_id)
    if m is None:
        return arxiv_id, None
    return m["base"], int(m["ver"])


def is_old_style(arxiv_id: str) -> bool:
    """Whether the id is a pre-2007 `archive/YYMMNNN` id (Hugging Face only lists new-style ids)."""
    return "/" in arxiv_id
