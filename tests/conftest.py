"""Shared fixtures: a fresh PostgreSQL database per test session, when one is configured.

Set CREDENCE_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)
to run the PostgreSQL tests. Without it they skip, except under CI=true, where
a skipped PostgreSQL test is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_ENV = "CREDENCE_TEST_POSTGRES_URL"


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The configured server URL; skips (or, under CI, fails) when there is none."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user@host:port/db"
        if os.environ.get("CI") == "true":
            pytest.fail(f"under CI=true a skipped PostgreSQL test is a failure: {message}")
        pytest.skip(message)
    return url


@contextmanager
def new_postgres_database(server: str) -> Iterator[str]:
    """A new, empty database on the server, dropped when the block ends."""
    import psycopg

    name = f"credence_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the server for one test, dropped afterwards."""
    with new_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """A ledger address for each backend: memory, a SQLite file, a fresh PostgreSQL database."""
    kind = request.param
    if kind == "memory":
        return "memory:"
    if kind == "sqlite":
        return str(tmp_path) + "/ledger.db"  # type: ignore[operator]
    return str(request.getfixturevalue("postgres_url"))
