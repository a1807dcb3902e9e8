"""How `regflow.adapters.sql.create_engine` sets up SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from regflow import AdapterError
from regflow.adapters.sql import SqlStore, create_engine

DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


def durability(engine: sa.Engine) -> tuple[str, str]:
    """The commit durability of (a writing transaction, a single statement) on `engine`."""
    query = "PRAGMA synchronous" if engine.dialect.name == "sqlite" else "SHOW synchronous_commit"
    with engine.begin() as connection:
        in_transaction = str(connection.exec_driver_sql(query).scalar())
    store = SqlStore(engine)
    with store._scope.single.connect() as connection:  # the flow steps' single statements
        single = str(connection.exec_driver_sql(query).scalar())
    return in_transaction, single


def test_only_flow_steps_commit_without_waiting_for_the_disk(database_url: str) -> None:
    """Transactions wait for the disk; a flow step's single statement does not by default."""
    engine = create_engine(database_url)
    try:
        if engine.dialect.name == "sqlite":
            assert durability(engine) == ("2", "1")  # FULL, NORMAL
        else:
            assert durability(engine) == ("on", "off")
    finally:
        engine.dispose()


def test_durable_steps_makes_every_commit_wait(database_url: str) -> None:
    """With durable_steps=True every commit waits for the disk."""
    engine = create_engine(database_url, durable_steps=True)
    try:
        expected = ("2", "2") if engine.dialect.name == "sqlite" else ("on", "on")
        assert durability(engine) == expected
    finally:
        engine.dispose()


def test_sqlite_uses_wal(sqlite_url: str) -> None:
    """The SQLite file is in WAL mode, so readers never wait for the writer."""
    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()


def test_unreachable_database_is_an_adapter_error() -> None:
    """A database that cannot be reached raises AdapterError, without the URL or parameters."""
    store = SqlStore.from_url("postgresql://nobody@127.0.0.1:1/none")
    with store, pytest.raises(AdapterError) as error:
        store.accounts.exists_for_person("131052-308T")
    assert error.value.port == "accounts"
    assert "131052-308T" not in str(error.value)
    assert "131052-308T" not in repr(error.value.__cause__)


def test_sqlite_engine_must_be_set_up_by_regflow(sqlite_url: str) -> None:
    """A SQLite engine made without `create_engine` (no BEGIN IMMEDIATE, no WAL) is refused."""
    engine = sa.create_engine(sqlite_url)
    try:
        with pytest.raises(ValueError, match="create_engine"):
            SqlStore(engine)
    finally:
        engine.dispose()
