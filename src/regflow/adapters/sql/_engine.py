"""Engines configured for regflow: URL handling, SQLite's locking and durability, PostgreSQL's
commit durability, and the execution options under which a statement is its own transaction."""

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


def create_engine(
    url: str | sa.URL = DEFAULT_URL,
    *,
    durable_steps: bool = False,
    sqlite_busy_timeout: float = 30.0,
    sqlite_synchronous: str = "FULL",
    **options: Any,
) -> Engine:
    """An engine for `url`, configured for regflow; `options` go to `sqlalchemy.create_engine`.

    `postgresql://...` uses psycopg 3. SQLite gets WAL (readers never wait for the writer), a
    busy timeout (writers wait their turn instead of failing with "database is locked"),
    foreign keys, and `BEGIN IMMEDIATE` for transactions that write.

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
    if parsed.get_backend_name() == "postgresql":
        engine = sa.create_engine(parsed, **options)
        if not durable_steps:
            _configure_postgresql(engine)
        return engine
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, **options)
    durable = sqlite_synchronous.upper()
    if durable not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        msg = f"unknown SQLite synchronous mode {sqlite_synchronous!r}"
        raise ValueError(msg)
    in_memory = parsed.database in {None, "", ":memory:"}
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


def _configure_postgresql(engine: Engine) -> None:
    # Sessions commit without waiting for the WAL flush; every explicit transaction (all the
    # writes but a flow step's single UPDATE) switches it back on for itself.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
        dbapi_connection.commit()

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
