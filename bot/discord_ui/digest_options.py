"""`/paper digest subscribe` options → validated channel settings, by the same rules as the config file.

A subscription made with a slash command must obey exactly what a `[[digest.channels]]` table in the config
file obeys (time format, known time zone, top_n range, …), so the options are validated by constructing the
config's own `DigestChannelSettings` — no second copy of its validators lives here. What remains here is what
only a slash command needs: a case-insensitive time-zone lookup and suggestions, splitting a comma-separated
keyword list (with a cap a one-line text option needs), and the bot's channel permission check.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

import discord
from discord import app_commands

from bot.config import DigestChannelSettings
from bot.errors import UserInputError
from bot.render.status import DIGEST_PERMISSIONS
from bot.render.text import escape

__all__ = [
    "KEYWORD_MAX_CHARS",
    "MAX_KEYWORDS",
    "REQUIRED_PERMISSIONS",
    "canonical_timezone",
    "missing_permissions",
    "split_keywords",
    "timezone_choices",
    "validated_settings",
]

MAX_KEYWORDS = 20
KEYWORD_MAX_CHARS = 100
# discord.Permissions attribute → the name Discord's UI shows, for each permission a digest channel needs.
REQUIRED_PERMISSIONS: tuple[tuple[str, str], ...] = tuple(
    zip(("view_channel", "send_messages", "embed_links", "read_message_history"), DIGEST_PERMISSIONS, strict=True)
)


@lru_cache(maxsize=1)
def _timezones() -> tuple[str, ...]:
    names = {n for n in zoneinfo.available_timezones() if not n.startswith(("posix/", "right/"))}
    return tuple(sorted(names | {"UTC"}))


def canonical_timezone(text: str) -> str:
    """The canonical spelling of a zone typed in any case (`asia/tokyo` → `Asia/Tokyo`); else `text` trimmed."""
    name = text.strip()
    return {n.casefold(): n for n in _timezones()}.get(name.casefold(), name)


def split_keywords(text: str) -> list[str]:
    """A comma-separated list → trimmed keywords, case-insensitively de-duplicated (empty text: no filter)."""
    seen: dict[str, str] = {}
    for raw in text.split(","):
        keyword = " ".join(raw.split())
        if not keyword:
            continue
        if len(keyword) > KEYWORD_MAX_CHARS:
            raise UserInputError(f"A keyword can be at most {KEYWORD_MAX_CHARS} characters long.")
        seen.setdefault(keyword.casefold(), keyword)
    if len(seen) > MAX_KEYWORDS:
        raise UserInputError(f"At most {MAX_KEYWORDS} keywords, separated by commas.")
    return list(seen.values())


def _problem_text(exc: ValueError, given: dict[str, Any]) -> str:
    """The validation errors as one line naming each option, what it expects and what was given."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts: list[str] = []
    for error in errors():
        loc = [str(p) for p in error.get("loc", ())]
        name = loc[0] if loc else "value"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        shown = given.get(name)
        got = f" (got “{escape(str(shown)[:40])}”)" if isinstance(shown, str | int) else ""
        parts.append(f"`{name}`: {message}{got}")
    return "; ".join(parts)


def validated_settings(channel_id: int, **options: Any) -> DigestChannelSettings:
    """The options given (None: not given) as the config's channel settings; raise UserInputError if invalid.

    The message names each bad option with the config file's own explanation, e.g. `time`: expected a time
    as "HH:MM" (24-hour clock).
    """
    given = {name: value for name, value in options.items() if value is not None}
    if isinstance(given.get("timezone"), str):
        given["timezone"] = canonical_timezone(given["timezone"])
    try:
        return DigestChannelSettings(channel_id=channel_id, **given)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise UserInputError(f"I can't use those settings — {_problem_text(exc, given)}.") from exc


def timezone_choices(current: str, limit: int = 25) -> list[app_commands.Choice[str]]:
    """Up to 25 zone names matching what was typed: prefix matches of any path part first."""
    typed = current.strip().casefold().replace(" ", "_")
    if not typed:
        popular = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
                   "Asia/Tokyo", "Asia/Shanghai", "Asia/Kolkata", "Australia/Sydney"]  # fmt: skip
        return [app_commands.Choice(name=n, value=n) for n in popular][:limit]
    ranked: list[tuple[int, str]] = []
    for name in _timezones():
        folded = name.casefold()
        if folded.startswith(typed):
            ranked.append((0, name))
        elif any(part.startswith(typed) for part in folded.split("/")):
            ranked.append((1, name))
        elif typed in folded:
            ranked.append((2, name))
    ranked.sort()
    return [app_commands.Choice(name=name, value=name) for _, name in ranked[:limit]]


def missing_permissions(permissions: discord.Permissions) -> list[str]:
    """Labels of the digest's required permissions that `permissions` lacks."""
    return [label for attr, label in REQUIRED_PERMISSIONS if not getattr(permissions, attr)]
