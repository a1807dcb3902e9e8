"""The `LoginAttempts` port's half of `SqlAccountStore`: failed logins per account and address.

A reservation is one INSERT committed on its own, and only then are the recent attempts read
back, in a second statement: under PostgreSQL's READ COMMITTED and SQLite's serialised writes
alike, that read sees every reservation committed before it, so attempts racing each other
count each other (the argument is in `regflow.login`). Reading in the INSERT's transaction
would not do: two uncommitted reservations do not see each other.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from regflow.adapters.sql._errors import translate
from regflow.adapters.sql._schema import login_attempts_table
from regflow.adapters.sql._unit import Scope
from regflow.ports import LoginAttempt, LoginReservation


def _from_address(address: str | None) -> sa.ColumnElement[bool]:
    column = login_attempts_table.c.address
    return column.is_(None) if address is None else column == address


class LoginAttemptMethods:
    """`reserve_login_attempt`, `forget_login_attempt`, `login_succeeded` and
    `purge_login_attempts` on SQL. The reservation must not run in a unit of work (its commit
    would come too late); `RegistrationService.authenticate` uses the plain store."""

    _scope: Scope

    def reserve_login_attempt(
        self, attempt: LoginAttempt, *, since: dt.datetime, known_since: dt.datetime
    ) -> LoginReservation:
        """Insert and commit the attempt, then read the attempts it is counted with."""
        table = login_attempts_table
        with translate("accounts"):
            with self._scope.writing() as connection:
                result = connection.execute(
                    table.insert().values(
                        account=attempt.account,
                        address=attempt.address,
                        attempted_at=attempt.at,
                        succeeded=False,
                    )
                )
                (attempt_id,) = result.inserted_primary_key or (None,)
            if not isinstance(attempt_id, int):  # pragma: no cover  # an integer key always
                msg = "the database gave no id for the login attempt"
                raise TypeError(msg)
            same = table.c.account == attempt.account
            if attempt.address is not None:
                same = sa.or_(same, table.c.address == attempt.address)
            failures = sa.and_(table.c.succeeded.is_(False), table.c.attempted_at >= since, same)
            known = sa.and_(
                table.c.succeeded.is_(True),
                table.c.attempted_at >= known_since,
                table.c.account == attempt.account,
                _from_address(attempt.address),
            )
            with self._scope.reading() as connection:
                rows = connection.execute(
                    sa.select(
                        table.c.account, table.c.address, table.c.attempted_at, table.c.succeeded
                    )
                    .where(sa.or_(failures, known), table.c.id != attempt_id)
                    .order_by(table.c.attempted_at, table.c.id)
                ).all()
        return LoginReservation(
            attempt_id, tuple(LoginAttempt(row[0], row[1], row[2], bool(row[3])) for row in rows)
        )

    def forget_login_attempt(self, attempt_id: int) -> None:
        """Delete the reservation."""
        table = login_attempts_table
        with translate("accounts"), self._scope.writing() as connection:
            connection.execute(table.delete().where(table.c.id == attempt_id))

    def login_succeeded(self, attempt_id: int, account: str, address: str | None) -> None:
        """Delete the pair's failures and older successes; keep the reservation as its success
        (or delete it too, without an address)."""
        table = login_attempts_table
        pair = sa.and_(table.c.account == account, _from_address(address))
        with translate("accounts"), self._scope.writing() as connection:
            if address is None:
                connection.execute(table.delete().where(sa.or_(table.c.id == attempt_id, pair)))
                return
            connection.execute(table.delete().where(pair, table.c.id != attempt_id))
            connection.execute(
                table.update().where(table.c.id == attempt_id).values(succeeded=True)
            )

    def purge_login_attempts(self, before: dt.datetime, *, known_before: dt.datetime) -> int:
        """Delete the failures before `before` and the successes before `known_before`."""
        table = login_attempts_table
        with translate("accounts"), self._scope.writing() as connection:
            result = connection.execute(
                table.delete().where(
                    sa.or_(
                        sa.and_(table.c.succeeded.is_(False), table.c.attempted_at < before),
                        sa.and_(table.c.succeeded.is_(True), table.c.attempted_at < known_before),
                    )
                )
            )
            return int(result.rowcount)
