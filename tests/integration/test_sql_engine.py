"""How `regflow.adapters.sql.create_engine` sets up SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import secrets

import psycopg
import pytest
import sqlalchemy as sa
from tests.contract.test_stores import message, new_account
from tests.storage_fixtures import _libpq_url

from regflow import AdapterError, AlreadyRegistered, FlowNotFound
from regflow.adapters.sql import SqlStore, create_engine, flows_table
from regflow.ports import LoginAttempt, StoredFlow

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


# -- the hot path's statements, run on the DBAPI cursor (see regflow.adapters.sql._direct) ----

EXPIRES = dt.datetime(2026, 1, 15, 9, 30, 0, 123456, tzinfo=dt.UTC)
SECRET_ID = "131052-308T"  # a personal identity code: never in an error message


def test_hot_path_stores_what_sqlalchemy_reads(database_url: str) -> None:
    """A flow saved by the direct statements reads back through SQLAlchemy with its types."""
    with SqlStore.from_url(database_url) as store:
        store.create_schema()
        snapshot = {"schema": 1, "state": "reviewing", "data": {"name": "Äino", "n": [1, None]}}
        assert store.flows.save("flow-1", snapshot, expected_version=None, expires_at=EXPIRES) == 1
        with store.engine.connect() as connection:
            row = connection.execute(sa.select(flows_table)).one()
        assert (row.flow_id, row.version, row.state) == ("flow-1", 1, "reviewing")
        assert row.snapshot == snapshot
        assert row.expires_at == EXPIRES
        assert row.expires_at.tzinfo is not None
        assert store.flows.load("flow-1").snapshot == snapshot


def test_database_error_on_the_hot_path_is_an_adapter_error(database_url: str) -> None:
    """A failing direct statement raises AdapterError naming the port, without its values."""
    with SqlStore.from_url(database_url) as store:
        store.create_schema()
        with store.engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE regflow_flows"))
        with pytest.raises(AdapterError) as error:
            store.flows.save(
                SECRET_ID, {"state": SECRET_ID}, expected_version=None, expires_at=EXPIRES
            )
        assert error.value.port == "flows"
        with pytest.raises(AdapterError) as load_error:
            store.flows.load(SECRET_ID)
        for raised in (error.value, load_error.value):
            assert SECRET_ID not in str(raised)
            assert SECRET_ID not in repr(raised.__cause__)
            assert SECRET_ID not in str(raised.__cause__)


def _end_the_pooled_connection(store: SqlStore, url: str) -> None:
    """End, from the server's side, the connection in `store`'s pool (of one)."""
    with store.engine.connect() as connection:
        pid = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    with psycopg.connect(_libpq_url(url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.postgres
def test_a_connection_the_server_dropped_is_replaced(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """After the server ends a pooled connection, one request fails and the next works; the
    dead connection is discarded at once, not tried again when the request ends."""
    with SqlStore.from_url(postgres_url, pool_size=1, max_overflow=0) as store:
        store.create_schema()
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        _end_the_pooled_connection(store, postgres_url)
        with pytest.raises(AdapterError):
            store.flows.load("flow-1")
        assert store.flows.load("flow-1").version == 1
        _end_the_pooled_connection(store, postgres_url)
        with pytest.raises(AdapterError) as error, store.unit_of_work() as unit:
            unit.flows.load("flow-1")
        assert "57P01" in error.value.detail  # the server's "terminating connection" SQLSTATE
        with store.unit_of_work() as unit:
            assert unit.flows.load("flow-1").version == 1
    assert "closing a connection failed" not in caplog.text


def test_a_value_the_column_cannot_store_is_an_adapter_error(database_url: str) -> None:
    """A naive expiry time is refused as AdapterError before anything is written."""
    with SqlStore.from_url(database_url) as store:
        store.create_schema()
        naive = EXPIRES.replace(tzinfo=None)
        with pytest.raises(AdapterError, match="ValueError"):
            store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=naive)
        with pytest.raises(FlowNotFound):
            store.flows.load("flow-1")


def test_statement_listeners_see_every_statement(database_url: str) -> None:
    """With a statement listener (tracing, logging), the hot path goes through execute, and
    behaves the same there: the same rows, a refused duplicate account."""
    engine = create_engine(database_url)
    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2].split()[0]))
    with SqlStore(engine) as store:
        store.create_schema()
        seen.clear()
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        with store.unit_of_work() as unit:
            stored = unit.flows.load("flow-1")
            assert not unit.accounts.exists_for_person(SECRET_ID)
            unit.flows.save("flow-1", {}, expected_version=stored.version, expires_at=EXPIRES)
        assert [word for word in seen if word not in {"PRAGMA", "BEGIN"}] == [
            "INSERT",
            "SELECT",
            "SELECT",
            "UPDATE",
        ]
        assert store.flows.load("flow-1") == StoredFlow({}, 2)
        store.accounts.create(new_account(1, personal_id=SECRET_ID), message(1))
        with pytest.raises(AlreadyRegistered):
            store.accounts.create(new_account(2, personal_id=SECRET_ID), message(2))
        assert store.accounts.exists_for_person(SECRET_ID)


@pytest.mark.postgres
def test_schema_translate_map_applies_to_every_statement(postgres_url: str) -> None:
    """Tables moved to another schema by `schema_translate_map` are used by the hot path too."""
    tenant = "regflow_tenant_" + secrets.token_hex(4)
    with psycopg.connect(_libpq_url(postgres_url), autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {tenant}")
    try:
        engine = create_engine(postgres_url).execution_options(schema_translate_map={None: tenant})
        with SqlStore(engine) as store:
            store.create_schema()
            store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
            assert store.flows.load("flow-1").version == 1
            with store.engine.connect() as connection:
                table = sa.table("regflow_flows", schema=tenant)
                count = connection.execute(sa.select(sa.func.count()).select_from(table))
                assert count.scalar() == 1
    finally:
        with psycopg.connect(_libpq_url(postgres_url), autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {tenant} CASCADE")


def test_sqlite_single_statements_stay_relaxed_after_a_durable_transaction(
    sqlite_url: str,
) -> None:
    """A flow step's save after approve's durable transaction runs at synchronous=NORMAL again."""
    with SqlStore.from_url(sqlite_url, pool_size=1, max_overflow=0) as store:
        store.create_schema()
        with store.engine.begin() as connection:  # a writing transaction: FULL
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        raw = store.engine.raw_connection()  # the same pooled connection, no "begin" event
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1
        finally:
            raw.close()


# -- the outbox and the login failures, named by their ports --------------------------------


def test_outbox_and_login_attempts_are_the_account_store(database_url: str) -> None:
    """`outbox` and `login_attempts` of a store and of a unit are its account store."""
    with SqlStore.from_url(database_url) as store:
        store.create_schema()
        assert store.outbox is store.accounts
        assert store.login_attempts is store.accounts
        now = dt.datetime(2026, 1, 15, 9, 30, tzinfo=dt.UTC)
        with store.unit_of_work() as uow:
            assert uow.outbox is uow.accounts
            assert uow.login_attempts is uow.accounts
            uow.accounts.create(new_account(1), message(1))
            claimed = uow.outbox.claim_messages(now, 10, now + dt.timedelta(minutes=5))
            reserved = uow.login_attempts.reserve_login_attempt(
                LoginAttempt("key-1", None, now), since=now, known_since=now
            )
        assert [m.message.message_id for m in claimed] == [message(1).message_id]
        assert store.outbox.pending_messages(now, 10) == []  # leased by the unit's claim
        later = store.login_attempts.reserve_login_attempt(
            LoginAttempt("key-1", None, now), since=now, known_since=now
        )
        assert later.recent == (LoginAttempt("key-1", None, now),)
        assert later.attempt_id != reserved.attempt_id
