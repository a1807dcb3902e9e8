"""The service layer: one request, one event, one unit of work.

A registration spans several HTTP requests, possibly served by different processes. For each
request `RegistrationService` loads the flow from storage, applies one event and saves it with
a version check, in one unit of work (`Storage.unit_of_work`): approve's account, contract links
and queued confirmation email commit together with the flow's new state, or not at all.

- An event that raises changes nothing (DESIGN section 1): the unit rolls back and the error
  reaches the caller.
- Expiry is the one exception: a flow found past its expiry is moved to `expired`, *saved*,
  and `FlowExpired` is raised; later requests for it get `FlowExpired` too, until
  `purge_expired` deletes it (then `FlowNotFound`).
- Two requests racing on one flow: one wins, the other gets `ConcurrentUpdate` and nothing of
  it is saved; the caller reloads (`view`) and, if the event still makes sense, tries again.
- Two flows racing for one email: the database's unique constraint lets one account through;
  the other approve raises `EmailTaken` and its flow stays in `reviewing`.

The service holds no state between requests: any number of processes can serve one storage.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from regflow import _i18n, linking
from regflow.errors import ConcurrentUpdate, DetailsRejected, FlowExpired
from regflow.flow import RegistrationFlow
from regflow.login import LoginThrottle, authenticate, purge_login_attempts
from regflow.machine import State
from regflow.model import ContactDetails
from regflow.policy import PersonalContext
from regflow.validation import validate_details

if TYPE_CHECKING:
    from regflow.model import (
        Account,
        AccountContracts,
        BankCallback,
        PublicAccount,
    )
    from regflow.ports import Ports, Storage, UnitOfWork
    from regflow.ratelimit import Action, RateLimiter

log = logging.getLogger(__name__)


class RegistrationService:
    """Registration and login for stateless request handlers, over one `Storage`.

    `ports` supplies everything but storage (bank, customer directory, mailer, policy, hasher,
    clock, settings); its `accounts`, `outbox`, `login_attempts` and `flows` are replaced by
    `storage`'s. Every event method
    takes the flow id, returns the flow after the event (its `state`, `redirect`, `outcome`,
    ... are what a page shows) and raises what the event raises (`regflow.errors`), plus
    `FlowNotFound`, `FlowExpired` and `ConcurrentUpdate`.

    Build per application, not per request, usually with `regflow.bootstrap.bootstrap(config)`
    (`app.service`); by hand, `RegistrationService(ports, storage)`.

    With a `rate_limiter` (`regflow.ratelimit`; bootstrap builds one from `Config.rate_limits`),
    `start`, `submit_details` and `authenticate` count each call by its `client_address` and
    raise `RateLimited`, having done nothing, when the address's limit is spent. A call without
    a `client_address` is not limited.
    """

    def __init__(
        self,
        ports: Ports,
        storage: Storage,
        *,
        login_throttle: LoginThrottle | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        self.storage = storage
        self.ports = _bind(ports, storage)
        self.login_throttle = login_throttle or LoginThrottle()
        self.rate_limiter = rate_limiter

    def warm_up(self) -> None:
        """Load now what the first registration of a process would load on its way.

        That is the message catalogues of every language, the password rules' dictionaries
        (one check of a made-up password) and the phone and email validators' data (one
        made-up person's details): about 60 ms that would otherwise fall on the first user to
        submit phase 3. Touches no storage. A server calls it once per process before taking
        requests, and may then `gc.freeze()` what it loaded (the web example does both).
        """
        _i18n.load_catalogues()
        person = ContactDetails(
            given_names="Aino",
            family_name="Esimerkki",
            email="aino.esimerkki@example.fi",
            phone="+358 40 123 4567",
            street_address="Esimerkkikatu 1",
            postal_code="00100",
            post_office="Helsinki",
        )
        context = PersonalContext(
            given_names=person.given_names, family_name=person.family_name, email=person.email
        )
        self.ports.policy.check("Warm-up-Passw0rd-2026", context, "en")
        with contextlib.suppress(DetailsRejected):  # the settings may require more fields
            validate_details(person, self.ports.settings)

    # -- flows --------------------------------------------------------------------------------

    def start(
        self,
        *,
        language: str = "fi",
        customer_type: str = "consumer",
        client_address: str | None = None,
    ) -> RegistrationFlow:
        """Start and store a new flow; its `id` goes into the user's session (`RateLimited`
        when `client_address` has started too many)."""
        self._limit("start", client_address)
        flow = RegistrationFlow.start(self.ports, language=language, customer_type=customer_type)
        with self.storage.unit_of_work() as uow:
            uow.flows.save(
                flow.id, flow.snapshot(), expected_version=None, expires_at=flow.expires_at
            )
        return flow

    def view(self, flow_id: str) -> RegistrationFlow:
        """The stored flow, for showing its page; `FlowExpired` if it is past its expiry."""
        return self._handle(flow_id, RegistrationFlow.check_expiry, write=False)

    def select_bank(self, flow_id: str, bank_id: str) -> RegistrationFlow:
        """Phase 1: choose a bank; send the user to `flow.redirect.url`."""
        return self._handle(flow_id, lambda flow: flow.select_bank(bank_id))

    def bank_not_listed(self, flow_id: str) -> RegistrationFlow:
        """Phase 1: the user's bank is not on the list."""
        return self._handle(flow_id, RegistrationFlow.bank_not_listed)

    def choose_other_bank(self, flow_id: str) -> RegistrationFlow:
        """Back from the bank to the bank list."""
        return self._handle(flow_id, RegistrationFlow.choose_other_bank)

    def complete_identification(self, flow_id: str, callback: BankCallback) -> RegistrationFlow:
        """Phase 1: the bank's answer arrived at the redirect URI (`CallbackMismatch`, saving
        nothing, when it is not the pending attempt's)."""
        return self._handle(flow_id, lambda flow: flow.complete_identification(callback))

    def confirm_personal_id(self, flow_id: str) -> RegistrationFlow:
        """Phase 2: the user checked their personal identity code."""
        return self._handle(flow_id, RegistrationFlow.confirm_personal_id)

    def submit_details(
        self,
        flow_id: str,
        details: ContactDetails,
        password: str,
        *,
        client_address: str | None = None,
    ) -> RegistrationFlow:
        """Phase 3: contact details and password (`DetailsRejected` lists every problem;
        `RateLimited`, the flow unchanged, when `client_address` has had too many passwords
        checked)."""
        self._limit("password", client_address)
        return self._handle(flow_id, lambda flow: flow.submit_details(details, password))

    def edit(self, flow_id: str) -> RegistrationFlow:
        """Phase 4 back to phase 3."""
        return self._handle(flow_id, RegistrationFlow.edit)

    def approve(self, flow_id: str, review_token: str) -> RegistrationFlow:
        """Phase 4: create the account and queue the email; `flow.outcome` says what happened."""
        return self._handle(flow_id, lambda flow: flow.approve(review_token))

    def cancel(self, flow_id: str) -> RegistrationFlow:
        """The user cancelled."""
        return self._handle(flow_id, RegistrationFlow.cancel)

    def purge_expired(self) -> int:
        """Delete the flows past their expiry (run it periodically); returns how many."""
        return self.storage.flows.purge_expired(self.ports.clock.now())

    # -- accounts -----------------------------------------------------------------------------

    def account(self, account_id: str) -> PublicAccount | None:
        """The account a completed flow created (`flow.outcome.account_id`), as its owner may
        see it (username, profile, linked contracts), or None when there is no such account.

        A finished flow keeps no personal data, so a page that shows the new username after
        the flow completed reads it here.
        """
        found = self.storage.accounts.find_by_id(account_id)
        return found.public() if found is not None else None

    # -- contracts after registration ---------------------------------------------------------

    def link_pending_contracts(
        self, *, batch: int = linking.DEFAULT_BATCH, everyone: bool = False
    ) -> linking.LinkReport:
        """Link the contracts that have become linkable since registration (`regflow.linking`).

        One pass over the accounts with pending contracts (`everyone`: over every account, to
        find contracts the person did not have at registration), one unit of work per account;
        the user gets an email through the outbox for each account where a contract was linked.
        Run it periodically (`regflow link-contracts`); it is idempotent, and passes running at
        once link each contract once.
        """
        return linking.link_pending_contracts(
            self.ports, self.storage, batch=batch, everyone=everyone
        )

    def account_contracts(self, account_id: str) -> AccountContracts:
        """The account's contracts for a service-selection page: linked, and pending with the
        contact to call (the district heating advisory for district heating)."""
        links = linking.contract_store(self.storage).contract_links(account_id)
        return linking.account_contracts(links, account_id, self.ports.settings)

    # -- login --------------------------------------------------------------------------------

    def authenticate(
        self, email: str, password: str, *, client_address: str | None = None
    ) -> Account:
        """Log in with email and password (see `regflow.login.authenticate`); pass the client's
        IP address so that failures are counted per address too, and logins rate limited
        (`RateLimited`: no password checked, no attempt recorded)."""
        self._limit("login", client_address)
        return authenticate(
            self.ports,
            email,
            password,
            client_address=client_address,
            throttle=self.login_throttle,
        )

    def purge_login_attempts(self) -> int:
        """Delete failed logins older than the throttle's window (run it periodically, as
        `regflow relay --purge-expired` does); returns how many."""
        return purge_login_attempts(self.ports, throttle=self.login_throttle)

    def purge_rate_limits(self) -> int:
        """Delete the rate limits' ended windows, when the limiter's storage can (regflow's
        can; `regflow relay --purge-expired` does it for the database); returns how many."""
        storage = self.rate_limiter.storage if self.rate_limiter is not None else None
        purge = getattr(storage, "purge_expired", None)
        return int(purge()) if callable(purge) else 0

    def _limit(self, action: Action, client_address: str | None) -> None:
        if self.rate_limiter is not None:
            self.rate_limiter.hit(action, client_address)

    # -- the one way a request changes a flow -------------------------------------------------

    def _handle(
        self,
        flow_id: str,
        event: Callable[[RegistrationFlow], object],
        *,
        write: bool = True,
    ) -> RegistrationFlow:
        expired = False
        try:
            with self.storage.unit_of_work() as uow:
                stored = uow.flows.load(flow_id)
                flow = RegistrationFlow.restore(stored.snapshot, self._ports_for(uow))
                if flow.state is State.expired:
                    raise FlowExpired
                try:
                    event(flow)
                except FlowExpired:
                    expired = True  # the one exception that changed the flow: keep the change
                if write or expired:
                    uow.flows.save(
                        flow.id,
                        flow.snapshot(),
                        expected_version=stored.version,
                        expires_at=flow.expires_at,
                    )
        except ConcurrentUpdate:
            if not expired:
                raise
            # Someone saved first; the flow is past its expiry either way (the next load
            # expires it again), and the caller still learns that it expired.
            log.info("flow %s: expired concurrently", flow_id[:8])
        if expired:
            raise FlowExpired
        return flow

    def _ports_for(self, uow: UnitOfWork) -> Ports:
        return _bind(self.ports, uow)


def _bind(ports: Ports, stores: Storage | UnitOfWork) -> Ports:
    """`ports` with every store replaced by `stores`' (the storage's, or one unit's)."""
    return attrs.evolve(
        ports,
        accounts=stores.accounts,
        outbox=stores.outbox,
        login_attempts=stores.login_attempts,
        flows=stores.flows,
    )
