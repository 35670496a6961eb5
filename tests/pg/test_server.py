"""The PostgreSQL test fixtures themselves: a real server, one empty database per test, nothing left behind.

The lifecycle tests run an inner pytest in a subprocess with its own throwaway server (no
PAPERBOT_TEST_POSTGRES_URL), then look at the machine after it: the data dir is gone and no process serves it —
after a normal end, and after the inner pytest is killed with SIGKILL (the guard's job).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from tests.postgres import PostgresDatabase, PostgresServer
from tests.postgres_server import URL_VARIABLE

REPO = Path(__file__).resolve().parents[2]


def test_each_test_gets_an_empty_database_of_its_own(postgres_database: PostgresDatabase) -> None:
    with psycopg.connect(postgres_database.url) as conn:
        name, encoding = conn.execute(
            "SELECT current_database(), pg_encoding_to_char(encoding) "
            "FROM pg_database WHERE datname = current_database()"
        ).fetchone() or ("", "")
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        conn.execute("CREATE TABLE scratch (n int)")  # ours to write
    assert (name, encoding) == (postgres_database.name, "UTF8")
    assert tables == (0,)
    assert postgres_database.url.endswith("/" + postgres_database.name)


def test_the_url_carries_a_password_and_the_server_needs_it(postgres_server: PostgresServer) -> None:
    assert len(postgres_server.password) >= 16
    wrong = postgres_server.url.replace(postgres_server.password, "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=10).close()


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {URL_VARIABLE, "CI", "PYTEST_ADDOPTS"}}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def _inner_pytest(tmp_path: Path, test_source: str, *args: str, **popen: object) -> list[str]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(test_source), encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")  # not the repo's configuration
    return [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "tests.postgres",
        "--rootdir",
        str(tmp_path),
        str(tmp_path / "test_inner.py"),
        *args,
    ]


def _serving(root: str) -> str:
    """Processes whose command line names this server's dir (postgres -D ROOT/data, the guard), per pgrep."""
    found = subprocess.run(["pgrep", "-af", root], capture_output=True, text=True, check=False)
    return found.stdout.strip()


def _wait_exit(pid: int, timeout: float) -> bool:
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout)[0])
    finally:
        os.close(fd)


_TWO_TESTS = """
    import json, os
    import psycopg

    INFO = os.environ["INFO_FILE"]

    def test_first(postgres_database, postgres_server):
        with psycopg.connect(postgres_database.url) as conn:
            conn.execute("CREATE TABLE kept (n int)")
        own = postgres_server.own
        record = {"db": postgres_database.name, "root": str(own.root), "pid": own.pid}
        with open(INFO, "w") as out:
            json.dump(record, out)

    def test_second(postgres_database, postgres_server):
        first = json.load(open(INFO))
        with psycopg.connect(postgres_server.url) as conn:
            names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        assert first["db"] not in names, "the first test's database was not dropped"
        assert postgres_database.name in names and postgres_database.name != first["db"]
        with psycopg.connect(postgres_database.url) as conn:
            assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)
"""


@pytest.mark.slow
def test_a_session_starts_its_own_server_and_leaves_nothing_behind(tmp_path: Path) -> None:
    info = tmp_path / "info.json"
    argv = _inner_pytest(tmp_path, _TWO_TESTS)
    result = subprocess.run(
        argv,
        cwd=tmp_path,
        env=_clean_env(INFO_FILE=str(info)),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
    record = json.loads(info.read_text(encoding="utf-8"))
    assert "paperbot-pg-" in record["root"]
    assert not Path(record["root"]).exists()
    assert _serving(record["root"]) == ""
    assert _wait_exit(record["pid"], 0)


_HOLD = """
    import json, sys

    def test_hold(postgres_server):
        own = postgres_server.own
        guard = int((own.root / "guard.pid").read_text())
        print("SERVER " + json.dumps({"root": str(own.root), "pid": own.pid, "guard": guard}), flush=True)
        sys.stdin.read()  # until the outer test kills us
"""


@pytest.mark.slow
def test_a_killed_session_still_stops_its_server(tmp_path: Path) -> None:
    argv = _inner_pytest(tmp_path, _HOLD, "-s")
    inner = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=_clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert inner.stdout is not None
        seen = []
        for line in inner.stdout:
            seen.append(line)
            if line.startswith("SERVER "):
                record = json.loads(line.removeprefix("SERVER "))
                break
        else:
            pytest.fail("the inner session never reported its server:\n" + "".join(seen))
        assert _serving(record["root"]) != ""
        os.kill(inner.pid, signal.SIGKILL)
        inner.wait(30)
        assert _wait_exit(record["pid"], 60), "postgres still runs after its session was killed"
        assert _wait_exit(record["guard"], 60), "the guard did not finish"
        assert not Path(record["root"]).exists()
        assert _serving(record["root"]) == ""
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.wait(30)


_UNAVAILABLE = """
    import tests.postgres
    from tests.postgres_server import PostgresUnavailable

    def _no_binaries(**_):
        raise PostgresUnavailable("simulated: no PostgreSQL binaries")

    tests.postgres.start = _no_binaries  # as on a machine without PostgreSQL that can't install it

    def test_needs_postgres(postgres_url):
        pass
"""


@pytest.mark.parametrize(
    ("ci", "outcome", "says"),
    [("", "1 skipped", "no PostgreSQL server: simulated"), ("true", "1 error", "CI needs a PostgreSQL server")],
)
def test_without_a_server_tests_skip_except_in_ci(tmp_path: Path, ci: str, outcome: str, says: str) -> None:
    argv = _inner_pytest(tmp_path, _UNAVAILABLE, "-rs")
    env = _clean_env(CI=ci) if ci else _clean_env()
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert outcome in result.stdout, result.stdout + result.stderr
    assert says in result.stdout


def test_ci_script_starts_exports_and_stops_a_server(tmp_path: Path) -> None:
    """`.ci/postgres start` prints shell exports; `stop` ends the server and deletes its dir."""
    script = (
        'eval "$(bash .ci/postgres start $$)"\n'
        'echo "URL=$PAPERBOT_TEST_POSTGRES_URL"\n'
        'echo "DIR=$PAPERBOT_TEST_POSTGRES_DIR"\n'
        'echo "PID=$(head -n 1 "$PAPERBOT_TEST_POSTGRES_DIR/data/postmaster.pid")"\n'
        f"{sys.executable} -c \"import psycopg, os; psycopg.connect(os.environ['{URL_VARIABLE}']).close()\"\n"
        "echo CONNECTED\n"
        "bash .ci/postgres stop\n"
    )
    result = subprocess.run(
        ["bash", "-euc", script], cwd=REPO, env=_clean_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert values["URL"].startswith("postgresql://paperbot:")
    assert "CONNECTED" in result.stdout
    assert not Path(values["DIR"]).exists()
    assert _wait_exit(int(values["PID"]), 0)


def test_ci_script_stop_refuses_a_dir_that_is_not_a_throwaway_server(tmp_path: Path) -> None:
    keep = tmp_path / "precious"
    keep.mkdir()
    result = subprocess.run(
        ["bash", ".ci/postgres", "stop", str(keep)], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert keep.exists()
