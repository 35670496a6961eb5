"""A throwaway PostgreSQL server: `initdb` into a temp dir, `pg_ctl start` on a free loopback port, gone after.

The one place that knows how to get a real PostgreSQL on this machine. The pytest plugin (`tests/postgres.py`),
the benchmarks (`bench/pg_copy.py`) and CI (`.ci/postgres`, called by `.ci/run`) all start their server here, so
they run the same server the same way. Standard library only: `.ci/postgres` runs it before any venv exists.

    with running() as server:          # or: server = start(); ...; server.stop()
        server.url()                   # postgresql://paperbot:<password>@127.0.0.1:<port>/postgres

What it does, and why:

* **Binaries**: `postgres`/`initdb`/`pg_ctl` from PATH, else the newest `/usr/lib/postgresql/<N>/bin` (Debian
  keeps them off PATH). When there are none and we are root with apt-get, install Debian's `postgresql` package
  with its automatic "main" cluster turned off, so the install starts no server of its own.
* **Not as root**: PostgreSQL refuses to run as root. As root, the server runs as the `postgres` user (created
  with `useradd --system` when missing); otherwise as whoever we are.
* **Fast and disposable**: fsync, full-page writes and synchronous commit are off — a crash loses the data dir,
  which is thrown away anyway. TCP on 127.0.0.1 only, plus a unix socket inside the temp dir. The superuser
  `paperbot` has a random password (TCP needs it, so tests can check that it never leaks).
* **Always stopped**: `stop()` runs `pg_ctl stop` (fast, then immediate, then SIGKILL) and deletes the temp dir.
  Against the owner dying without cleaning up (kill -9 of pytest, CI cancelled), a small *guard* process is
  started beside the server: it waits on the owner's pidfd (no polling) and stops the server when the owner
  exits. `stop()` ends the guard too, so the guard lives exactly as long as the server.

CLI (used by `.ci/postgres`)::

    python -m tests.postgres_server start [--owner PID]   # prints `export PAPERBOT_TEST_POSTGRES_URL=…` lines
    python -m tests.postgres_server stop DIR              # stops the server living in DIR and deletes DIR
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import secrets
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

__all__ = [
    "SERVER_SETTINGS",
    "PostgresUnavailable",
    "ThrowawayPostgres",
    "find_bindir",
    "provide_bindir",
    "running",
    "start",
    "stop_dir",
    "with_database",
]

URL_VARIABLE = "PAPERBOT_TEST_POSTGRES_URL"
DIR_VARIABLE = "PAPERBOT_TEST_POSTGRES_DIR"
SUPERUSER = "paperbot"
SERVER_USER = "postgres"  # the unprivileged account the server runs as when we are root
_DEBIAN_LIB = Path("/usr/lib/postgresql")
_CREATECLUSTER_CONF = Path("/etc/postgresql-common/createcluster.conf")
_START_TIMEOUT_S = 60
_STOP_TIMEOUT_S = 30
_PORT_ATTEMPTS = 5  # a free port can be taken between our probe and the server's bind; try another

# Durability is worthless for a data dir deleted after the run; these make initdb + tests several times faster.
SERVER_SETTINGS: Mapping[str, str] = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "max_wal_size": "'2GB'",  # bulk loads (bench) would otherwise checkpoint every 1 GB of WAL
    "checkpoint_timeout": "'30min'",
    "shared_buffers": "'128MB'",
    "max_connections": "100",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here and no way to install them (not root, or no apt-get)."""


# ------------------------------------------------------------------------------------------ binaries


def find_bindir() -> Path | None:
    """The directory holding `postgres`, `initdb` and `pg_ctl`, or None when PostgreSQL is not installed."""
    on_path = shutil.which("postgres")
    if on_path:
        bindir = Path(on_path).resolve().parent
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl")):
            return bindir
    versions = sorted(
        (p for p in _DEBIAN_LIB.glob("*/bin") if (p / "postgres").is_file() and p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    return versions[-1] if versions else None


def provide_bindir(*, install: bool = True) -> Path:
    """Find the binaries, installing Debian's `postgresql` package first when they are missing and we may."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    if not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (postgres, initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql, "
            "and they cannot be installed here (needs root and apt-get): install the 'postgresql' package"
        )
    try:
        _apt_install_postgresql()
    except (OSError, subprocess.CalledProcessError) as exc:
        message = f"PostgreSQL binaries missing and installing Debian's 'postgresql' failed: {exc}"
        raise PostgresUnavailable(message) from exc
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable("installed Debian's 'postgresql' package but found no server binaries after it")
    return bindir


def _apt_install_postgresql() -> None:
    # Debian's postinst would create and start a "main" cluster on port 5432; we want binaries only.
    if not _CREATECLUSTER_CONF.exists():
        _CREATECLUSTER_CONF.parent.mkdir(parents=True, exist_ok=True)
        _CREATECLUSTER_CONF.write_text("create_main_cluster = false\n", encoding="utf-8")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print("postgres: installing Debian's 'postgresql' package (binaries missing)", file=sys.stderr, flush=True)

    # apt's chatter goes to stderr: `.ci/postgres start`'s stdout is eval'd by the shell.
    def apt(*args: str) -> None:
        subprocess.run(["apt-get", *args], env=env, check=True, stdin=subprocess.DEVNULL, stdout=sys.stderr)

    apt("update", "-qq")
    apt("install", "-y", "-qq", "--no-install-recommends", "-o", "Dpkg::Options::=--force-confold", "postgresql")


# ------------------------------------------------------------------------------------------ the account


@dataclass(frozen=True, slots=True)
class _Account:
    """Who the server's processes run as: None fields mean "as ourselves" (we are not root)."""

    uid: int | None = None
    gid: int | None = None

    def popen_kwargs(self) -> dict[str, object]:
        if self.uid is None:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def own(self, path: Path) -> None:
        if self.uid is not None:
            os.chown(path, self.uid, self.gid if self.gid is not None else -1)


def _server_account() -> _Account:
    if os.geteuid() != 0:
        return _Account()
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            stdin=subprocess.DEVNULL,
        )
        entry = pwd.getpwnam(SERVER_USER)
    return _Account(entry.pw_uid, entry.pw_gid)


# ------------------------------------------------------------------------------------------ the server


@dataclass(slots=True)
class ThrowawayPostgres:
    """A running throwaway server. `root` holds everything it wrote: `data/`, `socket/`, `server.log`."""

    root: Path
    bindir: Path
    port: int
    password: str
    user: str = SUPERUSER
    host: str = "127.0.0.1"
    _guard: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, from its pid file (None once it has stopped)."""
        return _postmaster_pid(self.data_dir)

    def url(self, database: str = "postgres") -> str:
        """A libpq URL (both drivers accept it) for `database`, over TCP, with the password in it."""
        return f"postgresql://{self.user}:{quote(self.password, safe='')}@{self.host}:{self.port}/{database}"

    def halt(self, mode: str = "fast") -> None:
        """Shut the server down but keep its data and port, as an outage would (`resume` starts it again).

        `mode` is pg_ctl's: "fast" disconnects clients and rolls back their transactions; "immediate" is a
        crash as far as clients can tell.
        """
        result = _run_as(
            _server_account(),
            [str(self.bindir / "pg_ctl"), "stop", "--pgdata", str(self.data_dir), "--mode", mode, "--wait",
             "--timeout", str(_STOP_TIMEOUT_S), "--silent"],
            timeout=_STOP_TIMEOUT_S + 10,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {result.stderr.strip()[-2000:]}")

    def resume(self) -> None:
        """Start a halted server again on the same port, with the same data."""
        result = _run_as(
            _server_account(),
            [str(self.bindir / "pg_ctl"), "start", "--pgdata", str(self.data_dir), "--log", str(self.log_file),
             "--wait", "--timeout", str(_START_TIMEOUT_S), "--silent", "-o", f"-p {self.port}"],
            timeout=_START_TIMEOUT_S + 10,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"PostgreSQL did not start again in {self.root}: {_tail(self.log_file)[-2000:]}")

    def stop(self) -> None:
        """Stop the server, end its guard and delete the temp dir. Safe to call twice."""
        stop_dir(self.root)
        if self._guard is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._guard.wait(_STOP_TIMEOUT_S)  # stop_dir ended it; reap it so it leaves no zombie
            self._guard = None


def with_database(url: str, database: str) -> str:
    """The same URL pointing at another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


def start(*, guard_owner: int | None = None, install: bool = True) -> ThrowawayPostgres:
    """initdb a fresh cluster in a new temp dir and start it on a free loopback port.

    `guard_owner`: a process id whose exit, however it happens, stops this server (default: this process).
    Raises `PostgresUnavailable` when there are no binaries and they cannot be installed, and `RuntimeError`
    (with the server log's tail) when the server does not start.
    """
    bindir = provide_bindir(install=install)
    account = _server_account()
    root = Path(tempfile.mkdtemp(prefix="paperbot-pg-"))
    try:
        account.own(root)
        password = secrets.token_hex(16)
        _initdb(bindir, root, password, account)
        server = _start_on_free_port(bindir, root, password, account)
        owner = os.getpid() if guard_owner is None else guard_owner
        server._guard = _start_guard(root, owner)
        return server
    except BaseException:
        stop_dir(root)
        raise


@contextlib.contextmanager
def running(*, install: bool = True) -> Iterator[ThrowawayPostgres]:
    """A throwaway server for the duration of the block, stopped and deleted however the block ends."""
    server = start(install=install)
    try:
        yield server
    finally:
        server.stop()


def _run_as(account: _Account, argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",  # the server user may not be allowed into our working directory
        env={**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"},
        **account.popen_kwargs(),  # type: ignore[arg-type]
    )


def _initdb(bindir: Path, root: Path, password: str, account: _Account) -> None:
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n", encoding="utf-8")
    pwfile.chmod(0o600)
    account.own(pwfile)
    try:
        result = _run_as(
            account,
            [
                str(bindir / "initdb"),
                "--pgdata",
                str(root / "data"),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-local",
                "trust",
                "--auth-host",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
                "--no-sync",
                "--no-instructions",
            ],
            timeout=_START_TIMEOUT_S,
        )
    finally:
        pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")
    socket_dir = root / "socket"
    socket_dir.mkdir()
    account.own(socket_dir)
    settings = {**SERVER_SETTINGS, "unix_socket_directories": f"'{socket_dir}'"}
    with (root / "data" / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write("\n# throwaway test server (tests/postgres_server.py): speed over durability\n")
        conf.writelines(f"{name} = {value}\n" for name, value in settings.items())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_on_free_port(bindir: Path, root: Path, password: str, account: _Account) -> ThrowawayPostgres:
    log = root / "server.log"
    failure = ""
    for _ in range(_PORT_ATTEMPTS):
        port = _free_port()
        result = _run_as(
            account,
            [
                str(bindir / "pg_ctl"),
                "start",
                "--pgdata",
                str(root / "data"),
                "--log",
                str(log),
                "--wait",
                "--timeout",
                str(_START_TIMEOUT_S),
                "--silent",
                "-o",
                f"-p {port}",
            ],
            timeout=_START_TIMEOUT_S + 10,
        )
        if result.returncode == 0:
            return ThrowawayPostgres(root=root, bindir=bindir, port=port, password=password)
        failure = _tail(log) or result.stderr.strip()
        if "could not bind" not in failure and "already in use" not in failure:
            break
    raise RuntimeError(f"PostgreSQL did not start in {root}: {failure[-2000:]}")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / "postmaster.pid").read_text(encoding="utf-8").split("\n", 1)[0]
    except OSError:
        return None
    return int(first) if first.strip().isdigit() else None


# ------------------------------------------------------------------------------------------ stopping


def stop_dir(root: Path) -> None:
    """Stop the server whose cluster lives in `root/data` (if one runs) and delete `root`. Idempotent.

    pg_ctl's fast shutdown first (rolls back open transactions, disconnects clients), then immediate, then
    SIGKILL: the data is thrown away, so only the process matters. Ends the guard recorded in `root/guard.pid`.
    """
    data = root / "data"
    pid = _postmaster_pid(data)
    bindir = find_bindir()
    if pid is not None and _alive(pid) and bindir is not None:
        account = _server_account()
        for mode in ("fast", "immediate"):
            with contextlib.suppress(subprocess.TimeoutExpired):
                _run_as(
                    account,
                    [
                        str(bindir / "pg_ctl"),
                        "stop",
                        "--pgdata",
                        str(data),
                        "--mode",
                        mode,
                        "--wait",
                        "--timeout",
                        str(_STOP_TIMEOUT_S),
                        "--silent",
                    ],
                    timeout=_STOP_TIMEOUT_S + 10,
                )
            if not _alive(pid):
                break
    if pid is not None and _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, _STOP_TIMEOUT_S)
    guard = _read_pid(root / "guard.pid")
    if guard is not None and guard != os.getpid():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(guard, signal.SIGTERM)
    shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited: it only waits for its parent to reap it.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def _wait_gone(pid: int, timeout: float) -> bool:
    """Wait (on a pidfd: no polling) until `pid` has exited; False on timeout."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], timeout)
        return bool(readable) or not _alive(pid)
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


# ------------------------------------------------------------------------------------------ the guard


def _start_guard(root: Path, owner: int) -> subprocess.Popen[bytes]:
    """Start `python -m tests.postgres_server guard ROOT OWNER`: it stops the server when `owner` exits."""
    repo = Path(__file__).resolve().parent.parent
    guard = subprocess.Popen(
        [sys.executable, "-m", "tests.postgres_server", "guard", str(root), str(owner)],
        cwd=repo,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C to the terminal's process group must not take the guard down first
    )
    (root / "guard.pid").write_text(str(guard.pid), encoding="utf-8")
    return guard


def _guard(root: Path, owner: int) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop_dir ends us once the server is down
    try:
        fd = os.pidfd_open(owner)
    except ProcessLookupError:
        fd = None  # the owner is already gone
    if fd is not None:
        select.select([fd], [], [])
    stop_dir(root)
    return 0


# ------------------------------------------------------------------------------------------ the CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.postgres_server", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start_cmd = commands.add_parser("start", help="start a server; print shell exports of its URL and dir")
    start_cmd.add_argument("--owner", type=int, default=None, help="stop the server when this process exits")
    stop_cmd = commands.add_parser("stop", help="stop the server in DIR and delete DIR")
    stop_cmd.add_argument("dir", type=Path)
    guard_cmd = commands.add_parser("guard", help=argparse.SUPPRESS)
    guard_cmd.add_argument("dir", type=Path)
    guard_cmd.add_argument("owner", type=int)
    args = parser.parse_args(argv)
    if args.command == "guard":
        return _guard(args.dir, args.owner)
    if args.command == "stop":
        if not re.fullmatch(r".*/paperbot-pg-[^/]+", str(args.dir.resolve())):
            parser.error(f"{args.dir} is not a throwaway server's dir (paperbot-pg-*); refusing to delete it")
        stop_dir(args.dir)
        return 0
    try:
        server = start(guard_owner=args.owner if args.owner is not None else os.getppid())
    except PostgresUnavailable as exc:
        print(f"postgres: {exc}", file=sys.stderr)
        return 2
    print(f"export {URL_VARIABLE}={shlex.quote(server.url())}")
    print(f"export {DIR_VARIABLE}={shlex.quote(str(server.root))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
