"""The value types of the settings: each one checks a single kind of value and says what it expected.

Every validator raises `ValueError("expected ...")`; `bot.config.problems` prefixes the file or variable and
the key, and appends ", got <value>" (never for a secret). Values from the environment arrive as text
(`Settings` turns the library's JSON decoding off), so list types also accept "1,2" and "[1, 2]".
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zoneinfo
from typing import Annotated, Any, Final, Literal, TypeVar, get_args

from pydantic import BeforeValidator, Field, PostgresDsn, SecretStr, TypeAdapter, ValidationError

from bot.config.cron import check_cron
from bot.models import Cadence

__all__ = [
    "REDACTED",
    "WEEKDAYS",
    "Cadence",
    "CadenceName",
    "Cron",
    "DatabaseUrl",
    "GraceHours",
    "Keywords",
    "ListenAddress",
    "LocalTime",
    "LogLevel",
    "LogLevelName",
    "MinUpvotes",
    "NonNegativeInt",
    "NonNegativeNumber",
    "PingKeywords",
    "SearchMode",
    "SearchModeName",
    "ShardIds",
    "Snowflake",
    "SnowflakeList",
    "TableList",
    "TimeZoneName",
    "Token",
    "TopN",
    "Url",
    "Weekday",
    "WeekdayName",
    "split_listen_address",
    "url_password",
    "url_without_password",
]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
SearchMode = Literal["keyword", "semantic", "hybrid"]
WeekdayName = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: Final[tuple[str, ...]] = get_args(WeekdayName)  # index = Subscription.weekday (Monday = 0)

# Discord snowflakes are unsigned 64-bit integers; 0 is never a real id.
_SNOWFLAKE_MAX: Final = 2**64 - 1
REDACTED: Final = "**********"


def _reject_bool(value: Any) -> Any:
    # pydantic's lax mode turns `true` into 1; in a config file that is always a mistake.
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


def _env_list(value: Any) -> Any:
    """A list as written in TOML, or as an environment variable: a JSON list or comma-separated items."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("expected a JSON list like [1, 2] or a comma-separated list") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def _env_table_list(value: Any) -> Any:
    """A list of tables ([[digest.channels]]); from the environment only a JSON list can say that."""
    if not isinstance(value, str) or not value.strip().startswith("["):
        return value  # not text, or text that is no list: pydantic says "expected a list"
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValueError('expected a JSON list of tables like [{"channel_id": 123}]') from None


_TIME_RE: Final = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_time(value: Any) -> Any:
    if isinstance(value, dt.time):
        if value.second or value.microsecond or value.tzinfo is not None:
            raise ValueError('expected a local time as "HH:MM" (no seconds, no offset)')
        return value
    if isinstance(value, str):
        match = _TIME_RE.match(value.strip())
        if match:
            hour, minute = int(match[1]), int(match[2])
            if hour < 24 and minute < 60:
                return dt.time(hour, minute)
    raise ValueError('expected a time as "HH:MM" (24-hour clock), like "09:00"')


def _check_timezone(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError('expected an IANA timezone name like "Europe/Berlin"')
    name = value.strip()
    try:
        if not name:
            raise ValueError(name)
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError('expected an IANA timezone name like "Europe/Berlin"') from None
    return name


def _check_url(value: Any) -> Any:
    expected = 'expected an http(s) URL like "https://example.org"'
    if not isinstance(value, str):
        raise ValueError(expected)
    url = value.strip()
    match = re.match(r"^(https?)://([^/\s?#]+)([^\s]*)$", url, flags=re.IGNORECASE)
    if not match or match[2].startswith(":"):
        raise ValueError(expected)
    if "?" in url or "#" in url:
        raise ValueError(expected + " without a query or fragment")
    # Clients append paths ("{base_url}/api/..."), so a trailing slash would double up.
    return url.rstrip("/")


def _check_log_level(value: Any) -> Any:
    if isinstance(value, str) and value.strip().upper() in get_args(LogLevel):
        return value.strip().upper()
    raise ValueError('expected one of "DEBUG", "INFO", "WARNING", "ERROR"')


def _check_snowflake(value: Any) -> Any:
    value = _reject_bool(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= _SNOWFLAKE_MAX:
        return value
    raise ValueError("expected a Discord id (a positive integer like 123456789012345678)")


def _clean_keywords(value: Any) -> Any:
    value = _env_list(value)
    if isinstance(value, list) and all(isinstance(word, str) for word in value):
        return [word.strip() for word in value if word.strip()]
    raise ValueError('expected a list of strings like ["diffusion", "agents"]')


def _ping_keywords(value: Any) -> Any:
    words = _clean_keywords(value)
    if not words:
        raise ValueError('expected at least one keyword, like ["robot"]')
    return words


def _strip_secret(value: Any) -> Any:
    # Tokens pasted from a dashboard or read from a secrets file often carry a trailing newline.
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, SecretStr):
        return SecretStr(value.get_secret_value().strip())
    return value


_POSTGRES_URL: Final = TypeAdapter(PostgresDsn)
_POSTGRES_EXAMPLE: Final = '"postgresql://user:password@host:5432/paperbot"'


def _check_database_url(value: Any) -> Any:
    """Empty, or a PostgreSQL URL the drivers (libpq syntax) accept; checked by pydantic's PostgresDsn.

    pydantic's own message quotes the input, which holds the password: only the reason is kept.
    """
    value = _strip_secret(value)
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str):
        raise ValueError(f"expected a PostgreSQL URL like {_POSTGRES_EXAMPLE}")
    if not text:
        return SecretStr("")
    scheme = text.partition("://")[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise ValueError(f"expected a PostgreSQL URL starting postgresql://, like {_POSTGRES_EXAMPLE}")
    try:
        _POSTGRES_URL.validate_python(text)
    except ValidationError as exc:
        reason = str((exc.errors(include_url=False)[0].get("ctx") or {}).get("error", "not a URL"))
        raise ValueError(f"expected a PostgreSQL URL like {_POSTGRES_EXAMPLE} ({reason})") from None
    return SecretStr(text)


def _userinfo_span(url: str) -> tuple[int, int] | None:
    """Where the password sits in `scheme://user:password@host...`, as (start, end) indexes, or None."""
    start = url.find("://")
    if start < 0:
        return None
    start += 3
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start)
        if found >= 0:
            end = min(end, found)
    at = url.rfind("@", start, end)
    colon = url.find(":", start, at) if at >= 0 else -1
    return (colon + 1, at) if colon >= 0 else None


def url_password(url: str) -> str:
    """The password written in a URL (percent-encoded as written), or ""."""
    span = _userinfo_span(url)
    return url[span[0] : span[1]] if span else ""


def url_without_password(url: str) -> str:
    """The URL with its password replaced by `**********` (for `config check` and log lines)."""
    span = _userinfo_span(url)
    if not span or span[0] == span[1]:
        return url
    return url[: span[0]] + REDACTED + url[span[1] :]


def split_listen_address(text: str) -> tuple[str, int]:
    """Split "host:port" or "[v6]:port" into (host, port); raise ValueError if it is neither."""
    host, colon, port_text = text.rpartition(":")
    if not colon or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError('expected "host:port", like "127.0.0.1:9108" or "[::1]:9108"')
    if host.startswith("["):
        if not host.endswith("]") or len(host) < 3:
            raise ValueError('expected "host:port", like "127.0.0.1:9108" or "[::1]:9108"')
        host = host[1:-1]
    elif ":" in host or any(ch.isspace() for ch in host):
        raise ValueError('expected "host:port" (an IPv6 host goes in brackets, like "[::1]:9108")')
    return host, int(port_text)


def _check_listen(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError('expected "host:port", like "127.0.0.1:9108", or "" (off)')
    text = value.strip()
    if text:
        split_listen_address(text)
    return text


def _check_weekday(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in WEEKDAYS:
        return value.strip().lower()
    raise ValueError('expected a day name: "monday", "tuesday", … "sunday"')


def _check_shard_ids(value: Any) -> Any:
    value = _env_list(value)
    if isinstance(value, list):
        seen: set[object] = set()
        for item in value:
            if item in seen:
                raise ValueError(f"expected each shard id once, but {item} is listed twice")
            seen.add(item)
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


Snowflake = Annotated[int, BeforeValidator(_check_snowflake)]
SnowflakeList = Annotated[list[Snowflake], BeforeValidator(_env_list)]
Url = Annotated[str, BeforeValidator(_check_url)]
TimeZoneName = Annotated[str, BeforeValidator(_check_timezone)]
LocalTime = Annotated[dt.time, BeforeValidator(_parse_time)]
Keywords = Annotated[list[str], BeforeValidator(_clean_keywords)]
PingKeywords = Annotated[list[str], BeforeValidator(_ping_keywords)]
TopN = Annotated[int, BeforeValidator(_reject_bool), Field(ge=1, le=25)]
MinUpvotes = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0)]
NonNegativeInt = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0)]
GraceHours = Annotated[float, BeforeValidator(_reject_bool), Field(ge=0, le=24, allow_inf_nan=False)]
NonNegativeNumber = Annotated[float, BeforeValidator(_reject_bool), Field(ge=0, allow_inf_nan=False)]
LogLevelName = Annotated[LogLevel, BeforeValidator(_check_log_level)]
ShardIds = Annotated[list[NonNegativeInt], BeforeValidator(_check_shard_ids)]
Token = Annotated[SecretStr, BeforeValidator(_strip_secret)]
DatabaseUrl = Annotated[SecretStr, BeforeValidator(_check_database_url)]
ListenAddress = Annotated[str, BeforeValidator(_check_listen)]
Weekday = Annotated[WeekdayName, BeforeValidator(_check_weekday)]
Cron = Annotated[str, BeforeValidator(check_cron)]
SearchModeName = Annotated[SearchMode, BeforeValidator(_lower)]
CadenceName = Annotated[Cadence, BeforeValidator(_lower)]

_Item = TypeVar("_Item")
# A list of TOML tables ([[digest.channels]]); from an environment variable, a JSON list of objects.
TableList = Annotated[list[_Item], BeforeValidator(_env_table_list)]
