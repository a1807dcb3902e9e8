"""A psycopg connection that waits a bounded time for the server's answers.

PostgreSQL's `statement_timeout` ends a statement that runs too long, but only a server that
is running can enforce it. A frozen server (stopped, swapping, behind a stalled proxy or a
network that went quiet) answers nothing, and psycopg would wait for ever; TCP keepalives do
not help while the peer's kernel still acknowledges. psycopg 3 runs every blocking operation
(execute, fetch, commit, rollback) through `Connection.wait`, which takes a timeout: this
class gives it one. When it expires the connection is closed, since its protocol state is
unknown, and `NoAnswer` (an `OperationalError`) is raised; SQLAlchemy then sees a closed
connection, so it counts as a disconnect and the pool is refreshed.

Imported only for PostgreSQL engines (psycopg is an optional dependency).
"""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.abc import PQGen

_RV = TypeVar("_RV")
# psycopg's own interval between checks for Ctrl-C while waiting (its `_WAIT_INTERVAL`).
_WAIT_INTERVAL = 0.1


class NoAnswer(psycopg.OperationalError):
    """The server did not answer within the connection's `answer_timeout`."""


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends after `answer_timeout` s."""

    answer_timeout: float | None = None

    def wait(
        self, gen: PQGen[_RV], interval: float = _WAIT_INTERVAL, timeout: float | None = None
    ) -> _RV:
        """psycopg's wait, bounded by `answer_timeout` unless the caller gave a timeout."""
        if timeout is not None or self.answer_timeout is None:
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, self.answer_timeout)
        except errors._WaitTimeout as error:  # private, but how psycopg reports it
            self.pgconn.finish()  # mid-protocol: never to be used again
            msg = f"no answer from the server within {self.answer_timeout:g} s"
            raise NoAnswer(msg) from error
