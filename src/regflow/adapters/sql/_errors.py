"""How a database error leaves the SQL adapter: as `AdapterError`, naming no statement value."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.exc import SQLAlchemyError

from regflow.adapters.sql._diagnosis import diagnose
from regflow.errors import AdapterError


@contextlib.contextmanager
def translate(port: str) -> Iterator[None]:
    """Turn a database error into `AdapterError`, naming only the error's class and SQLSTATE."""
    try:
        yield
    except SQLAlchemyError as error:
        orig = getattr(error, "orig", None)
        cause = orig if orig is not None else error
        sqlstate = getattr(orig, "sqlstate", None)
        detail = type(cause).__name__ + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
        # a database that is not there, refuses us or lacks the tables says which (issue 11)
        diagnosed = diagnose(port, error, detail)
        raise (diagnosed or AdapterError(port, detail)) from error
