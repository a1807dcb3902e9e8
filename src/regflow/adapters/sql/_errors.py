"""How a database error leaves the SQL adapter: as `AdapterError`, naming no statement value."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from regflow.adapters.sql._diagnosis import diagnose
from regflow.errors import AdapterError, AdapterTimeout, CommitOutcomeUnknown


@contextlib.contextmanager
def translate(port: str) -> Iterator[None]:
    """Turn a database error into `AdapterError`, naming only the error's class and SQLSTATE."""
    try:
        yield
    except SQLAlchemyError as error:
        detail = describe(error)
        timeout = timeout_code(error)
        if timeout is not None:
            raise AdapterTimeout(timeout, port, detail) from error
        # a database that is not there, refuses us or lacks the tables says which (issue 11)
        diagnosed = diagnose(port, error, detail)
        raise (diagnosed or AdapterError(port, detail)) from error


def describe(error: SQLAlchemyError) -> str:
    """The error's class and SQLSTATE: no statement, no value."""
    orig = getattr(error, "orig", None)
    cause = orig if orig is not None else error
    sqlstate = getattr(orig, "sqlstate", None)
    return type(cause).__name__ + (f" (SQLSTATE {sqlstate})" if sqlstate else "")


# -- timeouts ---------------------------------------------------------------------------------

# PostgreSQL's SQLSTATEs for a statement cancelled by `statement_timeout` (query_canceled) and
# for `lock_timeout` (lock_not_available).
_TIMEOUT_SQLSTATES: Final = {"57014": "statement_timeout", "55P03": "lock_timeout"}
# psycopg's class for its connect_timeout, and the client's bound on any answer (`_bounded`),
# by name: psycopg is an optional dependency.
_TIMEOUT_CLASSES: Final = {"ConnectionTimeout": "connect_timeout", "NoAnswer": "statement_timeout"}
_SQLITE_BUSY: Final = 5  # SQLITE_BUSY: "database is locked" after the busy timeout


def timeout_code(error: SQLAlchemyError) -> str | None:
    """`AdapterTimeout`'s code when `error` is a timeout (connect, statement, lock), else None."""
    if isinstance(error, PoolTimeout):  # no pooled connection became free in time
        return "connect_timeout"
    orig = getattr(error, "orig", None)
    names = {cls.__name__ for cls in type(orig).__mro__}
    code = next((code for name, code in _TIMEOUT_CLASSES.items() if name in names), None)
    if code is None:
        code = _TIMEOUT_SQLSTATES.get(str(getattr(orig, "sqlstate", None)))
    errorcode = getattr(orig, "sqlite_errorcode", None)
    if code is None and isinstance(errorcode, int) and errorcode & 0xFF == _SQLITE_BUSY:
        code = "lock_timeout"
    return code


# -- commits ----------------------------------------------------------------------------------


@contextlib.contextmanager
def committing(port: str) -> Iterator[None]:
    """Around the statement that commits: losing the connection there (dropped, or no answer in
    time) leaves the outcome unknown, `CommitOutcomeUnknown`; other errors pass unchanged."""
    try:
        yield
    except DBAPIError as error:
        if error.connection_invalidated:
            raise CommitOutcomeUnknown(port, describe(error)) from error
        raise
