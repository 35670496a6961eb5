"""pytest plugin: a real PostgreSQL server for the session, and a fresh empty database for each test that asks.

Registered in `tests/conftest.py`, so any test can ask for:

* ``postgres_url`` — the URL (``postgresql://user:password@127.0.0.1:port/name``) of a database created for this
  test alone (``CREATE DATABASE … TEMPLATE template0``: empty, UTF-8) and dropped after it, connections and all.
* ``postgres_database`` — the same as a `PostgresDatabase` (``name``, ``url``, ``server``).
* ``postgres_server`` — the session's `PostgresServer` (``url`` of its ``postgres`` database, ``password``),
  for tests that need the server itself (e.g. to check that errors never show the password).

Where the server comes from, in order:

1. ``PAPERBOT_TEST_POSTGRES_URL`` — a server someone else runs (`.ci/run` starts one through `.ci/postgres`); its
   role must be allowed to create databases. It is left running.
2. Otherwise a throwaway server of our own (`tests/postgres_server.py`: initdb into a temp dir, free loopback
   port, unprivileged user, Debian's package installed first when the binaries are missing and we are root),
   started the first time a test asks and stopped at the end of the session — or, if pytest is killed, by the
   server's guard process when pytest's process exits.
3. When neither is possible the PostgreSQL tests are skipped with the reason — except under CI (``CI=true``),
   where a missing server is an error: CI must not turn green by skipping the PostgreSQL backend.

Nothing here depends on the catalogue: it hands out URLs; the backend under test opens its own connections.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import psycopg
import pytest
from psycopg import sql

from tests.postgres_server import URL_VARIABLE, PostgresUnavailable, ThrowawayPostgres, start, with_database

__all__ = [
    "PostgresDatabase",
    "PostgresServer",
    "create_database",
    "drop_database",
    "postgres_database",
    "postgres_server",
    "postgres_url",
]

_CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """The session's server: `url` reaches its `postgres` database as a role that may create databases."""

    url: str
    own: ThrowawayPostgres | None  # None when the server came from PAPERBOT_TEST_POSTGRES_URL

    @property
    def password(self) -> str:
        """The role's password (a secret: tests check it never reaches a log or an error)."""
        return unquote(urlsplit(self.url).password or "")


@dataclass(frozen=True, slots=True)
class PostgresDatabase:
    """One test's own empty database."""

    name: str
    url: str
    server: PostgresServer


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    given = os.environ.get(URL_VARIABLE)
    if given:
        yield PostgresServer(url=given, own=None)
        return
    try:
        own = start()
    except PostgresUnavailable as exc:
        if _in_ci():
            pytest.fail(f"CI needs a PostgreSQL server and none could be had: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server: {exc} (or set {URL_VARIABLE})")
    try:
        yield PostgresServer(url=own.url(), own=own)
    finally:
        own.stop()


def _database_name(node_name: str) -> str:
    """A readable, unique, valid identifier: the test's name, cut to fit PostgreSQL's 63 bytes, plus a suffix."""
    stem = re.sub(r"[^a-z0-9_]+", "_", node_name.lower()).strip("_")[:40]
    return f"t_{stem}_{secrets.token_hex(4)}"


def _admin(server: PostgresServer) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)


def create_database(server: PostgresServer, node_name: str, *, template: str = "template0") -> PostgresDatabase:
    """A new database named after the test, copied from `template` (template0: empty, UTF-8).

    Copying a template that already holds a schema is much cheaper than creating the schema again (a few
    milliseconds of file copying against a migration's dozens of statements). The template must have no open
    connection while it is copied.
    """
    name = _database_name(node_name)
    with _admin(server) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} ENCODING 'UTF8'").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return PostgresDatabase(name=name, url=with_database(server.url, name), server=server)


def drop_database(server: PostgresServer, name: str) -> None:
    """Drop a database, closing whatever connections still use it."""
    # FORCE: a test that failed mid-way may still hold connections; they must not keep the database alive.
    with _admin(server) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def postgres_database(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> Iterator[PostgresDatabase]:
    database = create_database(postgres_server, request.node.name)
    try:
        yield database
    finally:
        drop_database(postgres_server, database.name)


@pytest.fixture
def postgres_url(postgres_database: PostgresDatabase) -> str:
    return postgres_database.url
