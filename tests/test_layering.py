"""The architecture, checked: walk every module under bot/ and hold its imports to the layer diagram.

    config / models / errors / log  ←  sources, catalogue  ←  search  ←  stores, ingest, lookup, importer,
        digest, follows  ←  discord_ui  ←  runtime  ←  cli

    models  ←  render (pure builders: what a person sees)  ←  digest, discord_ui, runtime, cli

`health` (the bot's heartbeat file and its check) needs only `config`; `runtime` writes it, `cli` reads it.
`catalogue` is the source of truth; `search` holds the views derived from it (the keyword index) and may
read the catalogue, never the other way round. Plus the third-party rules: only `discord_ui` (and the
composition root and CLI above it) imports `discord`; only the SQLite backend (`catalogue/sqlite/`) touches
SQLite (`aiosqlite`, `sqlite3`) and only the PostgreSQL backend (`catalogue/postgres/`) its driver (`psycopg`,
`psycopg_pool`); only `search` touches tantivy; only `digest/schedule.py` runs
`apscheduler`; importing `bot` itself has no side effects. Imports inside functions and
`if TYPE_CHECKING:` blocks count too: a dependency is a dependency.

One narrow exception: `bot/config/cron.py` imports APScheduler's crontab parser (`apscheduler.triggers.cron`,
no scheduler) to check `[ingest] cron`. Checking the value with the very parser the scheduler will run it
with is what keeps `config check` and the running bot from disagreeing; the alternative, config calling
into `bot.digest.schedule`, would point an import up the layers.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "bot"

BASE = frozenset({"bot", "bot.errors", "bot.models", "bot.config", "bot.log", "bot.metrics", "bot.process_lock"})
DATA = frozenset({"bot.sources", "bot.catalogue"})
VIEWS = frozenset({"bot.search", "bot.semantic"})
USE_CASES = frozenset(
    {"bot.stores", "bot.ingest", "bot.lookup", "bot.importer", "bot.digest", "bot.db_copy", "bot.db_embed"}
    | {"bot.follows"}
)
RENDER = frozenset({"bot.render"})

# Which subsystems each subsystem may import (besides itself). A new top-level module must be placed here.
ALLOWED: dict[str, frozenset[str]] = {
    "bot": frozenset(),
    "bot.errors": frozenset(),
    "bot.models": frozenset({"bot.errors"}),
    "bot.log": frozenset(),
    "bot.metrics": frozenset(),
    "bot.process_lock": frozenset(),
    "bot.config": frozenset({"bot.errors", "bot.models"}),
    "bot.sources": BASE,
    "bot.catalogue": BASE,
    # Semantic search parts (embedder, vector store, fusion): a pure library, no catalogue, no Discord.
    "bot.semantic": BASE,
    "bot.search": BASE | {"bot.catalogue", "bot.semantic", "bot.sources"},
    # Pure builders: models in, specs and text out; no data access, no use cases, no discord.
    "bot.render": frozenset({"bot.models"}),
    **{name: BASE | DATA | VIEWS | USE_CASES | RENDER for name in USE_CASES},
    "bot.discord_ui": BASE | DATA | VIEWS | USE_CASES | RENDER,
    "bot.health": BASE,
    "bot.runtime": BASE | DATA | VIEWS | USE_CASES | RENDER | {"bot.discord_ui", "bot.health"},
    "bot.cli": BASE | DATA | VIEWS | USE_CASES | RENDER | {"bot.discord_ui", "bot.runtime", "bot.health"},
    "bot.__main__": frozenset({"bot.cli"}),
}

# Third-party packages only some subsystems may import: package → predicate on the importing module's path.
RESTRICTED: dict[str, tuple[str, ...]] = {
    "discord": ("bot/discord_ui/", "bot/runtime.py", "bot/cli.py"),
    "aiosqlite": ("bot/catalogue/sqlite/",),
    "sqlite3": ("bot/catalogue/sqlite/",),
    "psycopg": ("bot/catalogue/postgres/",),
    "psycopg_pool": ("bot/catalogue/postgres/",),
    "tantivy": ("bot/search/",),
    "prometheus_client": ("bot/metrics.py",),
    "apscheduler": ("bot/digest/schedule.py", "bot/config/cron.py"),
    # The embedding runtime stays behind bot/semantic's Embedder protocol.
    "onnxruntime": ("bot/semantic/",),
    "tokenizers": ("bot/semantic/",),
}
# Of those, files that may import only the listed modules of the package (see the module docstring).
NARROW: dict[tuple[str, str], frozenset[str]] = {
    ("apscheduler", "bot/config/cron.py"): frozenset({"apscheduler.triggers.cron"}),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "bot.digest.compose"
    path: str  # repo-relative path of the importing file
    target: str  # the imported module, fully qualified
    line: int


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def subsystem(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def bot_modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imports_of(path: Path) -> Iterator[Import]:
    return imports_of_source(path.read_text(encoding="utf-8"), path)


def imports_of_source(source: str, path: Path) -> Iterator[Import]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    rel = path.relative_to(REPO).as_posix()
    tree = ast.parse(source, filename=rel)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, rel, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield Import(module, rel, target, node.lineno)
            for alias in node.names:  # `from bot import catalogue` imports the submodule bot.catalogue
                candidate = f"{target}.{alias.name}"
                if _is_bot_module(candidate):
                    yield Import(module, rel, candidate, node.lineno)
        elif isinstance(node, ast.Call) and _is_dynamic_import(node):
            first = node.args[0]
            assert isinstance(first, ast.Constant) and isinstance(first.value, str)
            yield Import(module, rel, first.value, node.lineno)


def _is_bot_module(name: str) -> bool:
    if not name.startswith("bot."):
        return False
    rel = Path(*name.split("."))
    return (REPO / rel).with_suffix(".py").is_file() or (REPO / rel / "__init__.py").is_file()


def _is_dynamic_import(node: ast.Call) -> bool:
    func = node.func
    named = (isinstance(func, ast.Name) and func.id in {"__import__", "import_module"}) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module"
    )
    return named and bool(node.args) and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)


def all_imports() -> list[Import]:
    return [imp for path in bot_modules() for imp in imports_of(path)]


def describe(imp: Import) -> str:
    return f"{imp.path}:{imp.line} imports {imp.target}"


# ------------------------------------------------------------------------------------------------ tests


def test_the_walk_sees_the_package() -> None:
    modules = {module_name(path) for path in bot_modules()}
    assert {"bot", "bot.config", "bot.models", "bot.errors", "bot.log"} <= modules
    targets = {imp.target for imp in all_imports()}
    assert "bot.errors" in targets and "pydantic" in targets


def test_every_module_has_a_place_in_the_layers() -> None:
    unplaced = sorted({module_name(p) for p in bot_modules() if subsystem(module_name(p)) not in ALLOWED})
    assert not unplaced, f"add these to ALLOWED in tests/test_layering.py: {unplaced}"


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for imp in all_imports():
        if not (imp.target == "bot" or imp.target.startswith("bot.")):
            continue
        own, theirs = subsystem(imp.module), subsystem(imp.target)
        if theirs != own and theirs not in ALLOWED.get(own, frozenset()):
            wrong.append(f"{describe(imp)} ({own} may only import {sorted(ALLOWED.get(own, ()))})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(RESTRICTED))
def test_restricted_third_party_imports(package: str) -> None:
    allowed = RESTRICTED[package]
    wrong = [
        describe(imp)
        for imp in all_imports()
        if imp.target.split(".")[0] == package and not imp.path.startswith(allowed)
    ]
    assert not wrong, f"only {', '.join(allowed)} may import {package}:\n" + "\n".join(wrong)
    narrow = [
        describe(imp)
        for imp in all_imports()
        if imp.target.split(".")[0] == package
        and (package, imp.path) in NARROW
        and imp.target not in NARROW[package, imp.path]
    ]
    assert not narrow, f"these may import only {dict(NARROW)}:\n" + "\n".join(narrow)


def test_bot_init_is_only_a_docstring_and_constants() -> None:
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        is_future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
        is_constant = isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(
            node.value, ast.Constant | ast.List | ast.Tuple
        )
        assert is_docstring or is_future or is_constant, f"bot/__init__.py line {node.lineno}: side effect"


_PROBE = """
import importlib, json, logging, sys
missing = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # An optional third-party package absent here is another test's concern, not a layering one.
        if exc.name is None or exc.name.split(".")[0] in ("bot", "discord"):
            raise
        missing[name] = exc.name
root = logging.getLogger()
print(json.dumps({"modules": sorted(sys.modules), "handlers": len(root.handlers), "level": root.level,
                  "missing": missing}))
"""


def _probe(imports: list[str]) -> dict[str, object]:
    """Import modules in a fresh interpreter and report what that pulled in and set up."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *imports], cwd=REPO, capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    data: dict[str, object] = json.loads(result.stdout)
    assert len(data["missing"]) < len(imports), f"nothing could be imported: {data['missing']}"  # type: ignore[arg-type]
    return data


def test_importing_bot_has_no_side_effects() -> None:
    seen = _probe(["bot"])
    modules = set(seen["modules"])  # type: ignore[arg-type]
    assert {m for m in modules if m.startswith("bot.")} == set()
    assert (seen["handlers"], seen["level"]) == (0, 30)  # logging untouched: no handlers, WARNING


def test_lower_layers_do_not_load_discord_transitively() -> None:
    """Not even through a helper or a third-party package: everything below discord_ui runs without it."""
    lower = sorted(
        module_name(p) for p in bot_modules() if subsystem(module_name(p)) in BASE | DATA | VIEWS | USE_CASES | RENDER
    )
    modules = set(_probe(lower)["modules"])  # type: ignore[arg-type]
    assert "discord" not in modules


def test_the_walk_sees_every_import_form() -> None:
    """The checker itself: relative, aliased, nested and dynamic imports are all seen."""
    fake = PACKAGE / "digest" / "compose.py"
    source = (
        "from __future__ import annotations\n"
        "import importlib\n"
        "from ..discord_ui import adapter\n"
        "def f() -> None:\n"
        "    import discord.ui as ui\n"
        "    importlib.import_module('aiosqlite')\n"
    )
    # Parsed as if it lived at bot/digest/compose.py; nothing is written.
    found = {(imp.target, imp.line) for imp in imports_of_source(source, fake)}
    assert {("bot.discord_ui", 3), ("bot.discord_ui.adapter", 3), ("discord.ui", 5), ("aiosqlite", 6)} <= found


def _private_owner(target: str) -> str | None:
    """The package that owns a private module or name (`bot.a._b` → `bot.a`), or None when it is public."""
    parts = target.split(".")
    for position, part in enumerate(parts):
        if part.startswith("_") and not (part.startswith("__") and part.endswith("__")):
            return ".".join(parts[:position])
    return None


def _private_imports(paths: list[Path]) -> list[str]:
    wrong = []
    for path in paths:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
        module = module_name(path)
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                owner = _private_owner(target)
                if owner and owner.startswith("bot") and not (module == owner or module.startswith(owner + ".")):
                    wrong.append(f"{path.relative_to(REPO)}:{node.lineno} imports {target}")
    return wrong


def test_private_names_stay_in_their_package() -> None:
    """Private by underscore means private: `bot.x._y` (a module or a name) is used inside `bot.x` only —
    by the package's own modules, never by another package or the benchmarks. (A package's unit tests may
    test its private helpers directly; they are the package's own.)"""
    paths = bot_modules() + sorted((REPO / "bench").rglob("*.py"))
    wrong = _private_imports(paths)
    assert not wrong, "\n".join(wrong)


def test_the_private_check_sees_a_violation() -> None:
    assert _private_owner("bot.catalogue.sqlite._rows") == "bot.catalogue.sqlite"
    assert _private_owner("bot.search.keyword_index._variants") == "bot.search.keyword_index"
    assert _private_owner("bot.catalogue.__init__") is None
    assert _private_owner("bot.catalogue.types") is None
