"""SQL storage for accounts, the outbox and flows, on SQLAlchemy Core: SQLite or PostgreSQL.

One code path for both engines, chosen by URL: `sqlite:///regflow.sqlite3` (a file; the embedded
default) or `postgresql://user@host/db` (psycopg 3). `metadata` and `create_schema` are public so
the tables can go into an application's own migrations. Install with `regflow[sql]`.

Theory of operation. `SqlStore(engine)` gives the two stores in two flavours:

- `store.accounts` / `store.flows`: each call is its own short transaction (login, the relay,
  operators' scripts).
- `with store.unit_of_work() as uow:` gives `uow.accounts` / `uow.flows` that share one
  transaction: it commits when the block ends normally and rolls back when it raises. The
  transaction begins at the unit's first write, not at its first read, so that what an event
  does before writing (argon2 hashing, a call to the bank's broker) holds no lock. Optimistic
  concurrency makes that safe: the flow's save, `UPDATE ... WHERE version = :expected`, is in
  the same transaction as the unit's other writes, so a flow saved by anyone since the unit
  loaded it makes the save raise `ConcurrentUpdate` and the whole unit roll back (PostgreSQL's
  row lock makes a racing save wait and then see the new version; SQLite's `BEGIN IMMEDIATE`
  serialises writers). When approve's account meets a uniqueness conflict, the unit first
  checks whether its flow was saved meanwhile: two approves of one flow racing end in one
  account and `ConcurrentUpdate`, not `AlreadyRegistered`. So a unit behaves as if loading,
  applying the event and saving were one transaction, which is how `regflow.service` uses it.
  A unit whose only write is the flow's save (every request but approve) opens no transaction
  at all: the save runs at the unit's end as one statement, whose `WHERE version` is the whole
  check (`ConcurrentUpdate` then comes from the end of the `with` block).

Per request that is two statements (load, save) on the common path; approve adds the account
and the queued email, in one transaction with the save. Durability: see `create_engine`.

Uniqueness lives in the database: the normalised, casefolded email (`email_key`) and the
personal identity code each have a unique constraint; a violation becomes `EmailTaken` or
`AlreadyRegistered`. Every other database error becomes `AdapterError`. Engines are created with
`hide_parameters=True`, so no statement parameter (personal identity code, password hash) ever
reaches an error message or a log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Final, cast

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.compiler import SQLCompiler

from regflow.errors import (
    AdapterError,
    AlreadyRegistered,
    ConcurrentUpdate,
    EmailTaken,
    FlowNotFound,
    RegflowError,
)
from regflow.model import Account, ContactDetails, EmailMessage, NewAccount, OutboxMessage
from regflow.ports import Snapshot, StoredFlow
from regflow.validation import email_key

__all__ = [
    "DEFAULT_URL",
    "SqlAccountStore",
    "SqlFlowStore",
    "SqlStore",
    "SqlUnitOfWork",
    "UtcDateTime",
    "accounts_table",
    "create_engine",
    "create_schema",
    "flows_table",
    "login_failures_table",
    "metadata",
    "outbox_table",
]

log = logging.getLogger(__name__)

DEFAULT_URL: Final = "sqlite:///regflow.sqlite3"
_SQLITE_BEGIN: Final = "regflow_sqlite_begin"  # execution option: BEGIN mode of a connection


class UtcDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every engine.

    PostgreSQL stores `timestamp with time zone`; SQLite, which has no such type, stores the
    UTC time as fixed-width text, which sorts and compares correctly.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        """Convert to UTC; naive on SQLite."""
        if value is None:
            return None
        if value.tzinfo is None:
            msg = "naive datetime: regflow stores timezone-aware UTC datetimes only"
            raise ValueError(msg)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        """Timezone-aware UTC."""
        if value is None:
            return None
        if not isinstance(value, dt.datetime):  # pragma: no cover  # the impl returns datetimes
            msg = f"expected a datetime, got {type(value).__name__}"
            raise TypeError(msg)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


metadata: Final = sa.MetaData()

accounts_table: Final = sa.Table(
    "regflow_accounts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    # `validation.email_key(email)`: normalised by email-validator, then casefolded
    sa.Column("email_key", sa.String(320), nullable=False),
    sa.Column("personal_id", sa.String(32), nullable=False),
    sa.Column("customer_number", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("profile", sa.JSON, nullable=False),
    sa.Column("linked_contracts", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("email_key", name="uq_regflow_accounts_email_key"),
    sa.UniqueConstraint("personal_id", name="uq_regflow_accounts_personal_id"),
)

outbox_table: Final = sa.Table(
    "regflow_outbox",
    metadata,
    sa.Column("message_id", sa.String(200), primary_key=True),
    sa.Column(
        "account_id",
        sa.String(64),
        sa.ForeignKey("regflow_accounts.account_id", name="fk_regflow_outbox_account"),
        nullable=True,
    ),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("text_body", sa.Text, nullable=False),
    sa.Column("html_body", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("queued_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UtcDateTime, nullable=True),
    sa.Column("sent_at", UtcDateTime, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=False, default=""),
)
sa.Index(
    "ix_regflow_outbox_pending",
    outbox_table.c.queued_at,
    outbox_table.c.message_id,
    postgresql_where=outbox_table.c.sent_at.is_(None),
    sqlite_where=outbox_table.c.sent_at.is_(None),
)

flows_table: Final = sa.Table(
    "regflow_flows",
    metadata,
    sa.Column("flow_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),  # a copy of the snapshot's, for operators
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("snapshot", sa.JSON, nullable=False),
    sa.Index("ix_regflow_flows_expires_at", "expires_at"),
)

login_failures_table: Final = sa.Table(
    "regflow_login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # an opaque key from `regflow.login` (a digest of the normalised email), never the email
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("failed_at", UtcDateTime, nullable=False),
    sa.Index("ix_regflow_login_failures_subject", "subject", "failed_at"),
)


def create_schema(engine: Engine) -> None:
    """Create regflow's tables and indexes where they do not exist yet."""
    with _translate("storage"):
        metadata.create_all(engine, checkfirst=True)


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
    _CONFIGURED_SQLITE.add(engine)
    return engine


# SQLite engines set up by `create_engine`; `SqlStore` refuses others (see there).
_CONFIGURED_SQLITE: Final[weakref.WeakSet[Engine]] = weakref.WeakSet()


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
        mode = connection.get_execution_options().get(_SQLITE_BEGIN, "IMMEDIATE")
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


@contextlib.contextmanager
def _translate(port: str) -> Iterator[None]:
    """Turn a database error into `AdapterError`, naming only the error's class and SQLSTATE."""
    try:
        yield
    except SQLAlchemyError as error:
        orig = getattr(error, "orig", None)
        cause = orig if orig is not None else error
        sqlstate = getattr(orig, "sqlstate", None)
        detail = type(cause).__name__ + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
        raise AdapterError(port, detail) from error


# -- where statements run -------------------------------------------------------------------


def _single_statement_options(engine: Engine) -> dict[str, Any]:
    """Execution options under which each statement is its own transaction.

    One round trip instead of three (BEGIN, statement, COMMIT) on PostgreSQL; on SQLite no
    explicit BEGIN, so a read never waits for a writer.
    """
    if engine.dialect.name == "sqlite":
        return {_SQLITE_BEGIN: ""}
    return {"isolation_level": "AUTOCOMMIT"}


# The statements on the hot path of every request, built once. Bound parameters in WHERE
# clauses are prefixed with `b_`, so that they never collide with the columns an UPDATE sets
# from the same parameter dict.
_f = flows_table.c
_LOAD_FLOW: Final = sa.select(_f.snapshot, _f.version).where(_f.flow_id == sa.bindparam("b_id"))
_LOAD_FLOW_LOCKED: Final = _LOAD_FLOW.with_for_update()
_FLOW_VERSION: Final = sa.select(_f.version).where(_f.flow_id == sa.bindparam("b_id"))
_FLOW_VALUES: Final = {
    name: sa.bindparam(name, type_=_f[name].type)
    for name in ("version", "state", "expires_at", "snapshot")
}
_INSERT_FLOW: Final = flows_table.insert().values(
    flow_id=sa.bindparam("flow_id", type_=_f.flow_id.type), **_FLOW_VALUES
)
_UPDATE_FLOW: Final = (
    flows_table.update()
    .where(_f.flow_id == sa.bindparam("b_id"), _f.version == sa.bindparam("b_expected"))
    .values(**_FLOW_VALUES)
)
_a = accounts_table.c
_PERSON_EXISTS: Final[sa.Select[Any]] = sa.select(sa.literal_column("1")).where(
    _a.personal_id == sa.bindparam("b_value")
)
_EMAIL_EXISTS: Final[sa.Select[Any]] = sa.select(sa.literal_column("1")).where(
    _a.email_key == sa.bindparam("b_value")
)
_DELETE_ACCOUNT: Final = accounts_table.delete().where(_a.account_id == sa.bindparam("b_id"))
# INSERTs that insert nothing, instead of raising, when a row would break a unique constraint:
# no savepoint is needed to keep the transaction usable (on PostgreSQL an error aborts it),
# which saves approve two round trips. Other constraints still raise. Each names the columns
# approve writes (the outbox's delivery columns start empty).
_ACCOUNT_COLUMNS: Final = tuple(c.name for c in accounts_table.columns)
_QUEUED_COLUMNS: Final = tuple(
    c.name for c in outbox_table.columns if c.name not in {"next_attempt_at", "sent_at"}
)
_INSERTS_UNLESS_TAKEN: Final[dict[tuple[str, str], sa.Insert]] = {
    (name, table.name): dialect.insert(table)
    .values({column: sa.bindparam(column, type_=table.c[column].type) for column in columns})
    .on_conflict_do_nothing()
    .execution_options(preserve_rowcount=True)  # through execute, an INSERT's count is dropped
    for name, dialect in (("postgresql", sa_postgresql), ("sqlite", sa_sqlite))
    for table, columns in ((accounts_table, _ACCOUNT_COLUMNS), (outbox_table, _QUEUED_COLUMNS))
}


class _Direct:
    """One hot-path statement, compiled once for a dialect and run on the DBAPI cursor.

    Every request loads and saves its flow, and two kinds of request ask whether an account
    exists. Through `Connection.execute` each of those statements costs 13-55 us of
    SQLAlchemy's per-call work (event dispatch, execution context, result objects) on top of
    the database's own time: on SQLite that was half of a request's storage time. These
    statements are built and compiled by SQLAlchemy Core like every other, and their values go
    through their columns' own bind and result processors (so they are stored exactly as
    `Connection.execute` stores them); only the execution goes straight to the cursor of the
    same pooled connection, in the same SQLAlchemy-managed transaction. Errors are wrapped as
    `Connection.execute` wraps them, and a connection the server dropped is invalidated.

    Used only where it changes nothing observable (see `_runs_directly`): on SQLite (pysqlite)
    and PostgreSQL (psycopg), with no `echo`, no statement-level event listeners (tracing and
    logging tools then still see every statement) and no `schema_translate_map`.
    """

    def __init__(self, statement: sa.ClauseElement, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if not isinstance(compiled, SQLCompiler):  # pragma: no cover  # every DML/SELECT's is
            msg = f"cannot run {type(statement).__name__} directly"
            raise TypeError(msg)
        self.sql = compiled.string
        self.error: type[Exception] = dialect.loaded_dbapi.Error
        self.order = compiled.positiontup  # parameter names in order; None: named style
        self.binds = {
            name: process
            for name, bind in compiled.binds.items()
            if (process := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }
        columns = statement.selected_columns if isinstance(statement, sa.Select) else ()
        self.results = [
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        ]

    def first(self, connection: Connection, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """The first row, converted by the columns' result processors, or None."""
        with self._cursor(connection, values) as cursor:
            row = cursor.fetchone()
        if row is None:
            return None
        return tuple(
            value if process is None else process(value)
            for value, process in zip(row, self.results, strict=True)
        )

    def rowcount(self, connection: Connection, values: dict[str, Any]) -> int:
        """Run a DML statement; the number of rows it changed."""
        with self._cursor(connection, values) as cursor:
            return int(cursor.rowcount)

    @contextlib.contextmanager
    def _cursor(self, connection: Connection, values: dict[str, Any]) -> Iterator[Any]:
        try:
            params = dict(values)
            for name, process in self.binds.items():
                params[name] = process(params[name])
        except Exception as error:  # a value its column type cannot bind
            raise self._statement_error(error) from error
        args = params if self.order is None else tuple(params[name] for name in self.order)
        if not connection.in_transaction():
            connection.begin()  # what `execute` would do (autobegin), "begin" event included
        dbapi_connection = connection.connection
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(self.sql, args)
            yield cursor
        except self.error as error:
            dropped = connection.dialect.is_disconnect(cast(Any, error), dbapi_connection, cursor)
            if dropped:  # so that the pool replaces it, and the unit's end does not use it
                connection.invalidate(error)
            raise sa.exc.DBAPIError.instance(
                self.sql,
                None,
                error,
                self.error,
                hide_parameters=True,
                connection_invalidated=dropped,
                dialect=connection.dialect,
            ) from error
        except Exception as error:  # e.g. a value the driver cannot adapt
            raise self._statement_error(error) from error
        except BaseException as error:  # interrupted mid-statement: the connection's state is
            connection.invalidate(error)  # unknown, so it is not reused (as execute does)
            raise
        finally:
            cursor.close()

    def _statement_error(self, error: Exception) -> sa.exc.StatementError:
        # As `Connection.execute` reports an error that is not the database's: values hidden.
        return sa.exc.StatementError(
            f"({type(error).__name__}) {error}", self.sql, None, error, hide_parameters=True
        )


# (dialect name, driver) pairs whose DBAPI `_Direct` has been tested with
_DIRECT_DRIVERS: Final = frozenset({("sqlite", "pysqlite"), ("postgresql", "psycopg")})
_STATEMENT_EVENTS: Final = (
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
)


def _runs_directly(connection: Connection) -> bool:
    """Whether `_Direct` may run statements on `connection` (see its docstring)."""
    dialect = connection.dialect
    if (dialect.name, dialect.driver) not in _DIRECT_DRIVERS:
        return False
    engine = connection.engine
    if engine.echo or connection.get_execution_options().get("schema_translate_map"):
        return False
    if dialect.dispatch.handle_error:
        return False
    return not any(getattr(engine.dispatch, name) for name in _STATEMENT_EVENTS)


def _direct(statement: sa.ClauseElement, dialect: sa.Dialect) -> _Direct:
    """`statement` compiled for `dialect`, kept on the dialect (each engine has its own), so
    that the compiled forms go when the engine does."""
    compiled: dict[sa.ClauseElement, _Direct] | None = getattr(dialect, "_regflow_direct", None)
    if compiled is None:
        compiled = {}
        dialect._regflow_direct = compiled  # type: ignore[attr-defined]
    direct = compiled.get(statement)
    if direct is None:
        direct = compiled[statement] = _Direct(statement, dialect)
    return direct


def _first(
    connection: Connection, statement: sa.Select[Any], values: dict[str, Any]
) -> tuple[Any, ...] | None:
    """The statement's first row (as a tuple), or None."""
    if _runs_directly(connection):
        return _direct(statement, connection.dialect).first(connection, values)
    row = connection.execute(statement, values).first()
    return None if row is None else tuple(row)


def _rowcount(
    connection: Connection, statement: sa.Insert | sa.Update, values: dict[str, Any]
) -> int:
    """Run a DML statement; the number of rows it changed."""
    if _runs_directly(connection):
        return _direct(statement, connection.dialect).rowcount(connection, values)
    return int(connection.execute(statement, values).rowcount)


@attrs.frozen
class _Save:
    """A flow save: an INSERT (no expected version) or an UPDATE checking the version."""

    flow_id: str
    expected_version: int | None
    values: dict[str, Any]

    @property
    def new_version(self) -> int:
        return 1 if self.expected_version is None else self.expected_version + 1

    def execute(self, connection: Connection) -> int:
        """Run it; `ConcurrentUpdate` when the stored version is not the expected one."""
        if self.expected_version is None:
            try:
                _rowcount(
                    connection,
                    _INSERT_FLOW,
                    {"flow_id": self.flow_id, "version": 1, **self.values},
                )
            except IntegrityError as error:
                raise ConcurrentUpdate from error
            return 1
        changed = _rowcount(
            connection,
            _UPDATE_FLOW,
            {
                "b_id": self.flow_id,
                "b_expected": self.expected_version,
                "version": self.new_version,
                **self.values,
            },
        )
        if changed != 1:
            raise ConcurrentUpdate
        return self.new_version


class _Autocommit:
    """Each call its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.single = engine.execution_options(**_single_statement_options(engine))

    @property
    def in_transaction(self) -> bool:
        return False

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.single.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        with self.engine.begin() as connection:
            yield connection

    def claim(self, flow_id: str, version: int) -> None:
        """Nothing to claim outside a unit of work."""

    def claims_changed(self, connection: Connection) -> bool:
        """No claims outside a unit of work."""
        del connection
        return False

    def save(self, save: _Save) -> int:
        """One statement, its own transaction."""
        with self.single.connect() as connection:
            version = save.execute(connection)
            connection.commit()
            return version


class _Unit:
    """One unit of work: a transaction begun at its first write; the flows it loaded.

    A unit whose only write is a flow save (most requests) does not open a transaction at all:
    the save waits for the unit's end and runs there as one statement, whose `WHERE version =`
    is the whole check. `ConcurrentUpdate` then comes from the end of the unit. Until a
    transaction begins, the unit's single statements (the load, existence checks, that save)
    share one pooled connection, which holds no transaction and so no lock; it goes back to the
    pool before the unit's transaction takes one, so a unit never holds two.
    """

    def __init__(self, base: _Autocommit) -> None:
        self._base = base
        self._single: Connection | None = None
        self._connection: Connection | None = None
        self._claims: dict[str, int] = {}
        self._pending: _Save | None = None
        self._closed = False

    @property
    def in_transaction(self) -> bool:
        return self._connection is not None

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        if self._closed:  # a flow kept after its unit ended: behave like the plain stores
            with self._base.reading() as connection:
                yield connection
        elif self._connection is not None or self._pending is not None:
            yield self._open()
        else:
            yield self._single_connection()

    @contextlib.contextmanager
    def writing(self) -> Iterator[Connection]:
        if self._closed:
            with self._base.writing() as connection:
                yield connection
        else:
            yield self._open()

    def claim(self, flow_id: str, version: int) -> None:
        if not self._closed:
            self._claims[flow_id] = version

    def save(self, save: _Save) -> int:
        if self._closed:
            return self._base.save(save)
        if self._connection is None and self._pending is None:
            self._pending = save
            return save.new_version
        return save.execute(self._open())

    def _single_connection(self) -> Connection:
        if self._single is None:
            self._single = self._base.single.connect()
        return self._single

    def _release_single(self) -> None:
        single, self._single = self._single, None
        if single is not None:
            try:
                single.close()
            except SQLAlchemyError:  # e.g. a connection the server dropped: the pool drops it
                log.warning("closing a connection failed", exc_info=True)

    def _open(self) -> Connection:
        """The unit's transaction, begun, with the deferred save done first."""
        if self._connection is None:
            self._release_single()
            self._connection = self._base.engine.connect()
            try:
                self._connection.begin()
            except BaseException:
                self._connection.close()
                self._connection = None
                raise
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.execute(self._connection)
        return self._connection

    def claims_changed(self, connection: Connection) -> bool:
        """Whether a flow loaded in this unit has been saved by someone else since."""
        return any(
            connection.execute(_FLOW_VERSION, {"b_id": flow_id}).scalar() != version
            for flow_id, version in self._claims.items()
        )

    def finish(self, *, commit: bool) -> None:
        self._closed = True
        connection, self._connection = self._connection, None
        pending, self._pending = self._pending, None
        if connection is None:
            try:
                if commit and pending is not None:
                    with _translate("flows"):
                        if self._single is None:
                            self._base.save(pending)
                        else:
                            pending.execute(self._single)
                            self._single.commit()
            finally:
                self._release_single()
            return
        with contextlib.closing(connection):
            if commit:
                try:
                    with _translate("storage"):
                        if pending is not None:
                            pending.execute(connection)
                        connection.commit()
                except BaseException:
                    self._rollback(connection)
                    raise
            else:
                self._rollback(connection)

    @staticmethod
    def _rollback(connection: Connection) -> None:
        try:
            connection.rollback()
        except SQLAlchemyError:  # the exception that ended the unit goes on
            log.warning("rollback failed", exc_info=True)


_Scope = _Autocommit | _Unit


# -- the stores -----------------------------------------------------------------------------


def _insert_unless_taken(connection: Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert one row; False, having changed nothing, where a unique constraint refuses it.

    The transaction stays usable either way, so that the caller can find out which rule.
    """
    statement = _INSERTS_UNLESS_TAKEN.get((connection.dialect.name, table.name))
    if statement is not None:
        return _rowcount(connection, statement, values) == 1
    try:  # a database without ON CONFLICT: a savepoint undoes the refused INSERT
        with connection.begin_nested():
            connection.execute(table.insert(), values)
    except IntegrityError:
        return False
    return True


def _exists(connection: Connection, statement: sa.Select[Any], value: str) -> bool:
    return _first(connection, statement, {"b_value": value}) is not None


def _outbox_message(row: sa.Row[Any]) -> OutboxMessage:
    return OutboxMessage(
        message=EmailMessage(
            message_id=row.message_id,
            to=row.recipient,
            subject=row.subject,
            text=row.text_body,
            html=row.html_body,
            language=row.language,
        ),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        outbox_table.c.sent_at.is_(None),
        sa.or_(outbox_table.c.next_attempt_at.is_(None), outbox_table.c.next_attempt_at <= now),
    )


class SqlAccountStore:
    """`AccountStore` on SQL: accounts, their outbox, and login failures."""

    def __init__(self, scope: _Scope) -> None:
        """Prefer `SqlStore(engine).accounts` or a unit of work's `accounts`."""
        self._scope = scope

    def exists_for_person(self, personal_id: str) -> bool:
        """Whether this person has an account."""
        with _translate("accounts"), self._scope.reading() as connection:
            return _exists(connection, _PERSON_EXISTS, personal_id)

    def exists_for_email(self, email: str) -> bool:
        """Whether an account uses this email, case-insensitively."""
        with _translate("accounts"), self._scope.reading() as connection:
            return _exists(connection, _EMAIL_EXISTS, email_key(email))

    def create(self, account: NewAccount, message: EmailMessage) -> None:
        """Insert the account and its queued email in one transaction (in a unit: its
        transaction, which stays usable when the account is refused)."""
        with _translate("accounts"), self._scope.writing() as connection:
            values = {
                "account_id": account.account_id,
                "email": account.email,
                "email_key": email_key(account.email),
                "personal_id": account.personal_id,
                "customer_number": account.customer_number,
                "password_hash": account.password_hash,
                "profile": attrs.asdict(account.profile),
                "linked_contracts": list(account.linked_contracts),
                "created_at": account.created_at,
            }
            if not _insert_unless_taken(connection, accounts_table, values):
                raise _uniqueness_error(connection, account, self._scope)
            queued = {
                "message_id": message.message_id,
                "account_id": account.account_id,
                "recipient": message.to,
                "subject": message.subject,
                "text_body": message.text,
                "html_body": message.html,
                "language": message.language,
                "queued_at": account.created_at,
                "attempts": 0,
                "last_error": "",
            }
            if not _insert_unless_taken(connection, outbox_table, queued):
                # Both or neither: take the account back (a second approve of one flow queues
                # the same message id).
                connection.execute(_DELETE_ACCOUNT, {"b_id": account.account_id})
                raise _uniqueness_error(connection, account, self._scope, message_taken=True)

    def find_by_email(self, email: str) -> Account | None:
        """The account with this email, case-insensitively."""
        with _translate("accounts"), self._scope.reading() as connection:
            row = connection.execute(
                sa.select(accounts_table).where(accounts_table.c.email_key == email_key(email))
            ).first()
        if row is None:
            return None
        return Account(
            account_id=row.account_id,
            email=row.email,
            personal_id=row.personal_id,
            customer_number=row.customer_number,
            password_hash=row.password_hash,
            profile=ContactDetails(**row.profile),
            linked_contracts=tuple(row.linked_contracts),
            created_at=row.created_at,
        )

    def pending_messages(self, now: dt.datetime, limit: int) -> Sequence[OutboxMessage]:
        """Unsent messages due at `now`, oldest first."""
        with _translate("accounts"), self._scope.reading() as connection:
            rows = connection.execute(
                sa.select(outbox_table)
                .where(_due(now))
                .order_by(outbox_table.c.queued_at, outbox_table.c.message_id)
                .limit(limit)
            ).all()
        return [_outbox_message(row) for row in rows]

    def claim_messages(
        self, now: dt.datetime, limit: int, lease_until: dt.datetime
    ) -> Sequence[OutboxMessage]:
        """Lease up to `limit` due messages; PostgreSQL skips rows another relay is claiming."""
        with _translate("accounts"), self._scope.writing() as connection:
            rows = connection.execute(
                sa.select(outbox_table)
                .where(_due(now))
                .order_by(outbox_table.c.queued_at, outbox_table.c.message_id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                connection.execute(
                    outbox_table.update()
                    .where(outbox_table.c.message_id.in_([row.message_id for row in rows]))
                    .values(next_attempt_at=lease_until)
                )
        return [_outbox_message(row) for row in rows]

    def mark_sent(self, message_id: str, now: dt.datetime) -> None:
        """Record the delivery; a message already marked sent keeps its first record."""
        with _translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                outbox_table.update()
                .where(outbox_table.c.message_id == message_id, outbox_table.c.sent_at.is_(None))
                .values(sent_at=now, attempts=outbox_table.c.attempts + 1, next_attempt_at=None)
            )

    def mark_failed(self, message_id: str, error: str, retry_at: dt.datetime) -> None:
        """Record a failed attempt and the time of the next one."""
        with _translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                outbox_table.update()
                .where(outbox_table.c.message_id == message_id, outbox_table.c.sent_at.is_(None))
                .values(
                    attempts=outbox_table.c.attempts + 1,
                    next_attempt_at=retry_at,
                    last_error=error[:500],
                )
            )

    def update_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace the account's password hash."""
        with _translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                accounts_table.update()
                .where(accounts_table.c.account_id == account_id)
                .values(password_hash=password_hash)
            )

    def login_failures(self, key: str, since: dt.datetime) -> Sequence[dt.datetime]:
        """The failures recorded for `key` at or after `since`, oldest first."""
        table = login_failures_table
        with _translate("accounts"), self._scope.reading() as connection:
            return list(
                connection.execute(
                    sa.select(table.c.failed_at)
                    .where(table.c.subject == key, table.c.failed_at >= since)
                    .order_by(table.c.failed_at)
                ).scalars()
            )

    def record_login_failure(
        self, key: str, at: dt.datetime, *, forget_before: dt.datetime
    ) -> None:
        """Record a failure and forget the key's failures before `forget_before`."""
        table = login_failures_table
        with _translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                table.delete().where(table.c.subject == key, table.c.failed_at < forget_before)
            )
            connection.execute(table.insert(), {"subject": key, "failed_at": at})

    def clear_login_failures(self, key: str) -> None:
        """Forget the key's failures."""
        table = login_failures_table
        with _translate("accounts"), self._scope.writing() as connection:
            connection.execute(table.delete().where(table.c.subject == key))


def _uniqueness_error(
    connection: Connection, account: NewAccount, scope: _Scope, *, message_taken: bool = False
) -> RegflowError:
    # Nothing was inserted and the transaction is still usable, so it can ask which rule was
    # broken. A flow of this unit saved by someone else since it was loaded is the real cause
    # (two approves of one flow racing: the loser meets the winner's account); otherwise the
    # same order as the in-memory store (person first) keeps the answer the same on every store.
    if scope.claims_changed(connection):
        return ConcurrentUpdate()
    if _exists(connection, _PERSON_EXISTS, account.personal_id):
        return AlreadyRegistered()
    if _exists(connection, _EMAIL_EXISTS, email_key(account.email)):
        return EmailTaken()
    if message_taken:
        return AlreadyRegistered()  # this flow's confirmation email is queued already
    # The conflicting account is gone already (deleted since), or the account id collided.
    return AdapterError("accounts", "integrity error")


class SqlFlowStore:
    """`FlowStore` on SQL: snapshots as JSON, with a version number per flow."""

    def __init__(self, scope: _Scope) -> None:
        """Prefer `SqlStore(engine).flows` or a unit of work's `flows`."""
        self._scope = scope

    def load(self, flow_id: str) -> StoredFlow:
        """The stored snapshot and its version (in a unit of work, remembered for its save)."""
        with _translate("flows"), self._scope.reading() as connection:
            statement = _LOAD_FLOW_LOCKED if self._scope.in_transaction else _LOAD_FLOW
            row = _first(connection, statement, {"b_id": flow_id})
        if row is None:
            raise FlowNotFound
        snapshot, version = row
        self._scope.claim(flow_id, version)
        return StoredFlow(snapshot, version)

    def save(
        self,
        flow_id: str,
        snapshot: Snapshot,
        *,
        expected_version: int | None,
        expires_at: dt.datetime,
    ) -> int:
        """Insert (expected_version None) or update where the version still matches.

        In a unit of work whose only write this is, the statement runs when the unit ends, and
        a `ConcurrentUpdate` is raised from there.
        """
        values = {
            "snapshot": snapshot,
            "state": str(snapshot.get("state", "")),
            "expires_at": expires_at,
        }
        with _translate("flows"):
            return self._scope.save(_Save(flow_id, expected_version, values))

    def purge_expired(self, now: dt.datetime) -> int:
        """Delete flows whose expiry is before `now`."""
        with _translate("flows"), self._scope.writing() as connection:
            result = connection.execute(flows_table.delete().where(flows_table.c.expires_at < now))
            return int(result.rowcount)


@attrs.frozen
class SqlUnitOfWork:
    """The stores of one unit of work: their writes commit together or not at all."""

    accounts: SqlAccountStore
    flows: SqlFlowStore


class SqlStore:
    """Accounts, outbox and flows in one SQL database; see the module's theory of operation.

    Build with `SqlStore.from_url(url)` or `SqlStore(engine)`; `create_schema()` creates the
    tables (or put `regflow.adapters.sql.metadata` into your migrations). Closing the store
    disposes of the engine's connections.
    """

    def __init__(self, engine: Engine) -> None:
        """A store on `engine`, which must come from `create_engine` when it is SQLite's."""
        if engine.dialect.name == "sqlite" and engine not in _CONFIGURED_SQLITE:
            msg = (
                "a SQLite engine for SqlStore must come from regflow.adapters.sql.create_engine, "
                "which sets up its locking (BEGIN IMMEDIATE, WAL, a busy timeout)"
            )
            raise ValueError(msg)
        self.engine = engine
        self._scope = _Autocommit(engine)
        self._accounts = SqlAccountStore(self._scope)
        self._flows = SqlFlowStore(self._scope)

    @classmethod
    def from_url(cls, url: str | sa.URL = DEFAULT_URL, **options: Any) -> SqlStore:
        """A store on a new engine for `url` (see `create_engine` for `options`, such as
        `durable_steps`)."""
        return cls(create_engine(url, **options))

    @property
    def accounts(self) -> SqlAccountStore:
        """The account store; each call is its own transaction."""
        return self._accounts

    @property
    def flows(self) -> SqlFlowStore:
        """The flow store; each call is its own transaction."""
        return self._flows

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        """Stores sharing one transaction: committed on normal exit, rolled back on a raise."""
        unit = _Unit(self._scope)
        commit = False
        try:
            yield SqlUnitOfWork(SqlAccountStore(unit), SqlFlowStore(unit))
            commit = True
        finally:
            unit.finish(commit=commit)

    def create_schema(self) -> None:
        """Create the tables where they do not exist yet."""
        create_schema(self.engine)

    def close(self) -> None:
        """Dispose of the engine's pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
