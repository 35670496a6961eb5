"""The lockfiles (requirements/*.txt, written by scripts/lock) agree with pyproject.toml and with what runs.

* every pin is exact and hashed, so `pip install --require-hashes` installs byte-for-byte what CI tested;
* every dependency of pyproject.toml is locked, at a version its specifier allows, and its lower bound is
  not an older minor series than the locked one (a bound like `tantivy>=0.22` under a lock of 0.27 lets a
  plain `pip install paperbot` pick a release without APIs the code calls);
* the runtime lock (the Docker image) holds no dev tool and the same versions as the dev lock (CI);
* the environment these tests run in is the dev lock.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
DEV_LOCK = REPO / "requirements" / "dev.txt"
RUNTIME_LOCK = REPO / "requirements" / "runtime.txt"
REINSTALL = ".venv/bin/pip install --require-hashes -r requirements/dev.txt"


@dataclass(frozen=True)
class Pin:
    name: str
    version: Version
    marker: Marker | None
    hashes: tuple[str, ...]

    def applies(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def read_lock(path: Path) -> list[Pin]:
    """Parse a `--generate-hashes` requirements file: `name==version [; marker]` then `--hash=` lines."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    pins = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, hashes = line.split(" --hash=", 1) if " --hash=" in line else (line, "")
        requirement = Requirement(spec.strip())
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {spec} is not an exact pin"
        pins.append(
            Pin(
                canonicalize_name(requirement.name),
                Version(specifier.version),
                requirement.marker,
                tuple(h.strip() for h in ("--hash=" + hashes).split("--hash=") if h.strip()) if hashes else (),
            )
        )
    return pins


def pyproject_requirements() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in project["dependencies"]], [
        Requirement(r) for r in project["optional-dependencies"]["dev"]
    ]


def locked(pins: list[Pin], name: str) -> list[Pin]:
    return [pin for pin in pins if pin.name == canonicalize_name(name)]


@pytest.mark.parametrize("path", [DEV_LOCK, RUNTIME_LOCK], ids=lambda p: p.name)
def test_every_pin_is_exact_and_hashed(path: Path) -> None:
    pins = read_lock(path)
    assert pins, f"{path} is empty"
    for pin in pins:
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), f"{pin.name} has no sha256 hash"
    assert path.read_text(encoding="utf-8").splitlines()[1].strip() == "#    scripts/lock"


def test_every_dependency_is_locked_within_its_bounds() -> None:
    runtime, dev = pyproject_requirements()
    dev_pins, runtime_pins = read_lock(DEV_LOCK), read_lock(RUNTIME_LOCK)
    problems = []
    for requirement, pins in [(r, runtime_pins) for r in runtime] + [(r, dev_pins) for r in runtime + dev]:
        found = locked(pins, requirement.name)
        if not found:
            problems.append(f"{requirement.name} is not locked: run scripts/lock")
            continue
        lower = next((Version(s.version) for s in requirement.specifier if s.operator == ">="), None)
        if lower is None:
            problems.append(f"{requirement}: give it a lower bound (the version tested)")
        for pin in found:
            if pin.version not in requirement.specifier:
                problems.append(f"{requirement} does not allow the locked {pin.version}: run scripts/lock")
            elif lower is not None and lower.release[:2] < pin.version.release[:2] and pin.applies():
                problems.append(f"{requirement}: the lock tests {pin.version}; raise the lower bound to it")
    assert not problems, "\n".join(dict.fromkeys(problems))


def test_runtime_lock_is_the_dev_lock_without_dev_tools() -> None:
    _, dev = pyproject_requirements()
    dev_pins = {(pin.name, str(pin.marker)): pin.version for pin in read_lock(DEV_LOCK)}
    runtime_pins = read_lock(RUNTIME_LOCK)
    for pin in runtime_pins:
        assert dev_pins.get((pin.name, str(pin.marker))) == pin.version, f"{pin.name} differs between the locks"
    names = {pin.name for pin in runtime_pins}
    for tool in ("pytest", "ruff", "mypy", "hypothesis", "time-machine", "pytest-asyncio", "pytest-timeout"):
        assert canonicalize_name(tool) not in names, f"{tool} is in the runtime lock"
    assert {canonicalize_name(r.name) for r in dev} - names, "the dev extra adds nothing?"


def test_this_environment_is_the_dev_lock() -> None:
    """The suite runs on the locked versions (`.ci/run` installs them); a stale venv is named, not trusted."""
    stale = []
    for pin in read_lock(DEV_LOCK):
        if not pin.applies():
            continue
        try:
            installed = Version(importlib.metadata.version(pin.name))
        except importlib.metadata.PackageNotFoundError:
            stale.append(f"{pin.name} {pin.version} is not installed")
            continue
        if installed != pin.version:
            stale.append(f"{pin.name} {installed} is installed, the lock says {pin.version}")
    assert not stale, f"run `{REINSTALL}`:\n" + "\n".join(stale)
