"""Engines configured for regflow: URL handling, SQLite's locking, durability and secure delete,
PostgreSQL's commit durability and timeouts, and the execution options under which a statement
is its own transaction."""

from __future__ import annotations

import functools
import json
import weakref
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

DEFAULT_URL: Final = "sqlite:///regflow.sqlite3"
SQLITE_BEGIN: Final = "regflow_sqlite_begin"  # execution option: BEGIN mode of a connection

DEFAULT_CONNECT_TIMEOUT: Final = 10  # seconds (libpq: whole seconds, at least 2)
DEFAULT_STATEMENT_TIMEOUT: Final = 10.0  # seconds
DEFAULT_LOCK_TIMEOUT: Final = 5.0  # seconds
DEFAULT_SQLITE_BUSY_TIMEOUT: Final = 30.0  # seconds
# How much longer than `statement_timeout` the client waits for any answer before it gives the
# connection up: the server's own cancellation normally arrives first.
ANSWER_GRACE: Final = 2.0  # seconds
# TCP keepalives (libpq's parameters): an idle pooled connection to a host that is gone is
# found dead after about idle + interval * count = 60 s instead of the kernel's two hours.
KEEPALIVES: Final = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10}
KEEPALIVES_COUNT: Final = 3


def create_engine(
    url: str | sa.URL = DEFAULT_URL,
    *,
    durable_steps: bool = False,
    connect_timeout: int | None = DEFAULT_CONNECT_TIMEOUT,
    statement_timeout: float | None = DEFAULT_STATEMENT_TIMEOUT,
    lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
    sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT,
    sqlite_synchronous: str = "FULL",
    **options: Any,
) -> Engine:
    """An engine for `url`, configured for regflow; `options` go to `sqlalchemy.create_engine`.

    `postgresql://...` uses psycopg 3. SQLite gets WAL (readers never wait for the writer), a
    busy timeout (writers wait their turn, up to `sqlite_busy_timeout` seconds, instead of
    failing at once with "database is locked"), foreign keys, `secure_delete` (deleted rows are
    overwritten with zeros in the file) and `BEGIN IMMEDIATE` for transactions that write.

    Timeouts (seconds; None leaves the driver's or server's own setting), each raising
    `regflow.AdapterTimeout` with a code that names it:

    - `connect_timeout` (`connect_timeout`): PostgreSQL's connection (libpq rounds to whole
      seconds, at least 2); also how long a request waits for a free pooled connection
      (`pool_timeout`).
    - `statement_timeout` (`statement_timeout`): PostgreSQL's `statement_timeout` for every
      session; the client also waits at most `statement_timeout + ANSWER_GRACE` for any answer
      (a frozen server, a network gone quiet) before it drops the connection.
    - `lock_timeout` (`lock_timeout`): PostgreSQL's `lock_timeout`; on SQLite, the busy timeout
      plays that part (a busy database is `lock_timeout` too).

    PostgreSQL connections also get TCP keepalives (`KEEPALIVES`) and a `tcp_user_timeout`
    equal to the answer bound, unless `connect_args` or the URL set them. After a dropped
    connection the whole pool is refreshed (as SQLAlchemy does for its own statements), so a
    database restart costs one failed request, not one per pooled connection.

    Durability: every transaction that creates or changes an account or the outbox (approve,
    the relay, login bookkeeping) waits until it is on disk (SQLite `synchronous=FULL`, or
    `sqlite_synchronous`; PostgreSQL `synchronous_commit=on`). The save of an ordinary flow
    step, a single statement, does not wait (SQLite `synchronous=NORMAL`, PostgreSQL
    `synchronous_commit=off`): a power cut or an operating system crash can lose the last
    moments of flow steps, which their users then repeat, but never a committed account or
    email, and the database stays consistent (a later durable commit makes the earlier steps
    durable too). `durable_steps=True` makes every commit wait for the disk, at about 0.3-0.5 ms
    a step on an ordinary SSD.
    """
    parsed = sa.make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    options.setdefault("hide_parameters", True)
    options.setdefault(
        "json_serializer", functools.partial(json.dumps, separators=(",", ":"), ensure_ascii=False)
    )
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in {None, "", ":memory:"}
    if connect_timeout is not None and not in_memory and "poolclass" not in options:
        options.setdefault("pool_timeout", connect_timeout)
    if parsed.get_backend_name() == "postgresql":
        answer = None if statement_timeout is None else statement_timeout + ANSWER_GRACE
        connect_args = options.pop("connect_args", {})
        given = set(parsed.query) | set(connect_args)
        defaults: dict[str, Any] = {**KEEPALIVES, "keepalives_count": KEEPALIVES_COUNT}
        if answer is not None:
            defaults["tcp_user_timeout"] = int(answer * 1000)
        if connect_timeout is not None:
            defaults["connect_timeout"] = connect_timeout
        connect_args.update({k: v for k, v in defaults.items() if k not in given})
        engine = sa.create_engine(parsed, connect_args=connect_args, **options)
        _configure_postgresql(
            engine,
            relaxed_steps=not durable_steps,
            statement_timeout=statement_timeout,
            lock_timeout=lock_timeout,
            answer_timeout=answer,
        )
        return engine
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, **options)
    durable = sqlite_synchronous.upper()
    if durable not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        msg = f"unknown SQLite synchronous mode {sqlite_synchronous!r}"
        raise ValueError(msg)
    connect_args = options.pop("connect_args", {})
    connect_args.setdefault("timeout", sqlite_busy_timeout)
    connect_args.setdefault("check_same_thread", False)
    if in_memory:
        options.setdefault("poolclass", StaticPool)  # one connection: one shared database
    engine = sa.create_engine(parsed, connect_args=connect_args, **options)
    relaxed = durable if durable_steps or durable == "OFF" else "NORMAL"
    _configure_sqlite(engine, durable=durable, relaxed=relaxed, wal=not in_memory)
    CONFIGURED_SQLITE.add(engine)
    return engine


# SQLite engines set up by `create_engine`; `SqlStore` refuses others (see there).
CONFIGURED_SQLITE: Final[weakref.WeakSet[Engine]] = weakref.WeakSet()


def _configure_sqlite(engine: Engine, *, durable: str, relaxed: str, wal: bool) -> None:
    # SQLAlchemy's documented recipe: stop pysqlite from issuing its own BEGIN, and emit ours,
    # so that writing transactions take the write lock up front (BEGIN IMMEDIATE) and wait for
    # it under the busy timeout, rather than failing when a read lock cannot be upgraded.
    # SQLite's safety level belongs to the connection and cannot change inside a transaction,
    # so it is set just before each BEGIN (or single statement), when it differs.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={relaxed}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # A deleted flow's personal data is overwritten, not left readable in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
        finally:
            cursor.close()
        record.info["regflow_synchronous"] = relaxed

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
        synchronous = durable if mode else relaxed
        if connection.info.get("regflow_synchronous") != synchronous:
            connection.exec_driver_sql(f"PRAGMA synchronous={synchronous}")
            connection.info["regflow_synchronous"] = synchronous
        if mode:  # "": no BEGIN; each statement is its own transaction
            connection.exec_driver_sql(f"BEGIN {mode}")


def _configure_postgresql(
    engine: Engine,
    *,
    relaxed_steps: bool,
    statement_timeout: float | None,
    lock_timeout: float | None,
    answer_timeout: float | None,
) -> None:
    # Sessions commit without waiting for the WAL flush; every explicit transaction (all the
    # writes but a flow step's single UPDATE) switches it back on for itself.
    settings = []
    if relaxed_steps:
        settings.append("SET synchronous_commit TO off")
    for name, seconds in (("statement_timeout", statement_timeout), ("lock_timeout", lock_timeout)):
        if seconds is not None:
            settings.append(f"SET {name} TO {max(1, round(seconds * 1000))}")
    session = "; ".join(settings)

    if answer_timeout is not None:

        @sa.event.listens_for(engine, "do_connect")
        def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            from regflow.adapters.sql._bounded import BoundedConnection

            connection = BoundedConnection.connect(*cargs, **cparams)
            connection.answer_timeout = answer_timeout
            return connection

    if session:

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(session)
            dbapi_connection.commit()

    if relaxed_steps:

        @sa.event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO on")


def single_statement_options(engine: Engine) -> dict[str, Any]:
    """Execution options under which each statement is its own transaction.

    One round trip instead of three (BEGIN, statement, COMMIT) on PostgreSQL; on SQLite no
    explicit BEGIN, so a read never waits for a writer.
    """
    if engine.dialect.name == "sqlite":
        return {SQLITE_BEGIN: ""}
    return {"isolation_level": "AUTOCOMMIT"}
