"""The statements on the hot path of every request (flows, account existence, approve's
inserts), built once at import."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_postgresql
from sqlalchemy.dialects import sqlite as sa_sqlite

from regflow.adapters.sql._schema import accounts_table, flows_table, outbox_table

# The statements on the hot path of every request, built once. Bound parameters in WHERE
# clauses are prefixed with `b_`, so that they never collide with the columns an UPDATE sets
# from the same parameter dict.
_f = flows_table.c
LOAD_FLOW: Final = sa.select(_f.snapshot, _f.version).where(_f.flow_id == sa.bindparam("b_id"))
FLOW_VERSION: Final = sa.select(_f.version).where(_f.flow_id == sa.bindparam("b_id"))
_FLOW_VALUES: Final = {
    name: sa.bindparam(name, type_=_f[name].type)
    for name in ("version", "state", "expires_at", "snapshot")
}
INSERT_FLOW: Final = flows_table.insert().values(
    flow_id=sa.bindparam("flow_id", type_=_f.flow_id.type), **_FLOW_VALUES
)
UPDATE_FLOW: Final = (
    flows_table.update()
    .where(_f.flow_id == sa.bindparam("b_id"), _f.version == sa.bindparam("b_expected"))
    .values(**_FLOW_VALUES)
)
_a = accounts_table.c
PERSON_EXISTS: Final[sa.Select[Any]] = sa.select(sa.literal_column("1")).where(
    _a.personal_id == sa.bindparam("b_value")
)
EMAIL_EXISTS: Final[sa.Select[Any]] = sa.select(sa.literal_column("1")).where(
    _a.email_key == sa.bindparam("b_value")
)
DELETE_ACCOUNT: Final = accounts_table.delete().where(_a.account_id == sa.bindparam("b_id"))
# INSERTs that insert nothing, instead of raising, when a row would break a unique constraint:
# no savepoint is needed to keep the transaction usable (on PostgreSQL an error aborts it),
# which saves approve two round trips. Other constraints still raise. Each names the columns
# approve writes (the outbox's delivery columns start empty).
_ACCOUNT_COLUMNS: Final = tuple(c.name for c in accounts_table.columns)
_QUEUED_COLUMNS: Final = tuple(
    c.name for c in outbox_table.columns if c.name not in {"next_attempt_at", "sent_at"}
)
INSERTS_UNLESS_TAKEN: Final[dict[tuple[str, str], sa.Insert]] = {
    (name, table.name): dialect.insert(table)
    .values({column: sa.bindparam(column, type_=table.c[column].type) for column in columns})
    .on_conflict_do_nothing()
    .execution_options(preserve_rowcount=True)  # through execute, an INSERT's count is dropped
    for name, dialect in (("postgresql", sa_postgresql), ("sqlite", sa_sqlite))
    for table, columns in ((accounts_table, _ACCOUNT_COLUMNS), (outbox_table, _QUEUED_COLUMNS))
}
