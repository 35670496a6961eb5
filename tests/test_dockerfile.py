"""The Dockerfile, checked statically (no Docker engine runs here): parsed into stages and instructions."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.config import load_settings
from bot.health import DEFAULT_MAX_AGE_S

REPO = Path(__file__).resolve().parent.parent
DEV_TOOLS = ("pytest", "ruff", "mypy", "hypothesis", "time-machine", "pre-commit")


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array form (`CMD ["a", "b"]`), or None for the shell form."""
        try:
            value = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Split a Dockerfile into global ARG defaults and stages, joining `\\` continuations, dropping comments."""
    logical: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continuation are ignored by Docker
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1].rstrip() + " "
            continue
        logical.append((start, buffer + stripped))
        buffer = ""
    assert not buffer, "Dockerfile ends inside a line continuation"

    args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in logical:
        keyword, _, rest = line.partition(" ")
        instruction = Instruction(keyword.upper(), rest.strip(), number)
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert instruction.keyword == "ARG", f"line {number}: only ARG may come before FROM"
            name, _, default = instruction.args.partition("=")
            args[name] = default.strip('"')
        else:
            stages[-1].instructions.append(instruction)
    return args, stages


def env_pairs(instruction: Instruction) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(instruction.args))


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((REPO / "Dockerfile").read_text(encoding="utf-8"))[1]


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def pyproject() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_parser_understands_continuations_and_stages() -> None:
    args, parsed = parse_dockerfile(
        'ARG IMG=python:3.11-slim\n# c\nFROM ${IMG} AS one\nRUN a \\\n  # inside\n  && b\nFROM $IMG\nCMD ["x"]\n'
    )
    assert args == {"IMG": "python:3.11-slim"}
    assert [(s.base, s.name) for s in parsed] == [("python:3.11-slim", "one"), ("python:3.11-slim", None)]
    assert parsed[0].instructions[0].args == "a && b"
    assert parsed[0].instructions[0].line == 4
    assert parsed[1].all("CMD")[0].exec_form() == ["x"]


def test_multi_stage_on_a_supported_python(stages: list[Stage], pyproject: dict[str, object]) -> None:
    assert len(stages) >= 2
    assert stages[-1].base.startswith("python:3.")
    assert stages[-1].base.endswith("-slim")
    version = tuple(int(x) for x in re.findall(r"python:(\d+)\.(\d+)", stages[-1].base)[0])
    project = pyproject["project"]
    assert isinstance(project, dict)
    minimum = tuple(int(x) for x in re.findall(r">=\s*(\d+)\.(\d+)", project["requires-python"])[0])
    assert version >= minimum


def test_final_stage_runs_as_a_non_root_user(final: Stage) -> None:
    users = final.all("USER")
    assert users, "the final stage needs a USER"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}
    assert user == "10001"
    runs = " ".join(i.args for i in final.all("RUN"))
    assert "--uid 10001" in runs  # the user exists in /etc/passwd, so tools that look it up work
    # Nothing after the USER switch needs root again.
    assert all(i.keyword != "USER" or i is users[-1] for i in final.instructions[final.instructions.index(users[-1]) :])


def test_data_volume_owned_by_that_user(final: Stage) -> None:
    volumes = [v for i in final.all("VOLUME") for v in (i.exec_form() or i.args.split())]
    assert "/data" in volumes
    runs = " ".join(i.args for i in final.all("RUN"))
    assert re.search(r"chown 10001:10001 /data\b", runs)


def test_database_lives_in_the_volume(final: Stage) -> None:
    env: dict[str, str] = {}
    for instruction in final.all("ENV"):
        env.update(env_pairs(instruction))
    assert env["PAPERBOT_DATABASE__PATH"] == "/data/papers.db"
    # The variable really is the config key (not a typo that the bot would ignore).
    settings = load_settings(REPO / "config.example.toml", environ={"PAPERBOT_DATABASE__PATH": "/data/papers.db"})
    assert settings.database.path == Path("/data/papers.db")


def test_command_is_paperbot_run(final: Stage, pyproject: dict[str, object]) -> None:
    cmds = final.all("CMD")
    assert cmds[-1].exec_form() == ["paperbot", "run"]
    assert not final.all("ENTRYPOINT")
    project = pyproject["project"]
    assert isinstance(project, dict)
    assert project["scripts"]["paperbot"] == "bot.cli:main"


def test_healthcheck_runs_paperbot_health(final: Stage) -> None:
    (check,) = final.all("HEALTHCHECK")
    options = dict(re.findall(r"--([a-z-]+)=(\S+)", check.args))
    command = check.args.split("CMD", 1)[1].strip()
    assert json.loads(command) == ["paperbot", "health"]  # exec form: no shell needed in the image
    assert build_parser().parse_args(["health"]).command == "health"  # a real command of the CLI
    seconds = {key: int(value.removesuffix("s")) for key, value in options.items() if key != "retries"}
    assert seconds["timeout"] < seconds["interval"]
    # Longer than the heartbeat's own staleness limit would be pointless; shorter than it would flap.
    assert seconds["interval"] <= DEFAULT_MAX_AGE_S
    assert seconds["start-period"] >= 60  # start-up: an index build, one IDENTIFY per 5 s per shard
    assert int(options["retries"]) >= 2  # one slow probe is not a dead bot


def test_dependencies_come_from_the_runtime_lock(stages: list[Stage], pyproject: dict[str, object]) -> None:
    builder = stages[0]
    project = pyproject["project"]
    assert isinstance(project, dict)
    runs = [i.args for i in builder.all("RUN")]
    copies = [i.args for i in builder.all("COPY")]
    # Exactly the locked versions, hashes checked, before the source is copied (a source edit keeps the layer).
    assert "pip install --require-hashes --requirement requirements/runtime.txt" in runs
    assert copies.index("requirements/runtime.txt ./requirements/runtime.txt") < copies.index("bot ./bot")
    assert (REPO / "requirements" / "runtime.txt").is_file()
    # The project installs as its own wheel, named as in pyproject, without resolving anything again.
    name = project["name"]
    assert any(f"/wheels/{name}-*.whl" in run and "pip install --no-deps" in run for run in runs)
    assert all("pip install" not in run or "--no-deps" in run or "--require-hashes" in run for run in runs)
    # The packages copied are the ones setuptools packages.
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]  # type: ignore[index]
    assert include == ["bot*"]


def test_no_dev_dependencies_anywhere(stages: list[Stage], pyproject: dict[str, object]) -> None:
    text = " ".join(i.args for stage in stages for i in stage.instructions if i.keyword in {"RUN", "COPY", "ENV"})
    assert "[dev]" not in text and ".[" not in text and "requirements/dev.txt" not in text
    for tool in DEV_TOOLS:
        assert not re.search(rf"\b{re.escape(tool)}\b", text), f"{tool} installed in the image"
    project = pyproject["project"]
    assert isinstance(project, dict)
    runtime_deps = " ".join(project["dependencies"]).lower()
    for tool in DEV_TOOLS:
        assert tool not in runtime_deps


def test_final_stage_copies_only_the_built_environment(final: Stage) -> None:
    copies = final.all("COPY")
    assert copies, "the final stage must copy the built environment"
    for copy in copies:
        assert copy.args.startswith("--from=builder "), f"line {copy.line}: final stage copies from the context"
    assert not any("pip install" in i.args for i in final.all("RUN"))


def test_build_context_has_what_copy_needs_and_nothing_private() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)

    for needed in ("pyproject.toml", "README.md", "bot", "bot/cli.py", "requirements/runtime.txt"):
        assert (REPO / needed).exists(), needed
        assert not ignored(needed), f"{needed} is excluded by .dockerignore but the build needs it"
    for private in (".git", ".venv", "data", "config.toml", ".env", "papers.db", "tests"):
        assert ignored(private), f"{private} would be sent to the Docker daemon"
