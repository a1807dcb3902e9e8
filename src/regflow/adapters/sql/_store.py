"""`SqlStore`, the entry point: the stores on one engine, plain or in a unit of work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from regflow.adapters.sql._accounts import SqlAccountStore
from regflow.adapters.sql._engine import CONFIGURED_SQLITE, DEFAULT_URL, create_engine
from regflow.adapters.sql._flows import SqlFlowStore
from regflow.adapters.sql._rate_limits import SqlRateLimitStorage
from regflow.adapters.sql._schema import create_schema
from regflow.adapters.sql._unit import Autocommit, Unit

if TYPE_CHECKING:
    from regflow.ports import Clock


@attrs.frozen
class SqlUnitOfWork:
    """The stores of one unit of work: their writes commit together or not at all."""

    accounts: SqlAccountStore
    flows: SqlFlowStore

    @property
    def outbox(self) -> SqlAccountStore:
        """The unit's outbox: the account store, which also implements `Outbox`."""
        return self.accounts

    @property
    def login_attempts(self) -> SqlAccountStore:
        """The unit's login failures: the account store, which also implements `LoginAttempts`."""
        return self.accounts


class SqlStore:
    """Accounts, outbox and flows in one SQL database; see the package's theory of operation.

    Build with `SqlStore.from_url(url)` or `SqlStore(engine)`; `create_schema()` creates the
    tables (or put `regflow.adapters.sql.metadata` into your migrations). Closing the store
    disposes of the engine's connections.
    """

    def __init__(self, engine: Engine) -> None:
        """A store on `engine`, which must come from `create_engine` when it is SQLite's."""
        if engine.dialect.name == "sqlite" and engine not in CONFIGURED_SQLITE:
            msg = (
                "a SQLite engine for SqlStore must come from regflow.adapters.sql.create_engine, "
                "which sets up its locking (BEGIN IMMEDIATE, WAL, a busy timeout)"
            )
            raise ValueError(msg)
        self.engine = engine
        self._scope = Autocommit(engine)
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
    def outbox(self) -> SqlAccountStore:
        """The outbox (the account store, which also implements `Outbox`); each call is its own
        transaction."""
        return self._accounts

    @property
    def login_attempts(self) -> SqlAccountStore:
        """The login failures (the account store, which also implements `LoginAttempts`); each
        call is its own transaction."""
        return self._accounts

    @property
    def flows(self) -> SqlFlowStore:
        """The flow store; each call is its own transaction."""
        return self._flows

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[SqlUnitOfWork]:
        """Stores sharing one transaction: committed on normal exit, rolled back on a raise."""
        unit = Unit(self._scope)
        commit = False
        try:
            yield SqlUnitOfWork(SqlAccountStore(unit), SqlFlowStore(unit))
            commit = True
        finally:
            unit.finish(commit=commit)

    def rate_limits(self, clock: Clock) -> SqlRateLimitStorage:
        """The rate limits' counters in this database (`regflow.ratelimit`), timed by `clock`:
        every store on the same database shares them."""
        return SqlRateLimitStorage(self.engine, clock)

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
