"""Storage fixtures (PostgreSQL, SQLite, in memory), imported by the conftest files that use them.

`storage` is parametrised: each test using it runs on the in-memory fakes, on SQLite (a file in
the test's temporary directory) and on PostgreSQL.

`REGFLOW_TEST_POSTGRES_URL` names the server (CI: postgresql://postgres@127.0.0.1:5432/test).
Unset: the PostgreSQL tests skip, unless `REGFLOW_REQUIRE_POSTGRES=1` (CI sets it), which makes
them fail. Set but unreachable: they fail, with the reason. Each test gets a fresh schema of
its own (dropped afterwards) through the URL's `search_path`, so runs never see each other's
rows, and processes started by a test reach the same schema with the same URL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from regflow.ports import Storage

POSTGRES_URL_ENV = "REGFLOW_TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "REGFLOW_REQUIRE_POSTGRES"


def _libpq_url(url: str) -> str:
    """The URL without SQLAlchemy's `+driver`, as psycopg wants it."""
    scheme, sep, rest = url.partition("://")
    return scheme.split("+", 1)[0] + sep + rest


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The test server's URL; skips or fails (see the module docstring) without a server."""
    import psycopg

    url = os.environ.get(POSTGRES_URL_ENV, "").strip()
    required = os.environ.get(REQUIRE_POSTGRES_ENV, "").strip() not in {"", "0"}
    if not url:
        if required:
            pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_URL_ENV} is not", False)
        pytest.skip(f"{POSTGRES_URL_ENV} is not set: no PostgreSQL to test against")
    try:
        psycopg.connect(_libpq_url(url), connect_timeout=5).close()
    except psycopg.Error as error:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL_ENV}={url} is unreachable: {error}", False)
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A SQLAlchemy URL for a fresh, empty schema on the test server; dropped after the test."""
    import psycopg
    import sqlalchemy as sa

    schema = f"regflow_test_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(postgres_server_url), autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    url = sa.make_url(postgres_server_url).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq_url(postgres_server_url), autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLAlchemy URL for a new SQLite file in the test's temporary directory."""
    return f"sqlite:///{tmp_path / 'regflow.sqlite3'}"


STORAGES = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest) -> Iterator[Storage]:
    """Empty storage of each kind, with its tables created."""
    if request.param == "memory":
        from regflow.adapters.memory import InMemoryStorage

        yield InMemoryStorage()
        return
    from regflow.adapters.sql import SqlStore

    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    with SqlStore.from_url(request.getfixturevalue(fixture)) as store:
        store.create_schema()
        yield store
