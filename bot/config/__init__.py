"""Typed settings: one TOML file overridden by the environment, validated once and passed down.

Precedence, highest first: overrides given to `load_settings` > environment > TOML file > defaults.
Environment variables are `PAPERBOT_<SECTION>__<KEY>` (nested tables add more `__` parts, e.g.
`PAPERBOT_SOURCES__HUGGINGFACE__BASE_URL`); the token may also come from the conventional `DISCORD_TOKEN`.

pydantic-settings reads, nests and merges the sources (`TomlConfigSettingsSource`, `EnvSettingsSource`);
what it cannot do is kept small and in one place each:

* `sections`  the tables and `Settings` (pydantic models; unknown keys are errors);
* `values`    the value types and their checks (times, zones, URLs, ids, the PostgreSQL URL, ...);
* `cron`      `[ingest] cron`, checked by APScheduler's own crontab parser;
* `sources`   the library's sources plus what it leaves out: `--config`/`$PAPERBOT_CONFIG` resolution, one-line
              TOML read errors, variables naming no table, whitespace-only variables as unset, DISCORD_TOKEN;
* `problems`  validation errors as one line naming the file or variable and the key ("did you mean"),
              never echoing a secret — pydantic knows the key but not the source, and writes for programmers;
* `loading`   `load_settings` and `redacted`.
"""

from __future__ import annotations

from bot.config.cron import validate_cron
from bot.config.loading import load_settings, redacted
from bot.config.sections import (
    ArxivSettings,
    DatabaseSettings,
    DigestChannelSettings,
    DigestSettings,
    DiscordSettings,
    FollowsSettings,
    HuggingFaceSettings,
    IngestSettings,
    LogSettings,
    MetricsSettings,
    RolePingSettings,
    SearchSettings,
    Settings,
    SourcesSettings,
)
from bot.config.sources import CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH, ENV_PREFIX, TOKEN_ENV
from bot.config.values import REDACTED, url_without_password

__all__ = [
    "CONFIG_PATH_ENV",
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "REDACTED",
    "TOKEN_ENV",
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
    "load_settings",
    "redacted",
    "url_without_password",
    "validate_cron",
]
