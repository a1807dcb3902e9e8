"""The SQL adapter under connection faults: timeouts, resets, a commit cut off, secure delete.

The PostgreSQL tests reach the server through `tests.fault_proxy.FaultProxy` on loopback, which
freezes, resets or cuts the connections it carries.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from tests.fault_proxy import FaultProxy, fault_proxy
from tests.storage_fixtures import _libpq_url
from tests.storage_support import make_ports, people, register_until_review

from regflow import AdapterError, AdapterTimeout, CommitOutcomeUnknown, FlowNotFound, State
from regflow.adapters.sql import SqlStore, create_engine
from regflow.service import RegistrationService

EXPIRES = dt.datetime(2030, 1, 15, 9, 30, tzinfo=dt.UTC)
PERSONAL_ID = "131052-308T"
RECORDS = people(1)


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the test server."""
    url = sa.make_url(postgres_url)
    with fault_proxy(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


def via(proxy: FaultProxy, url: str) -> str:
    """`url`, reaching the server through `proxy`."""
    proxied = sa.make_url(url).set(host="127.0.0.1", port=proxy.port)
    return proxied.render_as_string(hide_password=False)


def fill_pool(store: SqlStore, size: int) -> None:
    """Open `size` connections at once and give them back, so that the pool holds `size`."""
    connections = [store.engine.connect() for _ in range(size)]
    for connection in connections:
        connection.exec_driver_sql("SELECT 1")
    for connection in connections:
        connection.close()


def save_two_in_a_unit(store: SqlStore, before_commit: Callable[[], None] = lambda: None) -> None:
    """Insert flow-1 and flow-2 in one unit of work (a transaction); run `before_commit` last."""
    with store.unit_of_work() as unit:
        unit.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        unit.flows.save("flow-2", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        before_commit()


def failures(store: SqlStore, requests: int) -> int:
    """How many of `requests` loads of flow-1 (one request each) raised AdapterError."""
    failed = 0
    for _ in range(requests):
        try:
            store.flows.load("flow-1")
        except AdapterError:
            failed += 1
    return failed


# -- 15.4: timeouts and resets ------------------------------------------------------------------


@pytest.mark.postgres
def test_engine_sets_timeouts_and_keepalives(postgres_url: str) -> None:
    """By default PostgreSQL sessions get statement and lock timeouts and TCP keepalives."""
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            show = {
                name: connection.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("statement_timeout", "lock_timeout")
            }
            params = connection.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
        assert show == {"statement_timeout": "10s", "lock_timeout": "5s"}
        assert engine.pool.timeout() == 10  # type: ignore[attr-defined]
        assert params["keepalives"] == "1"
        assert params["keepalives_idle"] == "30"
        assert params["connect_timeout"] == "10"
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_frozen_database_times_out_within_the_bound(postgres_url: str, proxy: FaultProxy) -> None:
    """A database that stops answering gives statement_timeout within statement_timeout + 2 s,
    a new connection gives connect_timeout within the connect timeout, and after the thaw the
    same store works again."""
    url = via(proxy, postgres_url)
    with SqlStore.from_url(url, statement_timeout=1, connect_timeout=2, pool_size=2) as store:
        store.create_schema()
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        proxy.freeze()
        started = time.monotonic()
        with pytest.raises(AdapterTimeout) as statement:
            store.flows.load("flow-1")
        statement_seconds = time.monotonic() - started
        assert statement.value.code == "statement_timeout"
        assert 1.0 <= statement_seconds < 3.5  # statement_timeout 1 s + 2 s grace
        started = time.monotonic()
        with pytest.raises(AdapterTimeout) as connect:
            store.flows.load("flow-1")  # the pool was refreshed: a new connection
        connect_seconds = time.monotonic() - started
        assert connect.value.code == "connect_timeout"
        assert connect_seconds < 3.0
        print(f"frozen: statement {statement_seconds:.2f} s, connect {connect_seconds:.2f} s")
        proxy.thaw()
        assert store.flows.load("flow-1").version == 1


@pytest.mark.postgres
def test_frozen_commit_is_an_unknown_outcome_within_the_bound(
    postgres_url: str, proxy: FaultProxy
) -> None:
    """A database that freezes while a unit commits gives CommitOutcomeUnknown in bounded time."""
    url = via(proxy, postgres_url)
    with SqlStore.from_url(url, statement_timeout=1, pool_size=1, max_overflow=0) as store:
        store.create_schema()
        started = time.monotonic()
        proxy.cut_at(b"COMMIT\x00", deliver=False)
        with pytest.raises(CommitOutcomeUnknown):
            # the COMMIT waits in the frozen proxy, which drops it when it thaws
            save_two_in_a_unit(store, before_commit=proxy.freeze)
        assert time.monotonic() - started < 3.5
        proxy.thaw()
        with pytest.raises(FlowNotFound):  # the server rolled the unit back
            store.flows.load("flow-2")


@pytest.mark.postgres
def test_server_statement_and_lock_timeouts_are_named(postgres_url: str) -> None:
    """A save that waits for a row lock gives lock_timeout, or statement_timeout when only that
    is set; the connection stays usable."""
    with SqlStore.from_url(postgres_url) as store:
        store.create_schema()
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
    cases = {"lock_timeout": {"lock_timeout": 0.3}, "statement_timeout": {"lock_timeout": None}}
    with psycopg.connect(_libpq_url(postgres_url)) as holder:
        holder.execute("SELECT 1 FROM regflow_flows WHERE flow_id = 'flow-1' FOR UPDATE")
        for code, options in cases.items():
            with SqlStore.from_url(postgres_url, statement_timeout=0.5, **options) as store:
                started = time.monotonic()
                with pytest.raises(AdapterTimeout) as error:
                    store.flows.save(
                        "flow-1", {"state": "y"}, expected_version=1, expires_at=EXPIRES
                    )
                assert error.value.code == code
                assert time.monotonic() - started < 2.0
                assert store.flows.load("flow-1").version == 1


def test_busy_sqlite_is_a_lock_timeout(sqlite_url: str) -> None:
    """A SQLite write that waits past the busy timeout gives lock_timeout."""
    with SqlStore.from_url(sqlite_url, sqlite_busy_timeout=0.2) as store:
        store.create_schema()
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        with store.engine.connect() as holder:
            holder.exec_driver_sql("UPDATE regflow_flows SET state = 'held'")  # BEGIN IMMEDIATE
            with pytest.raises(AdapterTimeout) as error:
                store.flows.save("flow-1", {"state": "y"}, expected_version=1, expires_at=EXPIRES)
        assert error.value.code == "lock_timeout"


@pytest.mark.postgres
def test_a_reset_costs_at_most_one_failed_request(postgres_url: str, proxy: FaultProxy) -> None:
    """After every pooled connection is reset, one request fails and the rest work, reset after
    reset, without restarting anything."""
    url = via(proxy, postgres_url)
    with SqlStore.from_url(url, pool_size=5, max_overflow=0) as store:
        store.create_schema()
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        per_reset = []
        for _ in range(3):
            fill_pool(store, 5)
            assert proxy.reset() == 5
            per_reset.append(failures(store, 10))
        print(f"failed requests per reset of 5 pooled connections: {per_reset}")
        assert all(count <= 1 for count in per_reset)
        assert failures(store, 5) == 0


@pytest.mark.postgres
def test_a_reset_during_concurrent_requests_recovers(postgres_url: str, proxy: FaultProxy) -> None:
    """Threads making requests while every connection is reset: each thread sees at most one
    failure per reset, and all of them work afterwards."""
    url = via(proxy, postgres_url)
    with SqlStore.from_url(url, pool_size=4, max_overflow=0) as store:
        store.create_schema()
        store.flows.save("flow-1", {"state": "x"}, expected_version=None, expires_at=EXPIRES)
        fill_pool(store, 4)
        stop = threading.Event()
        failed = [0] * 4

        def requests(index: int) -> None:
            while not stop.is_set():
                try:
                    store.flows.load("flow-1")
                except AdapterError:
                    failed[index] += 1

        threads = [threading.Thread(target=requests, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        proxy.reset()
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join()
        assert all(count <= 1 for count in failed), failed
        assert failures(store, 8) == 0


# -- 15.5: a commit cut off ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("delivered", [True, False], ids=["committed", "not-committed"])
def test_approve_whose_commit_is_cut_off_says_the_outcome_is_unknown(
    postgres_url: str, proxy: FaultProxy, *, delivered: bool
) -> None:
    """When the connection drops as approve's COMMIT passes, approve raises
    CommitOutcomeUnknown whether or not the server committed; view() tells which."""
    with SqlStore.from_url(postgres_url) as setup:
        setup.create_schema()
    store = SqlStore.from_url(via(proxy, postgres_url), pool_size=2)
    service = RegistrationService(make_ports(RECORDS), store)
    with store:
        flow = register_until_review(service, RECORDS[0])
        assert flow.review_token is not None
        proxy.cut_at(b"COMMIT\x00", deliver=delivered)
        with pytest.raises(CommitOutcomeUnknown) as error:
            service.approve(flow.id, flow.review_token)
        assert proxy.cut_done.wait(5)
        assert error.value.code == "commit_outcome_unknown"
        assert "reload" in error.value.message("en")
        assert PERSONAL_ID not in str(error.value)
        after = service.view(flow.id)
        account = store.accounts.find_by_email(RECORDS[0].details.email)
        if delivered:
            assert after.state is State.completed
            assert account is not None
        else:
            assert after.state is State.reviewing
            assert account is None
            assert service.approve(flow.id, flow.review_token).state is State.completed


@pytest.mark.postgres
def test_a_statement_cut_off_before_commit_is_a_plain_adapter_error(
    postgres_url: str, proxy: FaultProxy
) -> None:
    """A connection lost before the COMMIT (nothing can have been committed) is AdapterError,
    not CommitOutcomeUnknown."""
    with SqlStore.from_url(via(proxy, postgres_url), pool_size=1) as store:
        store.create_schema()
        proxy.cut_at(b"regflow_flows", deliver=False)
        with pytest.raises(AdapterError) as error:
            save_two_in_a_unit(store)
        assert not isinstance(error.value, CommitOutcomeUnknown)
        with pytest.raises(FlowNotFound):
            store.flows.load("flow-1")


# -- 15.9: secure delete ------------------------------------------------------------------------


def test_purged_flow_leaves_no_personal_data_in_the_sqlite_files(
    sqlite_url: str, tmp_path: Path
) -> None:
    """After a purge the purged flow's personal identity code is in no byte of the database's
    files (the database and its write-ahead log)."""
    past = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    needle = PERSONAL_ID.encode()
    with SqlStore.from_url(sqlite_url) as store:
        store.create_schema()
        for i in range(20):  # enough rows that the page outlives the deletion
            store.flows.save(
                f"keep-{i}", {"state": "x" * 50}, expected_version=None, expires_at=EXPIRES
            )
        snapshot = {"state": "reviewing", "person": {"personal_id": PERSONAL_ID}}
        store.flows.save("gone", snapshot, expected_version=None, expires_at=past)
        files = sorted(tmp_path.glob("regflow.sqlite3*"))
        assert any(needle in path.read_bytes() for path in files)  # the scan can see it
        assert store.flows.purge_expired(dt.datetime(2021, 1, 1, tzinfo=dt.UTC)) == 1
        files = sorted(tmp_path.glob("regflow.sqlite3*"))
        found = [path.name for path in files if needle in path.read_bytes()]
        assert found == []
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert store.flows.load("keep-0").version == 1
