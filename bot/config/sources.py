"""Where settings come from: pydantic-settings' own TOML and environment sources, plus what they leave out.

The library does the reading, the `__` nesting, the case-insensitive names, the empty-variable rule and the
merge. Each class here is its library source with one thing added that the library does not do:

* `TomlFile` (TomlConfigSettingsSource): an unreadable, non-UTF-8 or malformed file becomes one line naming
  the file (and line and column), instead of a raw `TOMLDecodeError`/`UnicodeDecodeError` traceback.
* `Environment` (EnvSettingsSource, prefix `PAPERBOT_`, delimiter `__`): reads a given mapping, not only
  `os.environ` (so tests pass their own); treats a variable holding only spaces as unset like an empty one
  (the library only skips ""); and names the variables whose section does not exist, which the library
  skips silently because the environment is shared with other programs.
* `DiscordTokenVariable`: `DISCORD_TOKEN`, the name every Discord host and tutorial uses, for [discord]
  token. A `validation_alias` cannot express it: the token is a nested key, and an alias would also be
  accepted as a key of the TOML file.

`resolve_config_path` is the `--config PATH` / `$PAPERBOT_CONFIG` / `./config.toml` rule; the library knows
only one fixed file name.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource, PydanticBaseSettingsSource, TomlConfigSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from bot.errors import ConfigError

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings
    from pydantic_settings.sources.types import Traversable

__all__ = [
    "CONFIG_PATH_ENV",
    "DEFAULT_CONFIG_PATH",
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "TOKEN_ENV",
    "DiscordTokenVariable",
    "Environment",
    "TomlFile",
    "resolve_config_path",
]

ENV_PREFIX: Final = "PAPERBOT_"
ENV_DELIMITER: Final = "__"
CONFIG_PATH_ENV: Final = "PAPERBOT_CONFIG"
TOKEN_ENV: Final = "DISCORD_TOKEN"
DEFAULT_CONFIG_PATH: Final = Path("config.toml")

Loc = tuple[str | int, ...]


def resolve_config_path(path: Path | str | None, environ: Mapping[str, str]) -> Path:
    """The file to read: `path`, else `$PAPERBOT_CONFIG`, else `./config.toml`.

    Only that last default may be missing (meaning "defaults + environment"); a file named explicitly must
    exist. Raises ConfigError naming the file otherwise.
    """
    named = environ.get(CONFIG_PATH_ENV, "").strip()
    if path is not None:
        chosen, explicit = Path(path), True
    elif named:
        chosen, explicit = Path(named), True
    else:
        chosen, explicit = DEFAULT_CONFIG_PATH, False
    if chosen.is_dir():
        raise ConfigError([f"{chosen}: is a directory, expected a TOML file"])
    if explicit and not chosen.exists():
        raise ConfigError([f"{chosen}: config file not found"])
    return chosen


class TomlFile(TomlConfigSettingsSource):
    """The TOML file as a pydantic-settings source; read errors become one ConfigError line each."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        self.path = path
        self.loaded = False
        super().__init__(settings_cls, toml_file=path)

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        try:
            data = super()._read_file(file_path)
        except UnicodeDecodeError as exc:
            raise ConfigError([f"{self.path}: not UTF-8 text (bad byte at offset {exc.start})"]) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{self.path}: {_toml_error_text(exc, file_path)}"]) from None
        except OSError as exc:
            raise ConfigError([f"{self.path}: cannot read config file ({exc.strerror or exc})"]) from None
        self.loaded = True
        return data


_TOML_POS_RE: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_EOD_RE: Final = re.compile(r"\s*\(at end of document\)$")


def _toml_error_text(exc: tomllib.TOMLDecodeError, file_path: Path | Traversable) -> str:
    """Render a TOML syntax error as 'line L, column C: invalid TOML (reason)'."""
    message = str(exc).splitlines()[0] if str(exc) else "syntax error"
    line: int | None = getattr(exc, "lineno", None)  # Python 3.14+
    column: int | None = getattr(exc, "colno", None)
    match = _TOML_POS_RE.search(message)
    if match:
        line, column = int(match[1]), int(match[2])
        message = message[: match.start()]
    elif _TOML_EOD_RE.search(message):
        message = _TOML_EOD_RE.sub("", message)
        lines = file_path.read_text(encoding="utf-8").splitlines() or [""]
        line, column = len(lines), len(lines[-1]) + 1
    reason = getattr(exc, "msg", None)
    where = f"line {line}, column {column}: " if line is not None else ""
    return f"{where}invalid TOML ({reason if isinstance(reason, str) else message})"


class Environment(EnvSettingsSource):
    """`PAPERBOT_<SECTION>__<KEY>` variables of a given mapping, as the library's environment source."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        # A variable holding only spaces (FOO=" " in a compose file) is unset, like an empty one.
        self.variables = {name: value for name, value in environ.items() if value.strip()}
        super().__init__(
            settings_cls,
            case_sensitive=False,
            env_prefix=ENV_PREFIX,
            env_nested_delimiter=ENV_DELIMITER,
            env_ignore_empty=True,
        )

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self.variables, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)

    def _paths(self) -> dict[str, tuple[str, ...]]:
        """Each PAPERBOT_ variable with `__` → its key path, e.g. ("sources", "arxiv", "base_url")."""
        paths = {}
        for name in self.variables:
            rest = name[len(ENV_PREFIX) :] if name.upper().startswith(ENV_PREFIX) else ""
            if ENV_DELIMITER in rest:  # PAPERBOT_CONFIG and the like are not settings
                paths[name] = tuple(part.lower() for part in rest.split(ENV_DELIMITER))
        return paths

    def unknown_sections(self) -> list[tuple[str, str]]:
        """(variable, section) for each variable whose first part names no table (the library skips them)."""
        fields = self.settings_cls.model_fields
        return [(name, path[0]) for name, path in sorted(self._paths().items()) if path[0] not in fields]

    def variable_for(self, loc: Loc) -> str | None:
        """The variable that supplied the value at `loc` (or a table around it), if one did."""
        best: tuple[int, str] | None = None
        for name, path in self._paths().items():
            depth = min(len(path), len(loc))
            if tuple(loc[:depth]) == path[:depth] and (best is None or len(path) > best[0]):
                best = (len(path), name)
        return best[1] if best else None


class DiscordTokenVariable(PydanticBaseSettingsSource):
    """`DISCORD_TOKEN` as [discord] token; ranked below PAPERBOT_DISCORD__TOKEN and above the file."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.value = environ.get(TOKEN_ENV, "")

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ answers for the one key it knows

    def __call__(self) -> dict[str, Any]:
        return {"discord": {"token": self.value}} if self.value.strip() else {}


def mapping_has(data: Mapping[str, Any], loc: Sequence[str | int]) -> bool:
    """Whether nested `data` holds a value at `loc` or at a table on the way there."""
    node: Any = data
    for part in loc:
        if not isinstance(node, Mapping):
            return True  # a value above loc: it supplied loc's table
        if part not in node:
            return False
        node = node[part]
    return True


def environ_or_os(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ
