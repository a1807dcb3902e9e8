"""Linking contracts after registration: what `RegistrationService.link_pending_contracts` does.

`approve` links each contract that has the data identifying it and records the others as
pending, with the reason the user was shown. The guide then sends the user to the district
heating advisory, "and we add the missing data" in the customer data system. A pass here
re-reads the customer directory for each account with pending contracts and links what is now
linkable, including contracts the person did not have at registration.

Per account, one unit of work: the directory is read first (outside any transaction, so a slow
directory holds no lock), then the unit locks the account (`ContractLinks.lock_account`), reads
its records again, and writes the new links, the remaining pending records and the email in the
user's language, all or nothing. Locking makes passes running side by side (several processes,
several hosts) take turns per account: the second sees the first one's links and does nothing,
so each contract is linked, and each email queued, once. A pass is idempotent: run it again and
nothing changes. A directory that cannot answer for an account leaves that account as it was;
the pass goes on with the others and reports the failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

import attrs

from regflow.emails import contracts_linked_email
from regflow.errors import AdapterError
from regflow.model import (
    Account,
    AccountContracts,
    ContractKind,
    ContractLink,
    LinkStatus,
    PendingContract,
)
from regflow.ports import ContractLinks

if TYPE_CHECKING:
    from regflow.ports import Ports, Storage, UnitOfWork
    from regflow.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_BATCH: Final = 100
FALLBACK_EMAIL_LANGUAGE: Final = "fi"  # an account whose profile names no language


@attrs.frozen
class LinkReport:
    """What one pass did: accounts checked, contracts newly linked, accounts that failed."""

    accounts: int = 0
    linked: int = 0
    failed: int = 0

    def __add__(self, other: LinkReport) -> LinkReport:
        return LinkReport(
            self.accounts + other.accounts, self.linked + other.linked, self.failed + other.failed
        )


def contract_store(stores: Storage | UnitOfWork) -> ContractLinks:
    """The stores' contract records: their account store, which implements `ContractLinks`."""
    accounts = stores.accounts
    if not isinstance(accounts, ContractLinks):
        msg = f"{type(accounts).__name__} does not implement ContractLinks"
        raise TypeError(msg)
    return accounts


def account_contracts(
    links: Sequence[ContractLink], account_id: str, settings: Settings
) -> AccountContracts:
    """The records of one account as a page shows them, each pending one with its contact."""
    return AccountContracts(
        account_id=account_id,
        linked=tuple(link for link in links if link.status is LinkStatus.linked),
        pending=tuple(
            PendingContract(
                link,
                settings.district_heating_advisory
                if link.kind is ContractKind.district_heating
                else settings.customer_service,
            )
            for link in links
            if link.status is LinkStatus.pending
        ),
    )


def link_pending_contracts(
    ports: Ports,
    storage: Storage,
    *,
    batch: int = DEFAULT_BATCH,
    everyone: bool = False,
) -> LinkReport:
    """One pass over the accounts with pending contracts (`everyone`: over every account, for
    contracts that appeared since registration); see the module docstring."""
    report = LinkReport()
    for account in _accounts(storage, batch=batch, everyone=everyone):
        try:
            linked = link_account(ports, storage, account.account_id, account.personal_id)
        except AdapterError as error:
            log.warning("linking: account %s left as it was: %s", account.account_id[:8], error)
            report += LinkReport(accounts=1, failed=1)
            continue
        report += LinkReport(accounts=1, linked=linked)
    return report


def _accounts(storage: Storage, *, batch: int, everyone: bool) -> Iterator[Account]:
    store = contract_store(storage)
    after: str | None = None
    while True:
        page = store.accounts_with_pending_contracts(after=after, limit=batch, everyone=everyone)
        yield from page
        if len(page) < batch:
            return
        after = page[-1].account_id


def link_account(ports: Ports, storage: Storage, account_id: str, personal_id: str) -> int:
    """Link what the directory now has for one account; how many contracts were linked."""
    record = ports.customers.find_by_personal_id(personal_id)  # before the unit: no lock held
    if record is None:
        return 0  # no record now: leave the account as it is
    with storage.unit_of_work() as uow:
        store = contract_store(uow)
        account = store.lock_account(account_id)
        if account is None:
            return 0  # deleted meanwhile
        now = ports.clock.now()
        existing = list(store.contract_links(account_id))
        linked = {link.contract_number for link in existing if link.status is LinkStatus.linked}
        # numbers linked before records were kept (a copied or seeded account): recorded
        # silently, since the user knows of them already
        known = set(account.linked_contracts)
        earlier = {link.key: link for link in existing if link.status is LinkStatus.pending}
        new: list[ContractLink] = []
        backfilled: list[ContractLink] = []
        pending: list[ContractLink] = []
        for contract in record.contracts:
            link = ContractLink.of(contract, since=now)
            if link.status is LinkStatus.pending:
                if link.key not in {p.key for p in pending}:
                    pending.append(earlier.get(link.key, link))  # keeps its first `since`
            elif link.contract_number not in linked:
                linked.add(link.contract_number)
                (backfilled if link.contract_number in known else new).append(link)
        if not new and not backfilled and {p.key for p in pending} == set(earlier):
            return 0  # nothing changed: write nothing
        message = None
        if new:
            profile = account.profile
            message = contracts_linked_email(
                account_id=account_id,
                to=account.email,
                name=profile.given_names.split(" ")[0] or profile.family_name,
                language=profile.language or FALLBACK_EMAIL_LANGUAGE,
                contracts=new,
                customer_service=ports.settings.customer_service,
            )
        store.update_contract_links(
            account_id, linked=[*backfilled, *new], pending=pending, message=message
        )
    if new:
        log.info("linking: account %s: %d contracts linked", account_id[:8], len(new))
    return len(new)
