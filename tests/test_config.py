"""Configuration: file < environment < overrides, the token's sources, and one clear line per bad value."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.config import (
    REDACTED,
    DigestChannelSettings,
    RolePingSettings,
    Settings,
    load_settings,
    redacted,
    validate_cron,
)
from bot.digest.schedule import Scheduler
from bot.errors import ConfigError
from bot.models import RolePing, Subscription

REPO = Path(__file__).resolve().parent.parent
TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.secret-token-value_0123456789abcdefghijk"


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path | None, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=environ or {})
    assert info.value.problems, "ConfigError without problems"
    for line in info.value.problems:
        assert "\n" not in line
    return info.value.problems


# ------------------------------------------------------------------------------------------ file location


def test_no_file_means_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.config_file is None
    assert settings == Settings()
    assert settings.database.path == Path("data/papers.db")
    assert settings.discord.token.get_secret_value() == ""
    assert settings.discord.api_base_url == "https://discord.com/api/v10"
    assert settings.discord.guild_ids == []
    assert settings.sources.huggingface.enabled and settings.sources.arxiv.enabled
    assert settings.sources.huggingface.base_url == "https://huggingface.co"
    assert settings.sources.arxiv.base_url == "https://export.arxiv.org"
    assert settings.sources.arxiv.min_interval_s == 3.0
    assert settings.ingest.cron == "*/30 * * * *"
    assert settings.log.level == "INFO"
    digest = settings.digest
    assert (digest.time, digest.timezone, digest.top_n, digest.min_upvotes) == (dt.time(9, 0), "UTC", 10, 0)
    assert (digest.empty_days, digest.grace_hours, digest.keywords, digest.channels) == ("note", 6.0, [], [])


def test_default_file_in_working_directory_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "[digest]\ntop_n = 3\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.digest.top_n == 3
    assert settings.config_file == Path("config.toml")


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert problems_of(missing) == [f"{missing}: config file not found"]


def test_paperbot_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "[log]\nlevel = 'debug'\n", name="elsewhere.toml")
    assert load_settings(environ={"PAPERBOT_CONFIG": str(path)}).log.level == "DEBUG"
    # A file named by the variable was asked for explicitly: its absence is an error, not a silent default.
    missing = tmp_path / "missing.toml"
    assert problems_of(None, {"PAPERBOT_CONFIG": str(missing)}) == [f"{missing}: config file not found"]


def test_explicit_path_beats_paperbot_config(tmp_path: Path) -> None:
    chosen = write(tmp_path, "[digest]\ntop_n = 4\n", name="a.toml")
    other = write(tmp_path, "[digest]\ntop_n = 5\n", name="b.toml")
    assert load_settings(chosen, environ={"PAPERBOT_CONFIG": str(other)}).digest.top_n == 4


def test_directory_and_non_utf8_files_are_one_line_errors(tmp_path: Path) -> None:
    assert problems_of(tmp_path) == [f"{tmp_path}: is a directory, expected a TOML file"]
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[digest]\ntimezone = "Europe/Z\xfcrich"\n')
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: not UTF-8 text")


def test_toml_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[discord]\napi_base_url = "https://x.org"\nguild_ids = [1, 2\n')
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: line 3, column ")
    assert "invalid TOML" in line
    path = write(tmp_path, "[log]\nlevel = \n")
    assert problems_of(path) == [f"{path}: line 2, column 9: invalid TOML (Invalid value)"]


# ------------------------------------------------------------------------------------------ precedence


FILE = """
[discord]
token = "from-file-token"
guild_ids = [111]

[database]
path = "file.db"

[sources.huggingface]
base_url = "https://hf.file.example"

[digest]
top_n = 7
timezone = "Europe/Berlin"
"""


def test_file_values_are_used(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FILE), environ={})
    assert settings.discord.token.get_secret_value() == "from-file-token"
    assert settings.discord.guild_ids == [111]
    assert settings.database.path == Path("file.db")
    assert settings.sources.huggingface.base_url == "https://hf.file.example"
    assert (settings.digest.top_n, settings.digest.timezone) == (7, "Europe/Berlin")


def test_environment_beats_file(tmp_path: Path) -> None:
    env = {
        "PAPERBOT_DATABASE__PATH": "/data/env.db",
        "PAPERBOT_SOURCES__HUGGINGFACE__BASE_URL": "http://127.0.0.1:8080/",
        "PAPERBOT_DIGEST__TOP_N": "12",
        "PAPERBOT_SOURCES__ARXIV__ENABLED": "false",
        "PAPERBOT_LOG__LEVEL": "warning",
    }
    settings = load_settings(write(tmp_path, FILE), environ=env)
    assert settings.database.path == Path("/data/env.db")
    assert settings.sources.huggingface.base_url == "http://127.0.0.1:8080"
    assert settings.digest.top_n == 12
    assert settings.digest.timezone == "Europe/Berlin"  # untouched keys of the same table keep the file's
    assert settings.sources.arxiv.enabled is False
    assert settings.log.level == "WARNING"


def test_overrides_beat_environment(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, FILE),
        environ={"PAPERBOT_DIGEST__TOP_N": "12"},
        overrides={"digest": {"top_n": 2}, "database": {"path": tmp_path / "o.db"}},
    )
    assert settings.digest.top_n == 2
    assert settings.database.path == tmp_path / "o.db"
    assert settings.digest.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("[1, 2]", [1, 2]), ("1,2", [1, 2]), (" 3 , 4 ,", [3, 4]), ("[]", []), ('["5"]', [5])],
)
def test_guild_ids_from_environment(tmp_path: Path, value: str, expected: list[int]) -> None:
    settings = load_settings(write(tmp_path, FILE), environ={"PAPERBOT_DISCORD__GUILD_IDS": value})
    assert settings.discord.guild_ids == expected


def test_keywords_from_environment(tmp_path: Path) -> None:
    env = {"PAPERBOT_DIGEST__KEYWORDS": "diffusion, large language models"}
    assert load_settings(None, environ=env).digest.keywords == ["diffusion", "large language models"]


def test_environment_names_are_case_insensitive(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, ""), environ={"paperbot_digest__top_n": "3"})
    assert settings.digest.top_n == 3


def test_empty_environment_variable_means_unset(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, FILE), environ={"PAPERBOT_DIGEST__TOP_N": "", "PAPERBOT_DISCORD__TOKEN": " "}
    )
    assert settings.digest.top_n == 7
    assert settings.discord.token.get_secret_value() == "from-file-token"


def test_settings_constructor_reads_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DISCORD_TOKEN", TOKEN)
    monkeypatch.setenv("PAPERBOT_DIGEST__TOP_N", "3")
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[digest]\ntop_n = 4\n")
    settings = Settings()
    assert settings.discord.token.get_secret_value() == ""
    assert settings.digest.top_n == 10


def test_load_settings_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PAPERBOT_DIGEST__TOP_N", "3")
    monkeypatch.delenv("PAPERBOT_CONFIG", raising=False)
    assert load_settings().digest.top_n == 3


def test_importing_config_reads_nothing(tmp_path: Path) -> None:
    broken = write(tmp_path, "this is [not toml")
    env = {**os.environ, "PAPERBOT_CONFIG": str(broken), "PAPERBOT_DIGEST__TOP_N": "oops"}
    result = subprocess.run(
        [sys.executable, "-c", "import bot.config, bot.log; print('ok')"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, "ok", "")


# ------------------------------------------------------------------------------------------ the token


def test_discord_token_env_beats_file(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FILE), environ={"DISCORD_TOKEN": TOKEN})
    assert settings.discord.token.get_secret_value() == TOKEN


def test_paperbot_token_env_beats_discord_token(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "the-fallback-token", "PAPERBOT_DISCORD__TOKEN": TOKEN}
    assert load_settings(write(tmp_path, FILE), environ=env).discord.token.get_secret_value() == TOKEN


def test_token_whitespace_is_stripped(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"DISCORD_TOKEN": f"  {TOKEN}\n", "PAPERBOT_CONFIG": ""})
    assert settings.discord.token.get_secret_value() == TOKEN
    assert settings.secrets() == [TOKEN]
    assert Settings().secrets() == []


def test_token_never_in_repr_str_or_dump(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FILE), environ={"DISCORD_TOKEN": TOKEN})
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.discord)):
        assert TOKEN not in text
    assert TOKEN not in json.dumps(redacted(settings))


def test_redacted_masks_token_and_is_json(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, FILE), environ={"DISCORD_TOKEN": TOKEN})
    view = redacted(settings)
    assert view["discord"]["token"] == REDACTED == "**********"
    assert TOKEN not in json.dumps(view)
    assert view["digest"]["time"] == "09:00"
    assert view["database"]["path"] == "file.db"
    assert set(view) == {"discord", "database", "sources", "ingest", "log", "metrics", "search", "follows", "digest"}
    assert redacted(Settings())["discord"]["token"] == ""


def test_bad_token_value_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, "[discord]\ntoken = 12345678901234567890\n")
    assert problems_of(path) == [f"{path}: discord.token: expected a string"]


def test_misspelt_token_key_does_not_echo_its_value(tmp_path: Path) -> None:
    path = write(tmp_path, f'[discord]\ntokn = "{TOKEN}"\n')
    (line,) = problems_of(path)
    assert TOKEN not in line
    assert line == (
        f"{path}: discord.tokn: unknown key (expected one of: api_base_url, guild_ids, member_commands, "
        'member_window_s, shard_count, shard_ids, token); did you mean "token"?'
    )


# ------------------------------------------------------------------------------------------ unknown keys


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[discrod]\n", "discrod"),
        ("top_n = 3\n", "top_n"),
        ("[discord]\nguilds = [1]\n", "discord.guilds"),
        ("[database]\nfile = 'x.db'\n", "database.file"),
        ("[sources.hugingface]\n", "sources.hugingface"),
        ("[sources.arxiv]\nmin_interval = 1\n", "sources.arxiv.min_interval"),
        ("[sources.huggingface]\nurl = 'https://x.org'\n", "sources.huggingface.url"),
        ("[ingest]\nschedule = '* * * * *'\n", "ingest.schedule"),
        ("[log]\nlevell = 'INFO'\n", "log.levell"),
        ("[digest]\ntopn = 3\n", "digest.topn"),
        (
            "[[digest.channels]]\nchannel_id = 1\n[[digest.channels]]\nchannel_id = 2\ntopn = 3\n",
            "digest.channels[1].topn",
        ),
        ("[[digest.channel]]\nchannel_id = 1\n", "digest.channel"),
    ],
)
def test_unknown_key_is_an_error_naming_it(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    (line,) = problems_of(path)
    assert line.startswith(f"{path}: {key}: unknown key (expected one of: ")


def test_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    path = write(tmp_path, "[[digest.channels]]\nchannel_id = 1\ntopn = 3\n")
    assert problems_of(path) == [
        f"{path}: digest.channels[0].topn: unknown key (expected one of: cadence, channel_id, empty_days, "
        "grace_hours, keywords, min_upvotes, pings, thread, time, timezone, top_n, update_after_hours, weekday); "
        'did you mean "top_n"?'
    ]


def test_unknown_paperbot_variable_names_it(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, ""), {"PAPERBOT_DIGEST__TOPN": "3", "PAPERBOT_CONFIGX": "ignored"})
    assert problems == [
        "environment variable PAPERBOT_DIGEST__TOPN: digest.topn: unknown key (expected one of: cadence, "
        "channels, empty_days, grace_hours, keywords, min_upvotes, thread, time, timezone, top_n, "
        'update_after_hours, weekday); did you mean "top_n"?'
    ]


def test_variable_naming_no_section_is_an_error(tmp_path: Path) -> None:
    """pydantic-settings skips variables that match no field (the environment is shared); we name them."""
    problems = problems_of(write(tmp_path, ""), {"PAPERBOT_DISCROD__TOKEN": TOKEN, "PAPERBOT_LOGLEVEL": "x"})
    (line,) = problems
    assert line.startswith("environment variable PAPERBOT_DISCROD__TOKEN: discrod: unknown key (expected one of: ")
    assert line.endswith('did you mean "discord"?')
    assert TOKEN not in line


def test_variable_below_a_leaf_is_an_error(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, ""), {"PAPERBOT_LOG__LEVEL__X": "3"})
    assert problems == [
        'environment variable PAPERBOT_LOG__LEVEL__X: log.level: expected one of "DEBUG", "INFO", "WARNING", '
        '"ERROR", got {"x": "3"}'
    ]


# ------------------------------------------------------------------------------------------ bad values

BAD_VALUES = [
    ('[digest]\ntime = "25:00"', 'digest.time: expected a time as "HH:MM" (24-hour clock), like "09:00", got "25:00"'),
    ('[digest]\ntime = "9am"', 'digest.time: expected a time as "HH:MM" (24-hour clock), like "09:00", got "9am"'),
    (
        "[digest]\ntime = 09:00:30",
        'digest.time: expected a local time as "HH:MM" (no seconds, no offset), got 09:00:30',
    ),
    (
        '[digest]\ntimezone = "Mars/Olympus"',
        'digest.timezone: expected an IANA timezone name like "Europe/Berlin", got "Mars/Olympus"',
    ),
    (
        '[digest]\ntimezone = "../../etc/passwd"',
        'digest.timezone: expected an IANA timezone name like "Europe/Berlin", got "../../etc/passwd"',
    ),
    ('[digest]\nempty_days = "never"', 'digest.empty_days: expected one of "skip", "note" or "week", got "never"'),
    ("[digest]\ntop_n = 0", "digest.top_n: expected an integer from 1 to 25, got 0"),
    ("[digest]\ntop_n = 26", "digest.top_n: expected an integer from 1 to 25, got 26"),
    ('[digest]\ntop_n = "ten"', 'digest.top_n: expected an integer, got "ten"'),
    ("[digest]\ntop_n = 2.5", "digest.top_n: expected a whole number, got 2.5"),
    ("[digest]\ntop_n = true", "digest.top_n: expected a number, not true/false, got true"),
    ("[digest]\nmin_upvotes = -1", "digest.min_upvotes: expected an integer ≥ 0, got -1"),
    ("[digest]\ngrace_hours = 25", "digest.grace_hours: expected a number of hours from 0 to 24, got 25"),
    ("[digest]\ngrace_hours = -0.5", "digest.grace_hours: expected a number of hours from 0 to 24, got -0.5"),
    ("[digest]\ngrace_hours = nan", "digest.grace_hours: expected a number of hours from 0 to 24, got NaN"),
    ("[digest]\nkeywords = 5", 'digest.keywords: expected a list of strings like ["diffusion", "agents"], got 5'),
    (
        '[digest]\nkeywords = ["ai", 5]',
        'digest.keywords: expected a list of strings like ["diffusion", "agents"], got ["ai", 5]',
    ),
    ('[log]\nlevel = "verbose"', 'log.level: expected one of "DEBUG", "INFO", "WARNING", "ERROR", got "verbose"'),
    (
        '[discord]\napi_base_url = "ftp://discord.com"',
        'discord.api_base_url: expected an http(s) URL like "https://example.org", got "ftp://discord.com"',
    ),
    (
        '[sources.huggingface]\nbase_url = "huggingface.co"',
        'sources.huggingface.base_url: expected an http(s) URL like "https://example.org", got "huggingface.co"',
    ),
    (
        "[sources.arxiv]\nmin_interval_s = -1",
        "sources.arxiv.min_interval_s: expected a number of seconds from 0 to 600, got -1",
    ),
    ('[sources.arxiv]\nenabled = "sometimes"', 'sources.arxiv.enabled: expected true or false, got "sometimes"'),
    (
        '[ingest]\ncron = "0 24 * * *"',
        "ingest.cron: expected a 5-field UTC crontab like \"*/30 * * * *\" (Error validating expression '24': "
        'the last value (24) is higher than the maximum value (23)), got "0 24 * * *"',
    ),
    (
        '[ingest]\ncron = "@hourly"',
        'ingest.cron: expected a 5-field UTC crontab like "*/30 * * * *" (Wrong number of fields; got 1, '
        'expected 5), got "@hourly"',
    ),
    (
        '[ingest]\ncron = "0 9 * * 1-5"',
        'ingest.cron: expected a 5-field UTC crontab like "*/30 * * * *" (write the day of week as names, like '
        "mon-fri or sat,sun: crontab counts 0 as Sunday, the scheduler (APScheduler 3) as Monday), "
        'got "0 9 * * 1-5"',
    ),
    (
        "[discord]\nguild_ids = [0]",
        "discord.guild_ids[0]: expected a Discord id (a positive integer like 123456789012345678), got 0",
    ),
    (
        "[discord]\nguild_ids = [1, -5]",
        "discord.guild_ids[1]: expected a Discord id (a positive integer like 123456789012345678), got -5",
    ),
    ("[discord]\nguild_ids = 5", "discord.guild_ids: expected a list, got 5"),
    ("[database]\npath = 5", 'database.path: expected a file path like "data/papers.db", got 5'),
    ('[digest]\nchannels = "1"', 'digest.channels: expected a list, got "1"'),
    ("log = 3", "log: expected a table, got 3"),
    ("database = 3", "database: expected a table"),  # it holds the database URL: never echoed
    ("[[digest.channels]]\ntop_n = 3", "digest.channels[0].channel_id: required key is missing"),
    (
        '[[digest.channels]]\nchannel_id = 1\n[[digest.channels]]\nchannel_id = 2\ntimezone = "Mars/Olympus"',
        'digest.channels[1].timezone: expected an IANA timezone name like "Europe/Berlin", got "Mars/Olympus"',
    ),
    (
        "[[digest.channels]]\nchannel_id = 1\ntop_n = 99",
        "digest.channels[0].top_n: expected an integer from 1 to 25, got 99",
    ),
    (
        '[[digest.channels]]\nchannel_id = "general"',
        "digest.channels[0].channel_id: expected a Discord id (a positive integer like 123456789012345678), "
        'got "general"',
    ),
    (
        "[[digest.channels]]\nchannel_id = 7\n[[digest.channels]]\nchannel_id = 8\n[[digest.channels]]\nchannel_id = 7",
        "digest.channels: expected each channel_id once, but 7 is in channels[0] and channels[2], "
        'got [{"channel_id": 7}, {"channel_id": 8}, {"channel_id": 7}]',
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_VALUES, ids=[e.split(":")[0] for _, e in BAD_VALUES])
def test_bad_value_message(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text + "\n")
    assert problems_of(path) == [f"{path}: {expected}"]


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[digest]\ntimezone = "Nowhere"\ntop_n = 0\n[log]\nlevel = "loud"\n[extra]\n'
        '[[digest.channels]]\nchannel_id = 1\nempty_days = "x"\n',
    )
    problems = problems_of(path)
    assert len(problems) == 5
    assert all(line.startswith(f"{path}: ") for line in problems)
    assert {line.split(": ")[1] for line in problems} == {
        "digest.timezone",
        "digest.top_n",
        "log.level",
        "extra",
        "digest.channels[0].empty_days",
    }


def test_environment_problem_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[digest]\ntimezone = "Nowhere"\n')
    problems = problems_of(
        path,
        {"PAPERBOT_DIGEST__TOP_N": "lots", "PAPERBOT_DISCORD__GUILD_IDS": "1,x", "DISCORD_TOKEN": TOKEN},
    )
    assert problems == [
        "environment variable PAPERBOT_DISCORD__GUILD_IDS: discord.guild_ids[1]: expected a Discord id "
        '(a positive integer like 123456789012345678), got "x"',
        f'{path}: digest.timezone: expected an IANA timezone name like "Europe/Berlin", got "Nowhere"',
        'environment variable PAPERBOT_DIGEST__TOP_N: digest.top_n: expected an integer, got "lots"',
    ]


def test_environment_list_that_is_not_a_list(tmp_path: Path) -> None:
    assert problems_of(write(tmp_path, ""), {"PAPERBOT_DISCORD__GUILD_IDS": "[1, 2"}) == [
        "environment variable PAPERBOT_DISCORD__GUILD_IDS: discord.guild_ids: expected a JSON list like "
        '[1, 2] or a comma-separated list, got "[1, 2"'
    ]


def test_long_bad_values_are_shortened(tmp_path: Path) -> None:
    path = write(tmp_path, f'[digest]\ntimezone = "{"x" * 500}"\n')
    (line,) = problems_of(path)
    assert len(line.split(", got ")[1]) == 80
    assert line.endswith('got "' + "x" * 76 + "...")


# ------------------------------------------------------------------------------------------ good values


def test_accepted_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[discord]
api_base_url = "http://127.0.0.1:5000/api/v10/"
guild_ids = [123456789012345678]

[digest]
time = 07:30:00
timezone = "America/New_York"
grace_hours = 0
keywords = [" diffusion ", "", "agents"]

[log]
level = "debug"

[ingest]
cron = "  0  */2 * * mon-fri "
""",
    )
    settings = load_settings(path, environ={})
    assert settings.discord.api_base_url == "http://127.0.0.1:5000/api/v10"
    assert not settings.discord.default_api and Settings().discord.default_api
    assert settings.digest.time == dt.time(7, 30)
    assert settings.digest.keywords == ["diffusion", "agents"]
    assert settings.digest.grace_hours == 0.0
    assert settings.log.level == "DEBUG"
    assert settings.ingest.cron == "0 */2 * * mon-fri"


def test_assignment_is_validated() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="IANA"):
        settings.digest.timezone = "Nowhere"
    settings.database.path = Path("x.db")
    assert settings.database.path == Path("x.db")


def test_subscriptions_merge_channel_overrides_with_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[digest]
time = "08:15"
timezone = "Asia/Tokyo"
top_n = 8
min_upvotes = 2
empty_days = "week"
grace_hours = 3
keywords = ["llm"]

[[digest.channels]]
channel_id = 111111111111111111

[[digest.channels]]
channel_id = 222222222222222222
time = "18:00"
timezone = "Europe/Berlin"
top_n = 5
min_upvotes = 0
keywords = []
empty_days = "skip"
grace_hours = 1.5
""",
    )
    digest = load_settings(path, environ={}).digest
    assert digest.subscriptions() == [
        Subscription(
            channel_id=111111111111111111,
            time=dt.time(8, 15),
            timezone="Asia/Tokyo",
            top_n=8,
            min_upvotes=2,
            keywords=("llm",),
            empty_days="week",
            source="config",
        ),
        Subscription(
            channel_id=222222222222222222,
            time=dt.time(18, 0),
            timezone="Europe/Berlin",
            top_n=5,
            min_upvotes=0,
            keywords=(),
            empty_days="skip",
            source="config",
        ),
    ]
    assert digest.grace_hours_for(111111111111111111) == 3.0
    assert digest.grace_hours_for(222222222222222222) == 1.5
    assert digest.grace_hours_for(333) == 3.0
    assert redacted(load_settings(path, environ={}))["digest"]["channels"][1]["time"] == "18:00"


def test_channels_from_environment_json(tmp_path: Path) -> None:
    env = {"PAPERBOT_DIGEST__CHANNELS": '[{"channel_id": 42, "top_n": 3}]'}
    (sub,) = load_settings(write(tmp_path, ""), environ=env).digest.subscriptions()
    assert (sub.channel_id, sub.top_n, sub.source) == (42, 3, "config")
    assert DigestChannelSettings(channel_id=42).top_n is None


# ------------------------------------------------------------------------------------------ example file


def test_example_config_loads_and_equals_the_defaults() -> None:
    settings = load_settings(REPO / "config.example.toml", environ={})
    assert redacted(settings) == redacted(Settings())


def test_example_config_lists_every_key() -> None:
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")

    def keys(model: type, prefix: str = "") -> list[str]:
        out = []
        for name, field in model.model_fields.items():  # type: ignore[attr-defined]
            sub = field.annotation
            if isinstance(sub, type) and hasattr(sub, "model_fields"):
                out += keys(sub, f"{prefix}{name}.")
            else:
                out.append(f"{prefix}{name}")
        return out

    assert "\n# [[digest.channels]]\n" in text
    channel_keys = [f"digest.channels.{k}" for k in DigestChannelSettings.model_fields]
    for key in [k for k in keys(Settings) if k != "digest.channels"] + channel_keys:
        leaf = key.rsplit(".", 1)[-1]
        assert f"\n{leaf} = " in text or f"\n# {leaf} = " in text, f"{key} missing from config.example.toml"


def test_secret_str_token_accepted_in_overrides() -> None:
    settings = load_settings(Path(os.devnull), environ={}, overrides={"discord": {"token": SecretStr(f" {TOKEN} ")}})
    assert settings.discord.token.get_secret_value() == TOKEN


# ------------------------------------------------------------------------------------------ cron


@pytest.mark.parametrize(
    ("expression", "after", "first_run"),
    [
        # Saturday 2024-06-01: the next weekday run is Monday, as in crontab (APScheduler 3 would read a
        # numeric "1-5" as Tuesday-Saturday, which is why numbers are refused in that field).
        ("0 9 * * mon-fri", dt.datetime(2024, 6, 1, 0, 0), dt.datetime(2024, 6, 3, 9, 0)),
        ("0 9 * * sat,SUN", dt.datetime(2024, 6, 3, 0, 0), dt.datetime(2024, 6, 8, 9, 0)),
        ("  */30  * * * * ", dt.datetime(2024, 6, 1, 0, 1), dt.datetime(2024, 6, 1, 0, 30)),
        ("5/15 1-3,6 1 jan-mar *", dt.datetime(2024, 6, 1), dt.datetime(2025, 1, 1, 1, 5)),
    ],
)
def test_the_checked_cron_is_what_the_scheduler_runs(
    expression: str, after: dt.datetime, first_run: dt.datetime
) -> None:
    """`config check` and the running scheduler read the expression with the same parser, in UTC."""
    path = Path(os.devnull)
    cron = load_settings(path, environ={"PAPERBOT_INGEST__CRON": expression}).ingest.cron
    assert cron == " ".join(expression.split())
    scheduler = Scheduler(now=lambda: after.replace(tzinfo=dt.UTC))
    scheduler.add_cron_job("ingest", cron, _nothing)
    assert scheduler.next_run("ingest") == first_run.replace(tzinfo=dt.UTC)


async def _nothing() -> None:
    return None


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * * *", "Wrong number of fields; got 4, expected 5"),
        ("60 * * * *", "the last value (60) is higher than the maximum value (59)"),
        ("* * 0 * *", "the first value (0) is lower than the minimum value (1)"),
        ("*/0 * * * *", "Increment must be higher than 0"),
        ("x * * * *", 'Unrecognized expression "x" for field "minute"'),
        ("* * * foo *", 'Invalid month name "foo"'),
        ("0 9 * * 1-5", "write the day of week as names"),
        ("0 9 * * */2", "write the day of week as names"),
        ("0 0 1 * mon", "restrict day of month or day of week, not both"),
        ("0 0 31 2 *", "it never fires"),
    ],
)
def test_cron_rejections(expression: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        validate_cron(expression)
    assert reason in str(info.value)


_CRON_ATOM = st.one_of(
    st.just("*"),
    st.integers(0, 70).map(str),
    st.tuples(st.integers(0, 70), st.integers(0, 70)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.sampled_from(["mon", "fri", "jan", "dec", "sun-sat", "mon-fri", "x", ""]),
)
_CRON_ITEM = st.tuples(_CRON_ATOM, st.one_of(st.just(""), st.integers(0, 20).map(lambda n: f"/{n}")))
_CRON_FIELD = st.lists(_CRON_ITEM.map("".join), min_size=1, max_size=3).map(",".join)


@given(st.lists(_CRON_FIELD, min_size=5, max_size=5).map(" ".join))
def test_accepted_cron_always_has_a_next_run(expression: str) -> None:
    """Whatever passes `config check` starts the scheduler and fires at some point."""
    try:
        cron = validate_cron(expression)
    except ValueError:
        return
    trigger = CronTrigger.from_crontab(cron, timezone="UTC")
    assert trigger.get_next_fire_time(None, dt.datetime(2030, 1, 1, tzinfo=dt.UTC)) is not None


def test_token_pasted_into_another_key_is_masked(tmp_path: Path) -> None:
    path = write(tmp_path, f'[discord]\ntoken = "{TOKEN}"\napi_base_url = "{TOKEN}"\n')
    assert problems_of(path) == [
        f'{path}: discord.api_base_url: expected an http(s) URL like "https://example.org", got "{REDACTED}"'
    ]
    (line,) = problems_of(write(tmp_path, "[log]\nlevel = 'x'\n"), {"DISCORD_TOKEN": "x" * 10})
    assert line.endswith('got "x"')  # masking only touches the token itself


def test_a_table_holding_the_token_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, f'discord = "{TOKEN}"\n')
    assert problems_of(path) == [f"{path}: discord: expected a table"]


# ------------------------------------------------------------------------------------------ 0.2 keys


def test_new_keys_default_as_documented() -> None:
    settings = load_settings(Path(os.devnull), environ={})
    discord = settings.discord
    assert (discord.shard_count, discord.shard_ids, discord.member_commands, discord.member_window_s) == (0, [], 5, 20)
    assert settings.database.url.get_secret_value() == "" and settings.database.backend == "sqlite"
    assert settings.metrics.listen == "" and settings.metrics.address is None
    assert (settings.search.mode, settings.search.model, settings.search.index_dir) == ("hybrid", "", "")
    assert settings.follows.time == dt.time(8, 0)
    digest = settings.digest
    assert (digest.thread, digest.update_after_hours, digest.cadence, digest.weekday) == (False, 0, "daily", "monday")
    assert digest.default_subscription(5) == Subscription(channel_id=5)  # the model's defaults are the file's


PG_PASSWORD = "s3cr%40t-Pg_pass"  # percent-encoded "@" inside: the decoded form is a secret too
PG_URL = f"postgresql://paperbot:{PG_PASSWORD}@db.internal:5432/paperbot?sslmode=require"


def test_database_url_is_a_secret_everywhere(tmp_path: Path) -> None:
    settings = load_settings(
        write(tmp_path, '[database]\npath = "ignored.db"\n'),
        environ={"PAPERBOT_DATABASE__URL": f" {PG_URL}\n", "DISCORD_TOKEN": TOKEN},
    )
    assert settings.database.url.get_secret_value() == PG_URL
    assert settings.database.backend == "postgresql"
    assert settings.secrets() == [TOKEN, PG_PASSWORD, "s3cr@t-Pg_pass"]
    for text in (repr(settings), str(settings), settings.model_dump_json(), json.dumps(redacted(settings))):
        assert PG_PASSWORD not in text and "s3cr@t" not in text
    assert redacted(settings)["database"]["url"] == (
        "postgresql://paperbot:**********@db.internal:5432/paperbot?sslmode=require"
    )
    assert redacted(Settings())["database"]["url"] == ""
    no_password = load_settings(Path(os.devnull), environ={"PAPERBOT_DATABASE__URL": "postgres://db/paperbot"})
    assert redacted(no_password)["database"]["url"] == "postgres://db/paperbot"
    assert no_password.secrets() == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://root:hunter22@db/paperbot", "starting postgresql://"),
        ("postgresql://root:hunter22@db:99999/paperbot", "invalid port number"),
        ("postgresql://root:hunter22@/paperbot", "empty host"),
    ],
)
def test_bad_database_url_is_named_but_never_echoed(tmp_path: Path, url: str, reason: str) -> None:
    (line,) = problems_of(write(tmp_path, ""), {"PAPERBOT_DATABASE__URL": url})
    assert line.startswith("environment variable PAPERBOT_DATABASE__URL: database.url: expected a PostgreSQL URL")
    assert reason in line
    assert "hunter22" not in line and "got" not in line
    (line,) = problems_of(write(tmp_path, f'[database]\nurl = "{url}"\npath = "{url}x"\n'))
    assert "hunter22" not in line  # nor in another key's echoed value


def test_search_index_dir_follows_the_backend(tmp_path: Path) -> None:
    assert Settings().search_index_dir() == Path("data/papers.db.index")
    sqlite = load_settings(write(tmp_path, '[database]\npath = "/srv/cat.db"\n'), environ={})
    assert sqlite.search_index_dir() == Path("/srv/cat.db.index")
    postgres = load_settings(Path(os.devnull), environ={"PAPERBOT_DATABASE__URL": PG_URL})
    assert postgres.search_index_dir() == Path("data/search-index")
    env = {"PAPERBOT_SEARCH__INDEX_DIR": " /var/idx ", "PAPERBOT_DATABASE__URL": PG_URL}
    chosen = load_settings(Path(os.devnull), environ=env)
    assert chosen.search_index_dir() == Path("/var/idx")


def test_shards_members_metrics_search_follows_accepted_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[discord]
shard_count = 4
shard_ids = [2, 3]
member_commands = 0
member_window_s = 2.5

[metrics]
listen = "[::1]:9108"

[search]
mode = "Keyword"
model = " models/minilm "

[follows]
time = "7:05"
""",
    )
    settings = load_settings(path, environ={})
    assert (settings.discord.shard_count, settings.discord.shard_ids) == (4, [2, 3])
    assert (settings.discord.member_commands, settings.discord.member_window_s) == (0, 2.5)
    assert settings.metrics.address == ("::1", 9108)
    assert (settings.search.mode, settings.search.model) == ("keyword", "models/minilm")
    assert settings.follows.time == dt.time(7, 5)
    assert redacted(settings)["follows"]["time"] == "07:05"
    env = {"PAPERBOT_DISCORD__SHARD_IDS": "0,1", "PAPERBOT_METRICS__LISTEN": "127.0.0.1:0"}
    from_env = load_settings(Path(os.devnull), environ=env)
    assert from_env.discord.shard_ids == [0, 1]  # shard_count 0: any ids, Discord decides the count
    assert from_env.metrics.address == ("127.0.0.1", 0)


NEW_BAD_VALUES = [
    ("[discord]\nshard_count = -1", "discord.shard_count: expected a number ≥ 0, got -1"),
    (
        "[discord]\nshard_ids = [0, 1, 0]",
        "discord.shard_ids: expected each shard id once, but 0 is listed twice, got [0, 1, 0]",
    ),
    (
        "[discord]\nshard_count = 2\nshard_ids = [1, 2, 5]",
        "discord.shard_ids: expected shard ids from 0 to 1, below shard_count (2), got [1, 2, 5]",
    ),
    ("[discord]\nshard_ids = [-1]", "discord.shard_ids[0]: expected a number ≥ 0, got -1"),
    ("[discord]\nmember_commands = -3", "discord.member_commands: expected a number ≥ 0, got -3"),
    ("[discord]\nmember_commands = true", "discord.member_commands: expected a number, not true/false, got true"),
    ("[discord]\nmember_window_s = 0", "discord.member_window_s: expected a number of seconds > 0, got 0"),
    (
        '[metrics]\nlisten = "9108"',
        'metrics.listen: expected "host:port", like "127.0.0.1:9108" or "[::1]:9108", got "9108"',
    ),
    (
        '[metrics]\nlisten = "::1:9108"',
        'metrics.listen: expected "host:port" (an IPv6 host goes in brackets, like "[::1]:9108"), got "::1:9108"',
    ),
    (
        '[metrics]\nlisten = "localhost:70000"',
        'metrics.listen: expected "host:port", like "127.0.0.1:9108" or "[::1]:9108", got "localhost:70000"',
    ),
    ('[search]\nmode = "fuzzy"', 'search.mode: expected one of "keyword", "semantic" or "hybrid", got "fuzzy"'),
    ("[search]\nmodel = 3", "search.model: expected a string, got 3"),
    (
        '[follows]\ntime = "24:00"',
        'follows.time: expected a time as "HH:MM" (24-hour clock), like "09:00", got "24:00"',
    ),
    ('[digest]\ncadence = "monthly"', 'digest.cadence: expected one of "daily" or "weekly", got "monthly"'),
    (
        '[digest]\nweekday = "funday"',
        'digest.weekday: expected a day name: "monday", "tuesday", … "sunday", got "funday"',
    ),
    ("[digest]\nweekday = 0", 'digest.weekday: expected a day name: "monday", "tuesday", … "sunday", got 0'),
    ("[digest]\nupdate_after_hours = -1", "digest.update_after_hours: expected a number of hours ≥ 0, got -1"),
    ('[digest]\nthread = "yes please"', 'digest.thread: expected true or false, got "yes please"'),
    (
        "[digest]\npings = []",  # roles belong to one guild: pings are per channel only
        "digest.pings: unknown key (expected one of: cadence, channels, empty_days, grace_hours, keywords, "
        "min_upvotes, thread, time, timezone, top_n, update_after_hours, weekday)",
    ),
    (
        "[[digest.channels]]\nchannel_id = 1\npings = [{ role_id = 0, keywords = ['x'] }]",
        "digest.channels[0].pings[0].role_id: expected a Discord id (a positive integer like "
        "123456789012345678), got 0",
    ),
    (
        "[[digest.channels]]\nchannel_id = 1\npings = [{ role_id = 7, keywords = [' '] }]",
        'digest.channels[0].pings[0].keywords: expected at least one keyword, like ["robot"], got [" "]',
    ),
    (
        "[[digest.channels]]\nchannel_id = 1\npings = [{ role_id = 7 }]",
        "digest.channels[0].pings[0].keywords: required key is missing",
    ),
    (
        "[[digest.channels]]\nchannel_id = 1\npings = [{ role_id = 7, keywords = ['a'], colour = 'red' }]",
        "digest.channels[0].pings[0].colour: unknown key (expected one of: keywords, role_id)",
    ),
    (
        "[[digest.channels]]\nchannel_id = 1\n"
        "pings = [{ role_id = 7, keywords = ['a'] }, { role_id = 7, keywords = ['b'] }]",
        "digest.channels[0].pings: expected each role_id once, but 7 is in pings[0] and pings[1], "
        'got [{"role_id": 7, "keywords": ["a"]}, {"role_id": 7, "keywords": ["b"]}]',
    ),
    (
        '[[digest.channels]]\nchannel_id = 1\ncadence = "weekly"\nweekday = "Someday"',
        'digest.channels[0].weekday: expected a day name: "monday", "tuesday", … "sunday", got "Someday"',
    ),
]


@pytest.mark.parametrize(("text", "expected"), NEW_BAD_VALUES, ids=[e.split(":")[0] for _, e in NEW_BAD_VALUES])
def test_new_key_bad_value_message(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text + "\n")
    assert problems_of(path) == [f"{path}: {expected}"]


def test_subscriptions_carry_the_new_per_channel_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[digest]
thread = true
update_after_hours = 6
cadence = "weekly"
weekday = "Friday"

[[digest.channels]]
channel_id = 111111111111111111

[[digest.channels]]
channel_id = 222222222222222222
thread = false
update_after_hours = 0
cadence = "daily"
weekday = "sunday"
pings = [
    { role_id = 333333333333333333, keywords = [" robot ", "embodied"] },
    { role_id = 444444444444444444, keywords = ["diffusion"] },
]
""",
    )
    digest = load_settings(path, environ={}).digest
    first, second = digest.subscriptions()
    assert (first.thread, first.update_after_hours, first.cadence, first.weekday, first.pings) == (
        True, 6.0, "weekly", 4, ()
    )  # fmt: skip
    assert (second.thread, second.update_after_hours, second.cadence, second.weekday) == (False, 0.0, "daily", 6)
    assert second.pings == (
        RolePing(role_id=333333333333333333, keywords=("robot", "embodied")),
        RolePing(role_id=444444444444444444, keywords=("diffusion",)),
    )
    fallback = digest.default_subscription(555)
    assert (fallback.thread, fallback.cadence, fallback.weekday, fallback.pings, fallback.source) == (
        True, "weekly", 4, (), "db"
    )  # fmt: skip
    built = DigestChannelSettings(channel_id=1, pings=[RolePingSettings(role_id=2, keywords=["x"])])
    assert built.pings[0].to_model() == RolePing(role_id=2, keywords=("x",))


def test_pings_from_the_environment_json(tmp_path: Path) -> None:
    env = {"PAPERBOT_DIGEST__CHANNELS": '[{"channel_id": 42, "pings": [{"role_id": 7, "keywords": ["robot"]}]}]'}
    (sub,) = load_settings(write(tmp_path, ""), environ=env).digest.subscriptions()
    assert sub.pings == (RolePing(role_id=7, keywords=("robot",)),)
    (line,) = problems_of(write(tmp_path, ""), {"PAPERBOT_DIGEST__CHANNELS": '[{"channel_id": 42'})
    assert line == (
        "environment variable PAPERBOT_DIGEST__CHANNELS: digest.channels: expected a JSON list of tables like "
        '[{"channel_id": 123}], got "[{\\"channel_id\\": 42"'
    )


def test_config_check_output_is_toml_that_loads_back(tmp_path: Path) -> None:
    """What `paperbot config check` prints is itself a valid config file for the same settings."""
    from bot.cli import render_toml

    path = write(
        tmp_path,
        """
[discord]
guild_ids = [123456789012345678]
shard_count = 2
shard_ids = [1]

[metrics]
listen = "127.0.0.1:9108"

[[digest.channels]]
channel_id = 222222222222222222
time = "18:00"
pings = [{ role_id = 333333333333333333, keywords = ["robot"] }]

[[digest.channels]]
channel_id = 111111111111111111
""",
    )
    settings = load_settings(path, environ={"PAPERBOT_DATABASE__URL": PG_URL})
    printed = render_toml(redacted(settings))
    assert PG_PASSWORD not in printed
    again = load_settings(write(tmp_path, printed, name="printed.toml"), environ={})
    assert redacted(again) == redacted(settings)
    assert again.digest.subscriptions() == settings.digest.subscriptions()


def test_config_check_command_hides_token_and_database_password(tmp_path: Path) -> None:
    """`paperbot config check` as an operator runs it: exit 0, both secrets masked, the rest shown."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))}
    env |= {"DISCORD_TOKEN": TOKEN, "PAPERBOT_DATABASE__URL": PG_URL, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "config", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for secret in (TOKEN, PG_PASSWORD, "s3cr@t"):
        assert secret not in result.stdout + result.stderr
    assert 'url = "postgresql://paperbot:**********@db.internal:5432/paperbot?sslmode=require"' in result.stdout
    assert f'token = "{REDACTED}"' in result.stdout
