"""docker-compose.yml, checked statically (no Docker engine runs here): read as Compose reads it — YAML with
anchors and merge keys, then `${VAR}` interpolation — and held to what `docker compose up` needs: PostgreSQL
and two shard processes on one catalogue, secrets only from the environment, health checks, restarts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import load_settings
from bot.health import DEFAULT_MAX_AGE_S, heartbeat_path

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
SHARDS = ("shard-0", "shard-1")
# What the operator puts in .env; values that look like nothing in the file, so a leak is easy to spot.
ENV = {"DISCORD_TOKEN": "token-from-dot-env", "POSTGRES_PASSWORD": "0123abcdef0123abcdef"}
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>\w+)")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?error}` (an error when unset), `$$`."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name = match["name"] or match["bare"]
        found = env.get(name)
        if match["op"] in (":?", "?") and not found:
            raise LookupError(f"{name}: {match['arg']}")
        if match["op"] in (":-", "-") and not found:
            return match["arg"]
        return found or ""

    parts = value.split("$$")  # `$$` is a literal dollar sign
    return "$".join(_VARIABLE.sub(one, part) for part in parts)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # merge keys (`<<: *paperbot`) resolved here
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    result = interpolate(raw, ENV)
    assert isinstance(result, dict)
    return result


def _shard_settings(compose: dict[str, Any], service: str, tmp_path: Path) -> Any:
    config = tmp_path / "config.toml"
    config.write_text("", encoding="utf-8")
    return load_settings(config, environ=compose["services"][service]["environment"])


def test_postgresql_and_two_shard_processes(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgres", *SHARDS}
    for name in SHARDS:
        service = compose["services"][name]
        assert service["build"] == "." and (REPO / "Dockerfile").is_file()
        assert service["image"] == compose["services"][SHARDS[0]]["image"]  # one image for every shard
        assert service["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert service["restart"] in ("unless-stopped", "always")
    assert compose["services"]["postgres"]["restart"] in ("unless-stopped", "always")


def test_each_shard_runs_its_own_ids_and_together_they_cover_all(compose: dict[str, Any]) -> None:
    held: list[int] = []
    counts = set()
    for name in SHARDS:
        command = compose["services"][name]["command"]
        assert command[:2] == ["paperbot", "run"]
        flags = dict(zip(command[2::2], command[3::2], strict=True))
        assert set(flags) == {"--shard-ids", "--shard-count"}  # the contract's spelling
        held += [int(shard) for shard in flags["--shard-ids"].split(",")]
        counts.add(int(flags["--shard-count"]))
    (count,) = counts
    assert sorted(held) == list(range(count))  # disjoint, and every shard is run by one process


def test_the_shard_commands_are_valid_paperbot_commands(compose: dict[str, Any]) -> None:
    for shard, name in enumerate(SHARDS):
        args = build_parser().parse_args(compose["services"][name]["command"][1:])
        assert (args.command, args.shard_ids, args.shard_count) == ("run", str(shard), "2")


def test_every_shard_uses_the_one_postgresql_catalogue(compose: dict[str, Any], tmp_path: Path) -> None:
    postgres = compose["services"]["postgres"]["environment"]
    urls = set()
    for name in SHARDS:
        settings = _shard_settings(compose, name, tmp_path)
        assert settings.database.backend == "postgresql"
        url = settings.database.url.get_secret_value()
        user, password, host, db = re.fullmatch(r"postgresql://(\w+):([^@]+)@(\w+):5432/(\w+)", url).groups()  # type: ignore[union-attr]
        assert (user, password, db) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
            postgres["POSTGRES_DB"],
        )
        assert host == "postgres"  # the service name is its host name on the compose network
        urls.add(url)
    assert len(urls) == 1


def test_each_shard_keeps_its_index_and_heartbeat_in_its_own_volume(
    compose: dict[str, Any], raw: dict[str, Any], tmp_path: Path
) -> None:
    volumes = []
    for name in SHARDS:
        (mount,) = compose["services"][name]["volumes"]
        volume, target = mount.split(":")
        settings = _shard_settings(compose, name, tmp_path)
        for path in (settings.search_index_dir(), heartbeat_path(settings)):
            assert path.is_absolute() and path.is_relative_to(target)  # persisted, and not shared
        volumes.append(volume)
    assert len(set(volumes)) == len(SHARDS)
    (pg_mount,) = compose["services"]["postgres"]["volumes"]
    assert pg_mount == "postgres-data:/var/lib/postgresql/data"
    assert set(raw["volumes"]) == {*volumes, "postgres-data"}  # named volumes, declared


def test_secrets_come_from_the_environment_only(raw: dict[str, Any], compose: dict[str, Any]) -> None:
    # Nothing secret is written in the file: the token and the password are interpolated, and required.
    for name in SHARDS:
        env = raw["services"][name]["environment"]
        assert env["DISCORD_TOKEN"].startswith("${DISCORD_TOKEN:?")
        assert "${POSTGRES_PASSWORD:?" in env["PAPERBOT_DATABASE__URL"]
    assert raw["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for service in raw["services"].values():  # any other secret-looking value is interpolated too
        for key, value in service.get("environment", {}).items():
            if re.search(r"(?i)password|token|secret", key):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", str(value)), f"{key} is written in the file"
    # Without .env, `docker compose up` stops with the variable's message instead of starting without them.
    for missing in ENV:
        with pytest.raises(LookupError, match=missing):
            interpolate(raw, {k: v for k, v in ENV.items() if k != missing})
    # .env is neither committed nor sent to the image build.
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ENV["POSTGRES_PASSWORD"] in compose["services"]["shard-0"]["environment"]["PAPERBOT_DATABASE__URL"]


def test_secrets_are_redacted_by_the_shards_config(compose: dict[str, Any], tmp_path: Path) -> None:
    settings = _shard_settings(compose, "shard-0", tmp_path)
    assert settings.discord.token.get_secret_value() == ENV["DISCORD_TOKEN"]
    assert set(settings.secrets()) >= {ENV["DISCORD_TOKEN"], ENV["POSTGRES_PASSWORD"]}  # masked in every log line


def test_health_checks(compose: dict[str, Any]) -> None:
    for name in SHARDS:
        check = compose["services"][name]["healthcheck"]
        assert check["test"] == ["CMD", "paperbot", "health"]
        assert build_parser().parse_args(["health"]).command == "health"
        seconds = {key: int(str(check[key]).removesuffix("s")) for key in ("interval", "timeout", "start_period")}
        assert seconds["timeout"] < seconds["interval"] <= DEFAULT_MAX_AGE_S
        assert seconds["start_period"] >= 60 and check["retries"] >= 2
        assert int(compose["services"][name]["stop_grace_period"].removesuffix("s")) >= 10
    pg = compose["services"]["postgres"]["healthcheck"]
    assert pg["test"][:2] == ["CMD", "pg_isready"]
    assert "paperbot" in pg["test"]


def test_postgres_image_is_pinned_to_a_major_version(compose: dict[str, Any]) -> None:
    image = compose["services"]["postgres"]["image"]
    assert re.fullmatch(r"postgres:\d+(\.\d+)?(-\w+)?", image), (
        image
    )  # never `latest`: a major upgrade needs pg_upgrade


def test_interpolation_reads_like_compose() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("x${A}y$A", env) == "x1y1"
    assert interpolate("${B:-dflt}|${EMPTY:-e}|$$A", env) == "dflt|e|$A"
    with pytest.raises(LookupError, match="B: say so"):
        interpolate("${B:?say so}", env)
