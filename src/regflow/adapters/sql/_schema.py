"""regflow's tables: the SQLAlchemy `MetaData`, the UTC datetime type they use, `create_schema`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from regflow.adapters.sql._errors import translate


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

login_attempts_table: Final = sa.Table(
    "regflow_login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # opaque keys from `regflow.login` (digests of the normalised email and of the client
    # address's group), never the email or the address itself
    sa.Column("account", sa.String(128), nullable=False),
    sa.Column("address", sa.String(128), nullable=True),
    sa.Column("attempted_at", UtcDateTime, nullable=False),
    # False: a failure, or an attempt still being checked; True: the latest successful login
    # of `account` from `address`, which exempts that address from the account-wide delay
    sa.Column("succeeded", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_regflow_login_attempts_account", "account", "attempted_at"),
    sa.Index("ix_regflow_login_attempts_address", "address", "attempted_at"),
    sa.Index("ix_regflow_login_attempts_attempted_at", "attempted_at"),
)

# Rate-limit counters (`regflow.ratelimit`, `SqlRateLimitStorage`): one row per `limits` key, a
# digest of the client's address group in it, never the address itself; `hits` in the window
# that ends at `expires_at`. Rows whose window ended are dead; the purge deletes them.
rate_limits_table: Final = sa.Table(
    "regflow_rate_limits",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Index("ix_regflow_rate_limits_expires_at", "expires_at"),
)


# Which contracts of an account's customer are linked, and which are pending with the reason
# (`regflow.model.ContractLink`); `link_key` is `ContractLink.key`.
contract_links_table: Final = sa.Table(
    "regflow_contract_links",
    metadata,
    sa.Column(
        "account_id",
        sa.String(64),
        sa.ForeignKey("regflow_accounts.account_id", name="fk_regflow_contract_links_account"),
        primary_key=True,
    ),
    sa.Column("link_key", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("contract_number", sa.String(64), nullable=True),
    sa.Column("site_id", sa.String(64), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # linked or pending
    sa.Column("reason", sa.String(64), nullable=True),  # a pending contract's warning code
    sa.Column("since", UtcDateTime, nullable=False),
    sa.Index("ix_regflow_contract_links_status", "status", "account_id"),
)


def create_schema(engine: Engine) -> None:
    """Create regflow's tables and indexes where they do not exist yet."""
    with translate("storage"):
        metadata.create_all(engine, checkfirst=True)
