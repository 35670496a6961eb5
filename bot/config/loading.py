"""`load_settings`: the file and the environment, merged by pydantic-settings, validated once, explained.

Precedence, highest first: keyword overrides (command-line flags) > `PAPERBOT_*` variables > `DISCORD_TOKEN`
> the TOML file > defaults. The sources are the library's (see `bot.config.sources`); they are handed to
`Settings` through its `_build_sources` argument, so the library reads and merges them while `Settings()`
alone still reads nothing. Every problem, from any source, is collected and raised as one ConfigError with
one line each.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import InitSettingsSource

from bot.config.problems import Loc, describe_errors, unknown_key
from bot.config.sections import Settings
from bot.config.sources import (
    TOKEN_ENV,
    DiscordTokenVariable,
    Environment,
    TomlFile,
    environ_or_os,
    mapping_has,
    resolve_config_path,
)
from bot.config.values import REDACTED, url_password, url_without_password
from bot.errors import ConfigError

__all__ = ["load_settings", "redacted"]


def load_settings(
    path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the TOML file and the environment into validated Settings; raise ConfigError listing every problem.

    The file is `path`, else `$PAPERBOT_CONFIG`, else `./config.toml` (which alone may be missing).
    `environ` defaults to `os.environ`; `overrides` (nested dicts, TOML-shaped) beat everything.
    """
    env = environ_or_os(environ)
    config_path = resolve_config_path(path, env)
    toml = TomlFile(Settings, config_path)
    environment = Environment(Settings, env)
    token = DiscordTokenVariable(Settings, env)
    given = dict(overrides or {})
    flags = InitSettingsSource(Settings, given)

    problems = [
        unknown_key(f"environment variable {name}", (section,), Settings.model_fields)
        for name, section in environment.unknown_sections()
    ]

    def origin(loc: Loc) -> str:
        if mapping_has(given, loc):
            return "command-line option"
        variable = environment.variable_for(loc)
        if variable is not None:
            return f"environment variable {variable}"
        if loc[:2] == ("discord", "token") and token():
            return f"environment variable {TOKEN_ENV}"
        return str(config_path)

    try:
        # `_build_sources` is BaseSettings.__init__'s parameter for ready-made sources; mypy sees only the
        # fields pydantic's dataclass transform declares.
        settings = Settings(_build_sources=((flags, environment, token, toml), {}))  # type: ignore[call-arg]
    except ValidationError as exc:
        candidates = [flags(), environment(), token(), toml()]
        problems += describe_errors(exc, Settings, origin, _secret_values(candidates))
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    settings._config_file = config_path if toml.loaded else None
    return settings


def _secret_values(sources: list[dict[str, Any]]) -> list[str]:
    """The token and database password as each source wrote them, valid or not, to mask in problem lines."""
    found: list[str] = []
    for data in sources:
        for section, key in (("discord", "token"), ("database", "url")):
            table = data.get(section)
            value = table.get(key) if isinstance(table, Mapping) else None
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, str):
                found.append(url_password(value) if key == "url" else value)
    return found


def redacted(settings: Settings) -> dict[str, Any]:
    """The effective settings as a JSON-able, TOML-shaped dict, every secret masked, unset keys left out."""
    data = settings.model_dump(mode="json", exclude_none=True)
    data["discord"]["token"] = REDACTED if settings.discord.token.get_secret_value() else ""
    data["database"]["url"] = url_without_password(settings.database.url.get_secret_value())
    return data
