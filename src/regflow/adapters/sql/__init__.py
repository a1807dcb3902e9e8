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

Rate limits (`regflow.ratelimit`) count in `regflow_rate_limits` too: `store.rate_limits(clock)`
is a `limits` storage whose every hit is one atomic upsert (`SqlRateLimitStorage`), so all the
workers on one database share each limit.

Per request that is two statements (load, save) on the common path; approve adds the account
and the queued email, in one transaction with the save. Durability: see `create_engine`.

Uniqueness lives in the database: the normalised, casefolded email (`email_key`) and the
personal identity code each have a unique constraint; a violation becomes `EmailTaken` or
`AlreadyRegistered`. Every other database error becomes `AdapterError`. Engines are created with
`hide_parameters=True`, so no statement parameter (personal identity code, password hash) ever
reaches an error message or a log.
"""

from __future__ import annotations

from regflow.adapters.sql._accounts import SqlAccountStore
from regflow.adapters.sql._engine import DEFAULT_URL, create_engine
from regflow.adapters.sql._flows import SqlFlowStore
from regflow.adapters.sql._rate_limits import SqlRateLimitStorage
from regflow.adapters.sql._schema import (
    UtcDateTime,
    accounts_table,
    contract_links_table,
    create_schema,
    flows_table,
    login_attempts_table,
    metadata,
    outbox_table,
    rate_limits_table,
)
from regflow.adapters.sql._store import SqlStore, SqlUnitOfWork

__all__ = [
    "DEFAULT_URL",
    "SqlAccountStore",
    "SqlFlowStore",
    "SqlRateLimitStorage",
    "SqlStore",
    "SqlUnitOfWork",
    "UtcDateTime",
    "accounts_table",
    "contract_links_table",
    "create_engine",
    "create_schema",
    "flows_table",
    "login_attempts_table",
    "metadata",
    "outbox_table",
    "rate_limits_table",
]
