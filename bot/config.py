"""Typed settings: one TOML file overridden by the environment, validated once and passed down.

Precedence, highest first: keyword overrides given to `load_settings` > environment > TOML file > defaults.
Environment variables are `PAPERBOT_<SECTION>__<KEY>` (nested tables add more `__` parts, e.g.
`PAPERBOT_SOURCES__HUGGINGFACE__BASE_URL`); the token may also come from the conventional `DISCORD_TOKEN`.

Key design choice: `Settings(...)` itself reads nothing (its only source is its keyword arguments), so building
one in a test never picks up the developer's environment; `load_settings` is the one place that reads the file
and the environment. Doing the merge here, rather than through pydantic-settings' own sources, lets every
problem be reported as one line naming where the bad value came from — the file and key path
(`digest.channels[1].timezone`) or the environment variable — and never echoes a secret.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_serializer,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.errors import ConfigError
from bot.models import EmptyDays, Subscription

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "REDACTED",
    "ArxivSettings",
    "DatabaseSettings",
    "DigestChannelSettings",
    "DigestSettings",
    "DiscordSettings",
    "HuggingFaceSettings",
    "IngestSettings",
    "LogSettings",
    "Settings",
    "SourcesSettings",
    "load_settings",
    "redacted",
    "validate_cron",
]

ENV_PREFIX: Final = "PAPERBOT_"
ENV_DELIMITER: Final = "__"
CONFIG_PATH_ENV: Final = "PAPERBOT_CONFIG"
TOKEN_FALLBACK_ENV: Final = "DISCORD_TOKEN"
DEFAULT_CONFIG_PATH: Final = Path("config.toml")
REDACTED: Final = "**********"

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# Discord snowflakes are unsigned 64-bit integers; 0 is never a real id.
_SNOWFLAKE_MAX: Final = 2**64 - 1


# --------------------------------------------------------------------------------------------------------
# Value validators (each raises ValueError("expected ...") so load_settings can add ", got <value>")
# --------------------------------------------------------------------------------------------------------


def _reject_bool(value: Any) -> Any:
    # pydantic's lax mode turns `true` into 1; in a config file that is always a mistake.
    if isinstance(value, bool):
        raise ValueError("expected a number, not true/false")
    return value


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
    if isinstance(value, str) and value.strip().upper() in typing.get_args(LogLevel):
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
    if isinstance(value, list):
        if not all(isinstance(word, str) for word in value):
            raise ValueError('expected a list of strings like ["diffusion", "agents"]')
        return [word.strip() for word in value if word.strip()]
    raise ValueError('expected a list of strings like ["diffusion", "agents"]')


def _strip_token(value: Any) -> Any:
    # Tokens pasted from a dashboard or read from a secrets file often carry a trailing newline.
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, SecretStr):
        return SecretStr(value.get_secret_value().strip())
    return value


_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS: Final = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_FIELDS: Final[tuple[tuple[str, int, int, dict[str, int]], ...]] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i for i, name in enumerate(_MONTHS, start=1)}),
    # 0 and 7 are both Sunday, as in crontab(5).
    ("day of week", 0, 7, {name: i for i, name in enumerate(_WEEKDAYS)}),
)


def _cron_value(text: str, low: int, high: int, names: Mapping[str, int], field: str) -> int:
    if text.isdigit():
        number = int(text)
    elif text.lower() in names:
        number = names[text.lower()]
    else:
        raise ValueError(f"{field}: {text!r} is not a number" + (" or a name" if names else ""))
    if not low <= number <= high:
        raise ValueError(f"{field}: {number} is outside {low}-{high}")
    return number


def _cron_field_values(part: str, field: str, low: int, high: int, names: Mapping[str, int]) -> set[int]:
    values: set[int] = set()
    for item in part.split(","):
        base, slash, step_text = item.partition("/")
        if slash and (not step_text.isdigit() or int(step_text) == 0):
            raise ValueError(f"{field}: step {step_text!r} must be a positive number")
        step = int(step_text) if slash else 1
        if base == "*":
            start, end = low, high
        else:
            first, dash, last = base.partition("-")
            if not first or (dash and not last):
                raise ValueError(f"{field}: {item!r} is incomplete")
            start = _cron_value(first, low, high, names, field)
            # "a/n" means a, a+n, ... up to the field's maximum (as APScheduler and cronie read it).
            end = _cron_value(last, low, high, names, field) if dash else (high if slash else start)
            if end < start:
                raise ValueError(f"{field}: range {base!r} runs backwards")
        values.update(range(start, end + 1, step))
    return values


def validate_cron(expression: str) -> str:
    """Check a standard 5-field crontab expression (UTC); return a normalised equivalent.

    Accepts `*`, numbers, names (jan-dec, sun-sat), ranges `a-b`, steps `*/n`, `a-b/n`, `a/n` and comma
    lists, with crontab(5) meanings (day of week 0 and 7 are Sunday). Kept free of APScheduler so only
    `bot/digest/schedule.py` imports it. The returned form is safe for APScheduler 3's
    `CronTrigger.from_crontab`, which numbers weekdays from Monday=0: a restricted day-of-week field is
    rewritten as day names ("1-5" → "mon,tue,wed,thu,fri"). Restricting both day of month and day of week
    is refused, because crontab ORs them and APScheduler ANDs them.
    """
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    fields = [
        _cron_field_values(part, field, low, high, names)
        for part, (field, low, high, names) in zip(parts, _CRON_FIELDS, strict=True)
    ]
    if parts[2] != "*" and parts[4] != "*":
        raise ValueError("restrict day of month or day of week, not both")
    if parts[4] != "*":
        days = {7 if day == 0 else day for day in fields[4]}  # Monday first, Sunday last
        parts[4] = ",".join(_WEEKDAYS[day % 7] for day in sorted(days)) if len(days) < 7 else "*"
    return " ".join(parts)


def _check_cron(value: Any) -> Any:
    example = 'expected a 5-field crontab like "*/30 * * * *"'
    if not isinstance(value, str):
        raise ValueError(example)
    try:
        return validate_cron(value)
    except ValueError as exc:
        raise ValueError(f"{example} ({exc})") from None


Snowflake = Annotated[int, BeforeValidator(_check_snowflake)]
Url = Annotated[str, BeforeValidator(_check_url)]
TimeZoneName = Annotated[str, BeforeValidator(_check_timezone)]
LocalTime = Annotated[dt.time, BeforeValidator(_parse_time)]
Keywords = Annotated[list[str], BeforeValidator(_clean_keywords)]
TopN = Annotated[int, BeforeValidator(_reject_bool), Field(ge=1, le=25)]
MinUpvotes = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0)]
GraceHours = Annotated[float, BeforeValidator(_reject_bool), Field(ge=0, le=24, allow_inf_nan=False)]


class _Section(BaseModel):
    """A TOML table: unknown keys are errors, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


# --------------------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------------------


class DiscordSettings(_Section):
    """[discord]: how to reach Discord."""

    token: Annotated[SecretStr, BeforeValidator(_strip_token)] = SecretStr("")
    api_base_url: Url = "https://discord.com/api/v10"
    guild_ids: list[Snowflake] = Field(default_factory=list)

    @property
    def default_api(self) -> bool:
        """Whether api_base_url is Discord's own (then discord.py's gateway default is left alone)."""
        return self.api_base_url == "https://discord.com/api/v10"


class DatabaseSettings(_Section):
    """[database]: where the SQLite catalogue lives (relative paths are relative to the working directory)."""

    path: Path = Path("data/papers.db")

    @field_validator("path", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        if isinstance(value, str | Path):
            if not str(value).strip():
                raise ValueError('expected a file path like "data/papers.db"')
            return Path(str(value).strip()).expanduser()
        raise ValueError('expected a file path like "data/papers.db"')


class HuggingFaceSettings(_Section):
    """[sources.huggingface]."""

    enabled: bool = True
    base_url: Url = "https://huggingface.co"


class ArxivSettings(_Section):
    """[sources.arxiv]."""

    enabled: bool = True
    base_url: Url = "https://export.arxiv.org"
    min_interval_s: Annotated[float, BeforeValidator(_reject_bool), Field(ge=0, le=600, allow_inf_nan=False)] = 3.0


class SourcesSettings(_Section):
    """[sources]: one table per upstream."""

    huggingface: HuggingFaceSettings = Field(default_factory=HuggingFaceSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)


class IngestSettings(_Section):
    """[ingest]: when the scheduler refreshes today's and yesterday's lists."""

    cron: Annotated[str, BeforeValidator(_check_cron)] = "*/30 * * * *"


class LogSettings(_Section):
    """[log]."""

    level: Annotated[LogLevel, BeforeValidator(_check_log_level)] = "INFO"


class DigestChannelSettings(_Section):
    """One [[digest.channels]] table: a channel id plus any [digest] key to override."""

    channel_id: Snowflake
    time: LocalTime | None = None
    timezone: TimeZoneName | None = None
    top_n: TopN | None = None
    min_upvotes: MinUpvotes | None = None
    keywords: Keywords | None = None
    empty_days: EmptyDays | None = None
    grace_hours: GraceHours | None = None

    @field_serializer("time")
    def _dump_time(self, value: dt.time | None) -> str | None:
        return None if value is None else value.strftime("%H:%M")


class DigestSettings(_Section):
    """[digest]: defaults for every subscription, plus the channels subscribed in the file."""

    time: LocalTime = dt.time(9, 0)
    timezone: TimeZoneName = "UTC"
    top_n: TopN = 10
    min_upvotes: MinUpvotes = 0
    empty_days: EmptyDays = "note"
    grace_hours: GraceHours = 6.0
    keywords: Keywords = Field(default_factory=list)
    channels: list[DigestChannelSettings] = Field(default_factory=list)

    @field_serializer("time")
    def _dump_time(self, value: dt.time) -> str:
        return value.strftime("%H:%M")

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, channels: list[DigestChannelSettings]) -> list[DigestChannelSettings]:
        seen: dict[int, int] = {}
        for index, channel in enumerate(channels):
            if channel.channel_id in seen:
                raise ValueError(
                    f"expected each channel_id once, but {channel.channel_id} is in "
                    f"channels[{seen[channel.channel_id]}] and channels[{index}]"
                )
            seen[channel.channel_id] = index
        return channels

    def subscriptions(self) -> list[Subscription]:
        """Return the file's channels as Subscriptions, each unset key taken from these defaults."""
        return [
            Subscription(
                channel_id=ch.channel_id,
                time=ch.time if ch.time is not None else self.time,
                timezone=ch.timezone if ch.timezone is not None else self.timezone,
                top_n=ch.top_n if ch.top_n is not None else self.top_n,
                min_upvotes=ch.min_upvotes if ch.min_upvotes is not None else self.min_upvotes,
                keywords=tuple(ch.keywords if ch.keywords is not None else self.keywords),
                empty_days=ch.empty_days if ch.empty_days is not None else self.empty_days,
                source="config",
            )
            for ch in self.channels
        ]

    def default_subscription(self, channel_id: int) -> Subscription:
        """Return a Subscription for `channel_id` with every setting taken from these defaults."""
        return Subscription(
            channel_id=channel_id,
            time=self.time,
            timezone=self.timezone,
            top_n=self.top_n,
            min_upvotes=self.min_upvotes,
            keywords=tuple(self.keywords),
            empty_days=self.empty_days,
        )

    def grace_hours_for(self, channel_id: int) -> float:
        """Return the grace window for a channel: its own override from the file, else the default."""
        for ch in self.channels:
            if ch.channel_id == channel_id and ch.grace_hours is not None:
                return ch.grace_hours
        return self.grace_hours


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings`; `Settings(**kwargs)` reads no file or env."""

    model_config = SettingsConfigDict(extra="forbid", validate_assignment=True, validate_default=True)

    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)

    _config_file: Path | None = PrivateAttr(default=None)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Use keyword arguments only; `load_settings` merges the file and the environment itself."""
        return (init_settings,)

    @property
    def config_file(self) -> Path | None:
        """The TOML file these settings were read from, or None (defaults + environment only)."""
        return self._config_file

    def secrets(self) -> list[str]:
        """Return every secret value that is set, for the log redaction filter."""
        token = self.discord.token.get_secret_value()
        return [token] if token else []


# --------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------

_Loc = tuple[str | int, ...]
_SECRET_PATHS: Final[tuple[_Loc, ...]] = (("discord", "token"),)


def load_settings(
    path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the TOML file and the environment into validated Settings; raise ConfigError listing every problem.

    The file is `path`, else `$PAPERBOT_CONFIG`, else `./config.toml`. Only that last default may be
    missing (meaning "defaults + environment"); a file named explicitly must exist. `environ` defaults to
    `os.environ`; `overrides` (nested dicts, TOML-shaped) beat everything.
    """
    env = os.environ if environ is None else environ
    explicit = path is not None or bool(env.get(CONFIG_PATH_ENV, "").strip())
    if path is not None:
        config_path = Path(path)
    elif explicit:
        config_path = Path(env[CONFIG_PATH_ENV].strip())
    else:
        config_path = DEFAULT_CONFIG_PATH
    file_label = str(config_path)

    problems: list[str] = []
    file_data, loaded = _read_toml(config_path, explicit=explicit, problems=problems)
    if problems:
        raise ConfigError(problems)  # an unreadable file: checking the rest would only add noise
    env_data, env_origin = _read_env(env, problems)

    merged = _deep_merge(file_data, env_data)
    if overrides:
        merged = _deep_merge(merged, dict(overrides))
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problems.append(_describe(error, file_label, env_origin))
    if problems:
        raise ConfigError(_without_secrets(problems, merged)) from None
    settings._config_file = config_path if loaded else None
    return settings


def _without_secrets(problems: list[str], data: Mapping[str, Any]) -> list[str]:
    """Mask the token wherever a problem line quotes it (say, pasted into the wrong key)."""
    token = data.get("discord", {}).get("token") if isinstance(data.get("discord"), Mapping) else None
    if isinstance(token, SecretStr):
        token = token.get_secret_value()
    if not isinstance(token, str) or len(token.strip()) < 4:
        return problems
    return [line.replace(token.strip(), REDACTED) for line in problems]


def _read_toml(path: Path, *, explicit: bool, problems: list[str]) -> tuple[dict[str, Any], bool]:
    label = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if explicit:
            problems.append(f"{label}: config file not found")
        return {}, False
    except IsADirectoryError:
        problems.append(f"{label}: is a directory, expected a TOML file")
        return {}, False
    except OSError as exc:
        problems.append(f"{label}: cannot read config file ({exc.strerror or exc})")
        return {}, False
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"{label}: not UTF-8 text (bad byte at offset {exc.start})")
        return {}, False
    try:
        return tomllib.loads(text), True
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{label}: {_toml_error_text(exc, text)}")
        return {}, False


_TOML_POS_RE: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_EOD_RE: Final = re.compile(r"\s*\(at end of document\)$")


def _toml_error_text(exc: tomllib.TOMLDecodeError, text: str) -> str:
    """Render a TOML syntax error as 'line L, column C: invalid TOML (reason)'."""
    message = str(exc).splitlines()[0] if str(exc) else "syntax error"
    line = getattr(exc, "lineno", None)  # Python 3.14+
    column = getattr(exc, "colno", None)
    match = _TOML_POS_RE.search(message)
    if match:
        line, column = int(match[1]), int(match[2])
        message = message[: match.start()]
    elif _TOML_EOD_RE.search(message):
        message = _TOML_EOD_RE.sub("", message)
        lines = text.splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    reason = getattr(exc, "msg", None) if isinstance(getattr(exc, "msg", None), str) else message
    where = f"line {line}, column {column}: " if line is not None else ""
    return f"{where}invalid TOML ({reason or message})"


def _read_env(env: Mapping[str, str], problems: list[str]) -> tuple[dict[str, Any], dict[_Loc, str]]:
    """Turn PAPERBOT_* variables into a TOML-shaped dict; remember which variable set each key."""
    data: dict[str, Any] = {}
    origin: dict[_Loc, str] = {}
    token_vars: list[str] = []
    for name in sorted(env):
        value = env[name]
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or ENV_DELIMITER not in upper[len(ENV_PREFIX) :]:
            continue  # e.g. PAPERBOT_CONFIG: not a setting
        if not value.strip():
            continue  # an empty variable (FOO= in a compose file) means "not set"
        parts = [part.lower() for part in upper[len(ENV_PREFIX) :].split(ENV_DELIMITER)]
        resolved = _resolve_env_key(parts)
        if isinstance(resolved, str):
            problems.append(f"environment variable {name}: {resolved}")
            continue
        loc, annotation = resolved
        if loc == ("discord", "token"):
            token_vars.append(name)
        parsed = _parse_env_value(value, annotation)
        if parsed is _BAD_LIST:
            problems.append(
                f"environment variable {name}: {_dotted(loc)}: expected a JSON list like [1, 2] "
                f"or a comma-separated list"
            )
            continue
        _set_nested(data, loc, parsed)
        origin[loc] = name
    if not token_vars:
        fallback = env.get(TOKEN_FALLBACK_ENV, "")
        if fallback.strip():
            _set_nested(data, ("discord", "token"), fallback)
            origin[("discord", "token")] = TOKEN_FALLBACK_ENV
    return data, origin


def _resolve_env_key(parts: Sequence[str]) -> tuple[_Loc, Any] | str:
    """Map ['sources', 'arxiv', 'base_url'] to its location and field type, or say why it is unknown."""
    model: type[BaseModel] = Settings
    loc: list[str] = []
    for index, part in enumerate(parts):
        fields = model.model_fields
        if part not in fields:
            where = _dotted(tuple(loc)) or "settings"
            hint = _did_you_mean(part, fields)
            return f"unknown setting {part!r} in {where}{hint}"
        loc.append(part)
        annotation = fields[part].annotation
        sub = _model_in(annotation)
        if index == len(parts) - 1:
            return tuple(loc), annotation
        if sub is None:
            return f"{_dotted(tuple(loc))} has no sub-keys"
        model = sub
    return "incomplete variable name"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


_BAD_LIST: Final = object()


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _is_list(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return origin is list


def _parse_env_value(value: str, annotation: Any) -> Any:
    """Strings stay strings (pydantic converts them); list fields take JSON or a comma-separated list."""
    if not _is_list(annotation):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            return _BAD_LIST
        return parsed if isinstance(parsed, list) else _BAD_LIST
    return [item.strip() for item in text.split(",") if item.strip()]


def _set_nested(data: dict[str, Any], loc: _Loc, value: Any) -> None:
    node = data
    for key in loc[:-1]:
        node = node.setdefault(str(key), {})
    node[str(loc[-1])] = value


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _dotted(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _did_you_mean(key: str, choices: Mapping[str, Any] | Sequence[str]) -> str:
    names = sorted(choices)
    close = difflib.get_close_matches(key, names, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f" (expected one of: {', '.join(names)}){hint}"


def _model_at(loc: _Loc) -> type[BaseModel] | None:
    """The model class that owns the key at `loc` (list indexes are skipped)."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        if typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        sub = _model_in(annotation)
        if sub is None:
            return None
        model = sub
    return model


def _show(value: Any) -> str:
    """One-line, length-capped rendering of a bad value (TOML-ish: strings quoted)."""
    if isinstance(value, dt.time | dt.date):
        text = value.isoformat()
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_EXPECTED: Final[dict[str, str]] = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "path_type": "expected a file path",
    "missing": "required key is missing",
}


def _expected_text(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _range_text(error)
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}".replace("'", '"')
    return "expected " + str(error["msg"]).lower()


_RANGES: Final[dict[str, str]] = {
    "top_n": "expected an integer from 1 to 25",
    "min_upvotes": "expected an integer ≥ 0",
    "grace_hours": "expected a number of hours from 0 to 24",
    "min_interval_s": "expected a number of seconds from 0 to 600",
}


def _range_text(error: Mapping[str, Any]) -> str:
    name = error["loc"][-1]
    if name in _RANGES:
        return _RANGES[name]
    ctx = error.get("ctx") or {}
    symbols = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}
    bound = next(iter(ctx.values()), "")
    return f"expected a number {symbols[error['type']]} {_num(bound)}"


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _describe(error: Mapping[str, Any], file_label: str, env_origin: Mapping[_Loc, str]) -> str:
    """One line: '<file or env var>: <key path>: <expected>, got <value>' — never showing a secret."""
    loc: _Loc = tuple(error["loc"])
    key = _dotted(loc)
    where = file_label
    for depth in range(len(loc), 0, -1):
        if loc[:depth] in env_origin:
            where = f"environment variable {env_origin[loc[:depth]]}"
            break
    if error["type"] == "extra_forbidden":
        model = _model_at(loc)
        hint = _did_you_mean(str(loc[-1]), model.model_fields) if model is not None else ""
        return f"{where}: {key}: unknown key{hint}"
    text = f"{where}: {key}: {_expected_text(error)}"
    # Neither the token nor a table that holds it is ever echoed.
    secret = any(loc[: len(path)] == path or path[: len(loc)] == loc for path in _SECRET_PATHS)
    if error["type"] != "missing" and not secret:
        text += f", got {_show(error.get('input'))}"
    return text


# --------------------------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------------------------


def redacted(settings: Settings) -> dict[str, Any]:
    """Return the effective settings as a JSON-able, TOML-shaped dict with every secret masked."""
    data = settings.model_dump(mode="json")
    data["discord"]["token"] = REDACTED if settings.discord.token.get_secret_value() else ""
    return data
