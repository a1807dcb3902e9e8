"""`SqlRateLimitStorage`: the rate limits' counters in the regflow database, shared by workers.

A `limits` storage for its fixed-window strategy (`regflow.ratelimit`). A hit is one statement,

    INSERT INTO regflow_rate_limits (key, hits, expires_at) VALUES (:key, :amount, :now + expiry)
    ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN expires_at <= :now THEN :amount ELSE hits + :amount END,
        expires_at = CASE WHEN expires_at <= :now THEN :now + expiry ELSE expires_at END
    RETURNING hits

run as its own transaction: PostgreSQL locks the row for the update (a racing hit waits, then
updates the row the first one committed) and SQLite serialises writers, so every worker on the
database counts into one counter and no hit is lost. The time is regflow's `Clock`, as for the
login throttle, never the database server's. A counter need not survive a crash, so the hit
commits without waiting for the disk where the engine allows (PostgreSQL's relaxed steps).
Rows of ended windows are dead weight until `purge_expired` deletes them (`regflow relay
--purge-expired` does).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import limits.storage
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from regflow.adapters.sql._engine import CONFIGURED_SQLITE
from regflow.adapters.sql._errors import committing, translate
from regflow.adapters.sql._schema import UtcDateTime, rate_limits_table
from regflow.adapters.sql._unit import Autocommit
from regflow.errors import AdapterError

if TYPE_CHECKING:
    from regflow.ports import Clock

_PORT = "rate_limits"


class SqlRateLimitStorage(limits.storage.Storage):
    """Rate-limit counters in `regflow_rate_limits` (see the module); `SqlStore.rate_limits`."""

    STORAGE_SCHEME = None  # built by regflow on its engine, not by a `limits` storage URL

    def __init__(self, engine: Engine, clock: Clock) -> None:
        """Counters on `engine` (SQLite's must come from `create_engine`), timed by `clock`."""
        if engine.dialect.name == "sqlite" and engine not in CONFIGURED_SQLITE:
            msg = "a SQLite engine for SqlRateLimitStorage must come from create_engine"
            raise ValueError(msg)
        if engine.dialect.name not in {"sqlite", "postgresql"}:
            msg = f"SqlRateLimitStorage runs on SQLite and PostgreSQL, not {engine.dialect.name}"
            raise ValueError(msg)
        super().__init__()
        self._scope = Autocommit(engine)
        self._clock = clock
        self._upsert = _upsert(postgresql if engine.dialect.name == "postgresql" else sqlite)

    @property
    def base_exceptions(self) -> type[Exception]:
        """What a failure raises: regflow's `AdapterError` (passed on as it is)."""
        return AdapterError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's counter, starting a window of `expiry` seconds when the
        last one has ended; the new count."""
        now = self._clock.now()
        values = {
            "key": key,
            "amount": amount,
            "now": now,
            "end": now + dt.timedelta(seconds=expiry),
        }
        with translate(_PORT), self._scope.single.connect() as connection:
            hits = connection.execute(self._upsert, values).scalar_one()
            with committing(_PORT):
                connection.commit()
        return int(hits)

    def get(self, key: str) -> int:
        """The key's count in its current window (0 after it ended)."""
        row = self._row(key)
        return int(row[0]) if row is not None else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends, in seconds since the epoch (now when there is none)."""
        row = self._row(key)
        return (row[1] if row is not None else self._clock.now()).timestamp()

    def _row(self, key: str) -> Any:
        table = rate_limits_table
        query = sa.select(table.c.hits, table.c.expires_at).where(
            table.c.key == key, table.c.expires_at > self._clock.now()
        )
        with translate(_PORT), self._scope.reading() as connection:
            return connection.execute(query).first()

    def check(self) -> bool:
        """Whether the table answers."""
        try:
            with translate(_PORT), self._scope.reading() as connection:
                connection.execute(sa.select(rate_limits_table.c.key).limit(1)).all()
        except AdapterError:
            return False
        return True

    def reset(self) -> int | None:
        """Delete every counter; how many there were."""
        return self._delete(sa.true())

    def clear(self, key: str) -> None:
        """Delete the key's counter."""
        self._delete(rate_limits_table.c.key == key)

    def purge_expired(self) -> int:
        """Delete the counters whose window has ended; how many."""
        return self._delete(rate_limits_table.c.expires_at <= self._clock.now())

    def _delete(self, where: sa.ColumnElement[bool]) -> int:
        with translate(_PORT), self._scope.writing() as connection:
            return int(connection.execute(rate_limits_table.delete().where(where)).rowcount)


def _upsert(dialect: Any) -> sa.Executable:
    """The hit's statement (the module's), built once: its values are bound per call."""
    table = rate_limits_table
    insert = dialect.insert(table).values(
        key=sa.bindparam("key"),
        hits=sa.bindparam("amount"),
        expires_at=sa.bindparam("end", type_=UtcDateTime),
    )
    ended = table.c.expires_at <= sa.bindparam("now", type_=UtcDateTime)
    statement: sa.Executable = insert.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "hits": sa.case(
                (ended, insert.excluded.hits), else_=table.c.hits + insert.excluded.hits
            ),
            "expires_at": sa.case((ended, insert.excluded.expires_at), else_=table.c.expires_at),
        },
    ).returning(table.c.hits)
    return statement
