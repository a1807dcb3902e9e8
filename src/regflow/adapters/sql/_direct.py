"""The fast path: hot-path statements compiled once per dialect and run on the DBAPI cursor of
the same pooled connection, where that changes nothing observable."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Final, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.compiler import SQLCompiler


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
    `Connection.execute` wraps them, and a connection the server dropped is invalidated together
    with the pool's older connections, as `Connection.execute` does.

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
                # As `Connection.execute` does: every connection pooled before this one was
                # dropped is replaced at its next checkout (a restarted server or a reset
                # network ended them all), so a restart costs one failure, not one each.
                connection.engine.pool._invalidate(dbapi_connection, error)
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


def first(
    connection: Connection, statement: sa.Select[Any], values: dict[str, Any]
) -> tuple[Any, ...] | None:
    """The statement's first row (as a tuple), or None."""
    if _runs_directly(connection):
        return _direct(statement, connection.dialect).first(connection, values)
    row = connection.execute(statement, values).first()
    return None if row is None else tuple(row)


def rowcount(
    connection: Connection, statement: sa.Insert | sa.Update, values: dict[str, Any]
) -> int:
    """Run a DML statement; the number of rows it changed."""
    if _runs_directly(connection):
        return _direct(statement, connection.dialect).rowcount(connection, values)
    return int(connection.execute(statement, values).rowcount)
