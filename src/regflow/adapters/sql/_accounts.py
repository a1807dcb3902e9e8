"""`SqlAccountStore`: accounts (with approve's queued email) on SQL, plus the outbox and the
login failures, so that one object serves the `AccountStore`, `Outbox` and `LoginAttempts` ports."""

from __future__ import annotations

from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from regflow.adapters.sql._direct import first, rowcount
from regflow.adapters.sql._errors import translate
from regflow.adapters.sql._login_attempts import LoginAttemptMethods
from regflow.adapters.sql._outbox import OutboxMethods
from regflow.adapters.sql._schema import accounts_table, outbox_table
from regflow.adapters.sql._statements import (
    DELETE_ACCOUNT,
    EMAIL_EXISTS,
    INSERTS_UNLESS_TAKEN,
    PERSON_EXISTS,
)
from regflow.adapters.sql._unit import Scope
from regflow.errors import (
    AdapterError,
    AlreadyRegistered,
    ConcurrentUpdate,
    EmailTaken,
    RegflowError,
)
from regflow.model import Account, ContactDetails, EmailMessage, NewAccount
from regflow.validation import email_key


class SqlAccountStore(OutboxMethods, LoginAttemptMethods):
    """`AccountStore`, `Outbox` and `LoginAttempts` on SQL: accounts, their outbox, and login
    failures (the last two from `OutboxMethods` and `LoginAttemptMethods`)."""

    def __init__(self, scope: Scope) -> None:
        """Prefer `SqlStore(engine).accounts` or a unit of work's `accounts`."""
        self._scope = scope

    def exists_for_person(self, personal_id: str) -> bool:
        """Whether this person has an account."""
        with translate("accounts"), self._scope.reading() as connection:
            return _exists(connection, PERSON_EXISTS, personal_id)

    def exists_for_email(self, email: str) -> bool:
        """Whether an account uses this email, case-insensitively."""
        with translate("accounts"), self._scope.reading() as connection:
            return _exists(connection, EMAIL_EXISTS, email_key(email))

    def create(self, account: NewAccount, message: EmailMessage) -> None:
        """Insert the account and its queued email in one transaction (in a unit: its
        transaction, which stays usable when the account is refused)."""
        with translate("accounts"), self._scope.writing() as connection:
            values = {
                "account_id": account.account_id,
                "email": account.email,
                "email_key": email_key(account.email),
                "personal_id": account.personal_id,
                "customer_number": account.customer_number,
                "password_hash": account.password_hash,
                "profile": attrs.asdict(account.profile),
                "linked_contracts": list(account.linked_contracts),
                "created_at": account.created_at,
            }
            if not _insert_unless_taken(connection, accounts_table, values):
                raise _uniqueness_error(connection, account, self._scope)
            queued = {
                "message_id": message.message_id,
                "account_id": account.account_id,
                "recipient": message.to,
                "subject": message.subject,
                "text_body": message.text,
                "html_body": message.html,
                "language": message.language,
                "queued_at": account.created_at,
                "attempts": 0,
                "last_error": "",
            }
            if not _insert_unless_taken(connection, outbox_table, queued):
                # Both or neither: take the account back (a second approve of one flow queues
                # the same message id).
                connection.execute(DELETE_ACCOUNT, {"b_id": account.account_id})
                raise _uniqueness_error(connection, account, self._scope, message_taken=True)

    def find_by_email(self, email: str) -> Account | None:
        """The account with this email, case-insensitively."""
        return self._find(accounts_table.c.email_key == email_key(email))

    def find_by_id(self, account_id: str) -> Account | None:
        """The account with this id."""
        return self._find(accounts_table.c.account_id == account_id)

    def _find(self, where: sa.ColumnElement[bool]) -> Account | None:
        with translate("accounts"), self._scope.reading() as connection:
            row = connection.execute(sa.select(accounts_table).where(where)).first()
        if row is None:
            return None
        return Account(
            account_id=row.account_id,
            email=row.email,
            personal_id=row.personal_id,
            customer_number=row.customer_number,
            password_hash=row.password_hash,
            profile=ContactDetails(**row.profile),
            linked_contracts=tuple(row.linked_contracts),
            created_at=row.created_at,
        )

    def update_password_hash(self, account_id: str, password_hash: str) -> None:
        """Replace the account's password hash."""
        with translate("accounts"), self._scope.writing() as connection:
            connection.execute(
                accounts_table.update()
                .where(accounts_table.c.account_id == account_id)
                .values(password_hash=password_hash)
            )


def _insert_unless_taken(connection: Connection, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert one row; False, having changed nothing, where a unique constraint refuses it.

    The transaction stays usable either way, so that the caller can find out which rule.
    """
    statement = INSERTS_UNLESS_TAKEN.get((connection.dialect.name, table.name))
    if statement is not None:
        return rowcount(connection, statement, values) == 1
    try:  # a database without ON CONFLICT: a savepoint undoes the refused INSERT
        with connection.begin_nested():
            connection.execute(table.insert(), values)
    except IntegrityError:
        return False
    return True


def _exists(connection: Connection, statement: sa.Select[Any], value: str) -> bool:
    return first(connection, statement, {"b_value": value}) is not None


def _uniqueness_error(
    connection: Connection, account: NewAccount, scope: Scope, *, message_taken: bool = False
) -> RegflowError:
    # Nothing was inserted and the transaction is still usable, so it can ask which rule was
    # broken. A flow of this unit saved by someone else since it was loaded is the real cause
    # (two approves of one flow racing: the loser meets the winner's account); otherwise the
    # same order as the in-memory store (person first) keeps the answer the same on every store.
    if scope.claims_changed(connection):
        return ConcurrentUpdate()
    if _exists(connection, PERSON_EXISTS, account.personal_id):
        return AlreadyRegistered()
    if _exists(connection, EMAIL_EXISTS, email_key(account.email)):
        return EmailTaken()
    if message_taken:
        return AlreadyRegistered()  # this flow's confirmation email is queued already
    # The conflicting account is gone already (deleted since), or the account id collided.
    return AdapterError("accounts", "integrity error")
