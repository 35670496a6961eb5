"""fake_discord is a development tool: it must never reach the wheel or the Docker build context."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import setuptools

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_does_not_contain_the_fake() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    find = config["tool"]["setuptools"]["packages"]["find"]
    packages = setuptools.find_packages(
        where=str(REPO), include=find.get("include", ["*"]), exclude=find.get("exclude", ())
    )
    assert "bot" in packages
    assert not [p for p in packages if p.split(".")[0] in {"fake_discord", "tests", "bench"}], packages


def test_the_docker_build_context_excludes_the_fake() -> None:
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    path = "fake_discord/server.py"
    assert any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)
