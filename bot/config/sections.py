"""The settings model: one class per TOML table, and `Settings`, the whole file.

Every table forbids unknown keys (a typo is an error, never silently ignored) and re-validates assignments.
`Settings(...)` itself reads nothing but its keyword arguments, so building one in a test never picks up
the developer's environment or ./config.toml; `bot.config.loading.load_settings` hands it the file and the
environment as pydantic-settings sources.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_serializer,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config.values import (
    WEEKDAYS,
    CadenceName,
    Cron,
    DatabaseUrl,
    GraceHours,
    Keywords,
    ListenAddress,
    LocalTime,
    LogLevelName,
    MinUpvotes,
    NonNegativeInt,
    NonNegativeNumber,
    PingKeywords,
    SearchModeName,
    ShardIds,
    Snowflake,
    SnowflakeList,
    TableList,
    TimeZoneName,
    Token,
    TopN,
    Url,
    Weekday,
    split_listen_address,
    url_password,
)
from bot.models import EmptyDays, RolePing, Subscription

__all__ = [
    "DEFAULT_DISCORD_API",
    "ArxivSettings",
    "DatabaseSettings",
    "DigestChannelSettings",
    "DigestSettings",
    "DiscordSettings",
    "FollowsSettings",
    "HuggingFaceSettings",
    "IngestSettings",
    "LogSettings",
    "MetricsSettings",
    "RolePingSettings",
    "SearchSettings",
    "Settings",
    "SourcesSettings",
]

DEFAULT_DISCORD_API = "https://discord.com/api/v10"
# With PostgreSQL there is no database file to put the local search index beside.
POSTGRES_INDEX_DIR = Path("data/search-index")


class _Section(BaseModel):
    """A TOML table: unknown keys are errors, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


def _hhmm(value: dt.time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


class DiscordSettings(_Section):
    """[discord]: how to reach Discord, which shards this process runs, and the per-member command budget."""

    token: Token = SecretStr("")
    api_base_url: Url = DEFAULT_DISCORD_API
    guild_ids: SnowflakeList = Field(default_factory=list)
    # Total shards over all processes (0: a single process, Discord's recommended count).
    shard_count: NonNegativeInt = 0
    # The shards this process runs (empty: all of them); each must be below shard_count when that is set.
    shard_ids: ShardIds = Field(default_factory=list)
    # Slash commands that do real work (a search, a fetch) one member may run per member_window_s; 0: no limit.
    member_commands: NonNegativeInt = 5
    member_window_s: NonNegativeNumber = Field(default=20.0, gt=0)

    @field_validator("shard_ids")
    @classmethod
    def _below_shard_count(cls, shard_ids: list[int], info: ValidationInfo) -> list[int]:
        count = info.data.get("shard_count")
        if isinstance(count, int) and count > 0 and any(shard >= count for shard in shard_ids):
            raise ValueError(f"expected shard ids from 0 to {count - 1}, below shard_count ({count})")
        return shard_ids

    @property
    def default_api(self) -> bool:
        """Whether api_base_url is Discord's own (then discord.py's gateway default is left alone)."""
        return self.api_base_url == DEFAULT_DISCORD_API


class DatabaseSettings(_Section):
    """[database]: the SQLite file (relative to the working directory), or a PostgreSQL URL instead."""

    path: Path = Path("data/papers.db")
    # "postgresql://user:password@host:5432/paperbot": when set, the catalogue is there and `path` is ignored.
    url: DatabaseUrl = SecretStr("")

    @field_validator("path", mode="before")
    @classmethod
    def _expand(cls, value: Any) -> Any:
        if isinstance(value, str | Path) and str(value).strip():
            return Path(str(value).strip()).expanduser()
        raise ValueError('expected a file path like "data/papers.db"')

    @property
    def backend(self) -> str:
        """The catalogue backend: "postgresql" when a URL is set, else "sqlite"."""
        return "postgresql" if self.url.get_secret_value() else "sqlite"

    def secrets(self) -> list[str]:
        """The URL's password, as written and percent-decoded (a driver's error may quote either)."""
        written = url_password(self.url.get_secret_value())
        return [form for form in dict.fromkeys((written, urllib.parse.unquote(written))) if form]


class HuggingFaceSettings(_Section):
    """[sources.huggingface]."""

    enabled: bool = True
    base_url: Url = "https://huggingface.co"
    # Seconds between two requests (at most 600). Hugging Face allows about 500 requests per 5 minutes
    # unauthenticated; 1 s keeps a long backfill well under that.
    min_interval_s: Annotated[NonNegativeNumber, Field(le=600)] = 1.0


class ArxivSettings(_Section):
    """[sources.arxiv]."""

    enabled: bool = True
    base_url: Url = "https://export.arxiv.org"
    # Seconds between two requests (at most 600); arXiv asks clients for one request every 3 seconds.
    min_interval_s: Annotated[NonNegativeNumber, Field(le=600)] = 3.0


class SourcesSettings(_Section):
    """[sources]: one table per upstream."""

    huggingface: HuggingFaceSettings = Field(default_factory=HuggingFaceSettings)
    arxiv: ArxivSettings = Field(default_factory=ArxivSettings)


class IngestSettings(_Section):
    """[ingest]: when the scheduler refreshes today's and yesterday's lists (a UTC crontab)."""

    cron: Cron = "*/30 * * * *"


class LogSettings(_Section):
    """[log]."""

    level: LogLevelName = "INFO"


class MetricsSettings(_Section):
    """[metrics]: where to serve Prometheus metrics at /metrics; empty: not at all."""

    listen: ListenAddress = ""

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to bind, or None when metrics are off. Port 0 lets the OS pick a free port."""
        return split_listen_address(self.listen) if self.listen else None


class SearchSettings(_Section):
    """[search]: how /paper search ranks, the embedding model, and the local search index folder."""

    mode: SearchModeName = "hybrid"
    # Empty: the model that installs with paperbot (works offline); else a local folder or a model name.
    model: str = ""
    # Empty: see Settings.search_index_dir().
    index_dir: str = ""

    @field_validator("model", "index_dir", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class FollowsSettings(_Section):
    """[follows]: when members' daily follow DMs go out."""

    time: LocalTime = dt.time(8, 0)  # UTC

    @field_serializer("time")
    def _dump_time(self, value: dt.time) -> str | None:
        return _hhmm(value)


class RolePingSettings(_Section):
    """One entry of a channel's `pings`: mention `role_id` when a paper in the post matches a keyword."""

    role_id: Snowflake
    keywords: PingKeywords

    def to_model(self) -> RolePing:
        return RolePing(role_id=self.role_id, keywords=tuple(self.keywords))


class DigestChannelSettings(_Section):
    """One [[digest.channels]] table: a channel id, its role pings, plus any [digest] key to override."""

    channel_id: Snowflake
    time: LocalTime | None = None
    timezone: TimeZoneName | None = None
    top_n: TopN | None = None
    min_upvotes: MinUpvotes | None = None
    keywords: Keywords | None = None
    empty_days: EmptyDays | None = None
    grace_hours: GraceHours | None = None
    thread: bool | None = None
    update_after_hours: NonNegativeNumber | None = None
    cadence: CadenceName | None = None
    weekday: Weekday | None = None
    # Roles belong to one guild, so pings are set per channel only (no [digest] default).
    pings: TableList[RolePingSettings] = Field(default_factory=list)

    @field_serializer("time")
    def _dump_time(self, value: dt.time | None) -> str | None:
        return _hhmm(value)

    @field_validator("pings")
    @classmethod
    def _one_entry_per_role(cls, pings: list[RolePingSettings]) -> list[RolePingSettings]:
        _refuse_duplicates("role_id", "pings", [ping.role_id for ping in pings])
        return pings


def _refuse_duplicates(key: str, table: str, values: list[int]) -> None:
    seen: dict[int, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise ValueError(f"expected each {key} once, but {value} is in {table}[{seen[value]}] and {table}[{index}]")
        seen[value] = index


class DigestSettings(_Section):
    """[digest]: defaults for every subscription, plus the channels subscribed in the file."""

    time: LocalTime = dt.time(9, 0)
    timezone: TimeZoneName = "UTC"
    top_n: TopN = 10
    min_upvotes: MinUpvotes = 0
    empty_days: EmptyDays = "note"
    grace_hours: GraceHours = 6.0
    keywords: Keywords = Field(default_factory=list)
    # Open a discussion thread on each post.
    thread: bool = False
    # > 0: edit each post once, that many hours later, with settled upvotes; 0: never edit.
    update_after_hours: NonNegativeNumber = 0.0
    # "weekly": one post a week, on `weekday`, listing the week's best.
    cadence: CadenceName = "daily"
    weekday: Weekday = "monday"
    channels: TableList[DigestChannelSettings] = Field(default_factory=list)

    @field_serializer("time")
    def _dump_time(self, value: dt.time) -> str | None:
        return _hhmm(value)

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, channels: list[DigestChannelSettings]) -> list[DigestChannelSettings]:
        _refuse_duplicates("channel_id", "channels", [channel.channel_id for channel in channels])
        return channels

    def subscriptions(self) -> list[Subscription]:
        """Return the file's channels as Subscriptions, each unset key taken from these defaults."""
        return [self._subscription(channel) for channel in self.channels]

    def default_subscription(self, channel_id: int) -> Subscription:
        """Return a Subscription for `channel_id` with every setting taken from these defaults."""
        # Not validated: callers pass 0 for "no channel" (a dry run of the defaults).
        return self._subscription(DigestChannelSettings.model_construct(channel_id=channel_id), source="db")

    def _subscription(self, ch: DigestChannelSettings, source: Literal["config", "db"] = "config") -> Subscription:
        def pick(name: str) -> Any:
            own = getattr(ch, name)
            return own if own is not None else getattr(self, name)

        return Subscription(
            channel_id=ch.channel_id,
            time=pick("time"),
            timezone=pick("timezone"),
            top_n=pick("top_n"),
            min_upvotes=pick("min_upvotes"),
            keywords=tuple(pick("keywords")),
            empty_days=pick("empty_days"),
            source=source,
            thread=pick("thread"),
            pings=tuple(ping.to_model() for ping in ch.pings),
            update_after_hours=float(pick("update_after_hours")),
            cadence=pick("cadence"),
            weekday=WEEKDAYS.index(pick("weekday")),
        )

    def grace_hours_for(self, channel_id: int) -> float:
        """Return the grace window for a channel: its own override from the file, else the default."""
        for ch in self.channels:
            if ch.channel_id == channel_id and ch.grace_hours is not None:
                return ch.grace_hours
        return self.grace_hours


class Settings(BaseSettings):
    """The whole configuration. Build it with `load_settings`; `Settings(**kwargs)` reads no file or env."""

    model_config = SettingsConfigDict(
        extra="forbid",
        validate_assignment=True,
        validate_default=True,
        # Environment values reach the validators as text: a malformed JSON list is then a validation
        # error naming its key and variable (the library's own JSON decoding raises an error naming neither).
        enable_decoding=False,
    )

    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    follows: FollowsSettings = Field(default_factory=FollowsSettings)
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
        """`Settings(...)` uses its keyword arguments only; `load_settings` passes the file and env sources."""
        return (init_settings,)

    @property
    def config_file(self) -> Path | None:
        """The TOML file these settings were read from, or None (defaults + environment only)."""
        return self._config_file

    def secrets(self) -> list[str]:
        """Every secret value that is set (the token, the database password), for the log redaction filter."""
        token = self.discord.token.get_secret_value()
        return ([token] if token else []) + self.database.secrets()

    def search_index_dir(self) -> Path:
        """The local search index folder: [search] index_dir, else "<path>.index" beside the SQLite file,
        else (PostgreSQL, no local file) "data/search-index"."""
        if self.search.index_dir:
            return Path(self.search.index_dir).expanduser()
        if self.database.backend == "postgresql":
            return POSTGRES_INDEX_DIR
        return self.database.path.with_name(self.database.path.name + ".index")
