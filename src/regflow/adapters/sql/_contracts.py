"""The `ContractLinks` port's half of `SqlAccountStore`: an account's linked and pending
contracts, and the linking that `RegistrationService.link_pending_contracts` does later."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from regflow.adapters.sql._direct import rowcount
from regflow.adapters.sql._errors import translate
from regflow.adapters.sql._schema import accounts_table, contract_links_table, outbox_table
from regflow.adapters.sql._statements import INSERTS_UNLESS_TAKEN
from regflow.adapters.sql._unit import Scope
from regflow.model import Account, ContactDetails, ContractLink, EmailMessage, LinkStatus

_links = contract_links_table.c


class ContractLinkMethods:
    """`contract_links`, `accounts_with_pending_contracts`, `lock_account` and
    `update_contract_links` on SQL."""

    _scope: Scope

    def contract_links(self, account_id: str) -> Sequence[ContractLink]:
        """The account's records, linked first, each group by since and key."""
        with translate("accounts"), self._scope.reading() as connection:
            rows = connection.execute(
                sa.select(contract_links_table)
                .where(_links.account_id == account_id)
                .order_by(_links.status != LinkStatus.linked.value, _links.since, _links.link_key)
            ).all()
        return [_link(row) for row in rows]

    def accounts_with_pending_contracts(
        self, *, after: str | None, limit: int, everyone: bool = False
    ) -> Sequence[Account]:
        """Accounts with a pending contract (or all), by account id, after `after`."""
        query = sa.select(accounts_table).order_by(accounts_table.c.account_id).limit(limit)
        if after is not None:
            query = query.where(accounts_table.c.account_id > after)
        if not everyone:
            query = query.where(
                sa.exists().where(
                    _links.account_id == accounts_table.c.account_id,
                    _links.status == LinkStatus.pending.value,
                )
            )
        with translate("accounts"), self._scope.reading() as connection:
            return [account_from_row(row) for row in connection.execute(query)]

    def lock_account(self, account_id: str) -> Account | None:
        """The account, its row locked to the end of the transaction (PostgreSQL: FOR UPDATE;
        SQLite: the unit's BEGIN IMMEDIATE already serialises writers)."""
        with translate("accounts"), self._scope.writing() as connection:
            row = connection.execute(
                sa.select(accounts_table)
                .where(accounts_table.c.account_id == account_id)
                .with_for_update()
            ).first()
        return None if row is None else account_from_row(row)

    def update_contract_links(
        self,
        account_id: str,
        *,
        linked: Sequence[ContractLink],
        pending: Sequence[ContractLink],
        message: EmailMessage | None,
    ) -> None:
        """Add `linked`, replace the pending records with `pending`, queue `message`, in one
        transaction (a unit's, or its own)."""
        with translate("accounts"), self._scope.writing() as connection:
            numbers = connection.execute(
                sa.select(accounts_table.c.linked_contracts).where(
                    accounts_table.c.account_id == account_id
                )
            ).scalar_one()
            queued_at = max((link.since for link in linked), default=None)
            if message is not None and not queue(connection, message, account_id, queued_at):
                return  # this very linking is recorded already (the same message id)
            connection.execute(
                contract_links_table.delete().where(
                    _links.account_id == account_id,
                    _links.status == LinkStatus.pending.value,
                )
            )
            insert_links(connection, account_id, [*linked, *pending])
            added = [str(link.contract_number) for link in linked]
            if added:
                connection.execute(
                    accounts_table.update()
                    .where(accounts_table.c.account_id == account_id)
                    .values(linked_contracts=list(dict.fromkeys([*numbers, *added])))
                )


def insert_links(connection: Connection, account_id: str, links: Iterable[ContractLink]) -> None:
    """Insert contract records for an account (approve's, through `SqlAccountStore.create`)."""
    rows = [
        {
            "account_id": account_id,
            "link_key": link.key,
            "kind": link.kind.value,
            "contract_number": link.contract_number,
            "site_id": link.site_id,
            "status": link.status.value,
            "reason": link.reason,
            "since": link.since,
        }
        for link in links
    ]
    if rows:
        connection.execute(contract_links_table.insert(), rows)


def queue(
    connection: Connection, message: EmailMessage, account_id: str, at: dt.datetime | None
) -> bool:
    """Queue `message` in the outbox; False, having changed nothing, when its id is queued."""
    if at is None:
        msg = "a linking email goes with the contracts it links"
        raise ValueError(msg)
    values = {
        "message_id": message.message_id,
        "account_id": account_id,
        "recipient": message.to,
        "subject": message.subject,
        "text_body": message.text,
        "html_body": message.html,
        "language": message.language,
        "queued_at": at,
        "attempts": 0,
        "last_error": "",
    }
    statement = INSERTS_UNLESS_TAKEN.get((connection.dialect.name, outbox_table.name))
    if statement is None:  # pragma: no cover  # every supported dialect has one
        connection.execute(outbox_table.insert(), values)
        return True
    return rowcount(connection, statement, values) == 1


def account_from_row(row: sa.Row[Any]) -> Account:
    """An `Account` from a row of `regflow_accounts`."""
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


def _link(row: sa.Row[Any]) -> ContractLink:
    return ContractLink(
        kind=row.kind,
        contract_number=row.contract_number,
        site_id=row.site_id,
        status=row.status,
        since=row.since,
        reason=row.reason,
    )
