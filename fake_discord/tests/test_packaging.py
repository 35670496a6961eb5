"""fake_discord is a development tool: it must never reach the wheel or the Docker build context."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_does_not_contain_the_fake() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    include, exclude = find.get("include", ["*"]), find.get("exclude", [])
    # setuptools' find matches these glob patterns against dotted package names; top-level names decide here.
    top_level = sorted(p.name for p in REPO.iterdir() if (p / "__init__.py").is_file())
    packaged = [
        name
        for name in top_level
        if any(fnmatch.fnmatch(name, pat) for pat in include) and not any(fnmatch.fnmatch(name, pat) for pat in exclude)
    ]
    assert "fake_discord" in top_level
    assert packaged == ["bot"], packaged


def test_the_docker_build_context_excludes_the_fake() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    path = "fake_discord/server.py"
    assert any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)
