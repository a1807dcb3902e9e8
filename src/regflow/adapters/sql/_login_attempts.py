"""The `LoginAttempts` port's half of `SqlAccountStore`: recent failed logins per opaque key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa

from regflow.adapters.sql._errors import translate
from regflow.adapters.sql._schema import login_failures_table
from regflow.adapters.sql._unit import Scope


class LoginAttemptMethods:
    """`login_failures`, `record_login_failure` and `clear_login_failures` on SQL."""

    _scope: Scope

    def login_failures(self, key: str, since: dt.datetime) -> Sequence[dt.datetime]:
        """The failures recorded for `key` at or after `since`, oldest first."""
        table = login_failures_table
        with translate("accounts"), self._scope.reading() as connection:
            return list(
                connection.execute(
                    sa.select(table.c.failed_at)
                    .where(table.c.subject == key, table.c.failed_at >= since)
                    .order_by(table.c.failed_at)
                ).scalars()
            )

    def record_login_failure(
        self, key: str, at: dt.datetime, *, forget_before: dt.datetime
    ) -> None:
        """Record a failure and forget the key's failures before `forget_before`."""
        table = login_failures_table
        with translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                table.delete().where(table.c.subject == key, table.c.failed_at < forget_before)
            )
            connection.execute(table.insert(), {"subject": key, "failed_at": at})

    def clear_login_failures(self, key: str) -> None:
        """Forget the key's failures."""
        table = login_failures_table
        with translate("accounts"), self._scope.writing() as connection:
            connection.execute(table.delete().where(table.c.subject == key))
