"""Which database failure it is: the server is not there, refuses us, or lacks regflow's tables.

`diagnose` reads the driver's error (psycopg, sqlite3) and returns `DatabaseUnavailable` with a
reason, or `SchemaMissing`, or None for any other failure (left to `translate`'s general
`AdapterError`). The driver's text is read here and never passed on: it may name the host, the
user or the file, and only a fixed reason leaves this module (plus a regflow table's name).
"""

from __future__ import annotations

import re
from typing import Final

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from regflow.errors import AdapterError, DatabaseUnavailable, SchemaMissing

UNDEFINED_TABLE: Final = "42P01"  # PostgreSQL's SQLSTATE for a missing table
_MISSING_TABLE: Final = re.compile(r'no such table: (\w+)|relation "(\w+)" does not exist')

# (reason, phrases of libpq, psycopg and sqlite3, lowercased); the first match wins
_REASONS: Final = (
    ("connection_refused", ("connection refused",)),
    (
        "host_not_found",
        (
            "could not translate host name",
            "name or service not known",
            "nodename nor servname",
            "temporary failure in name resolution",
            "no address associated with hostname",
        ),
    ),
    ("login_refused", ("password authentication failed", "no password supplied")),
    ("timed_out", ("timeout expired", "timed out")),
    ("file_unopenable", ("unable to open database file",)),
)
# libpq's words for a connection attempt that failed for another reason
_CONNECTING: Final = ("connection failed", "could not connect", "connection to server at")
_LOGIN_SQLSTATES: Final = frozenset({"28000", "28P01"})
_NO_DATABASE_SQLSTATE: Final = "3D000"
_NO_DATABASE: Final = re.compile(r'database "[^"]*" does not exist')


def diagnose(port: str, error: SQLAlchemyError, detail: str) -> AdapterError | None:
    """`DatabaseUnavailable` or `SchemaMissing` for `error`, or None when it is neither."""
    if not isinstance(error, DBAPIError):
        return None
    text = str(error.orig).lower()
    sqlstate = getattr(error.orig, "sqlstate", None)
    missing = _MISSING_TABLE.search(text)
    if sqlstate == UNDEFINED_TABLE or missing:
        table = next((name for name in missing.groups() if name), "") if missing else ""
        return SchemaMissing(port, table if table.startswith("regflow_") else "", detail)
    reason = _reason(sqlstate, text)
    return DatabaseUnavailable(port, reason, detail) if reason else None


def _reason(sqlstate: str | None, text: str) -> str | None:
    """The `DatabaseUnavailable.reason` of a driver error, or None for another failure."""
    if sqlstate in _LOGIN_SQLSTATES:
        return "login_refused"
    if sqlstate == _NO_DATABASE_SQLSTATE or _NO_DATABASE.search(text):
        return "no_such_database"
    for reason, phrases in _REASONS:
        if any(phrase in text for phrase in phrases):
            return reason
    return "unknown" if any(phrase in text for phrase in _CONNECTING) else None
