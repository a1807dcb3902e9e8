"""`RegistrationFlow`: one person's registration attempt, driven through the table in `machine.py`.

Every event follows the same rule: it either takes a transition of the table and returns
normally, or raises a `RegflowError` and leaves the flow exactly as it was. To keep that promise
an event never mutates the flow while it works: it reads the ports, builds the flow's next data
as a new frozen value, lets the shared machine check the row's guards against that value, and
only then swaps it in and appends to the audit trail. The one exception is expiry: an event
after `expires_at` moves the flow to `expired` and raises `FlowExpired`.

Personal data is kept only while it is needed: on entering a terminal state (whichever row
took it there, expiry included) the flow's data is replaced by `FlowData.scrubbed()`, its
outcome and bank-failure code. Its snapshot then holds no personal identity code, name,
contact detail, customer record, bank secret or password hash; the audit trail never did.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

import attrs
from stdnum.fi import hetu
from transitions import MachineError

from regflow import machine
from regflow._i18n import LANGUAGES, normalize_language
from regflow.emails import confirmation_email
from regflow.errors import (
    CallbackMismatch,
    DetailsRejected,
    FieldError,
    FlowExpired,
    GuardFailed,
    IdentificationFailed,
    InvalidTransition,
    UnknownBank,
    UnsupportedCustomerType,
    UnsupportedLanguage,
)
from regflow.machine import Branch, Event, Proposal, State, Transition
from regflow.model import (
    CONTACT_FIELDS,
    AuditEntry,
    Bank,
    BankCallback,
    BankRedirect,
    Contact,
    ContactDetails,
    ContractKind,
    ContractLink,
    FlowData,
    NewAccount,
    Outcome,
)
from regflow.policy import PersonalContext, normalize_password
from regflow.settings import Settings
from regflow.snapshot import flow_from_snapshot, flow_to_snapshot
from regflow.validation import birth_date, check_personal_id, comparable, validate_details

if TYPE_CHECKING:
    from regflow.ports import Ports, Snapshot

# `AuditEntry` and `FlowData` live in regflow.model (the snapshot codec needs them without the
# flow) and are re-exported here, where they were first published.
__all__ = ["AuditEntry", "FlowData", "RegistrationFlow", "changed_fields"]

log = logging.getLogger(__name__)

SUPPORTED_CUSTOMER_TYPES: Final = frozenset({"consumer"})
FLOW_ID_BYTES: Final = 24  # 192 random bits, URL-safe base64: 32 characters
MAX_CONTEXT_FIELD: Final = 256  # of a name or email handed to the policy as context


class RegistrationFlow:
    """One person's registration, from choosing a bank to a terminal state.

    Build with `start` (a new flow) or `restore` (from a snapshot); drive with the event methods;
    persist with `snapshot()` after every event that returned. One flow object serves one request
    at a time (it is not thread-safe); concurrent requests each restore their own copy, and the
    flow store's version check decides which of them wins.
    """

    __slots__ = (
        "_audit",
        "_data",
        "_ports",
        "_state",
        "created_at",
        "customer_type",
        "expires_at",
        "id",
        "language",
    )

    def __init__(
        self,
        ports: Ports,
        *,
        flow_id: str,
        language: str,
        customer_type: str,
        state: State,
        created_at: dt.datetime,
        expires_at: dt.datetime,
        data: FlowData,
        audit: Sequence[Sequence[str]],
    ) -> None:
        """Low-level constructor used by `start` and `restore`; prefer those."""
        self._ports = ports
        self.id = flow_id
        if language not in LANGUAGES:
            raise UnsupportedLanguage(str(language)[:8])
        self.language = language
        self.customer_type = customer_type
        self._state = state
        self.created_at = created_at
        self.expires_at = expires_at
        self._data = data
        # Kept in snapshot form ([at, event, from, to, outcome]), so that restoring and
        # snapshotting a flow does not convert its history each time; `audit` builds the values.
        self._audit: list[list[str]] = [list(entry) for entry in audit]

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def start(
        cls, ports: Ports, *, language: str = "fi", customer_type: str = "consumer"
    ) -> RegistrationFlow:
        """Start a registration in `choosing_bank`; only consumer customers may start one.

        `language` is mapped by `normalize_language` ("FI", "fi-FI" and "sv_FI" work); a value
        it cannot map raises `UnsupportedLanguage`.
        """
        if customer_type not in SUPPORTED_CUSTOMER_TYPES:
            raise UnsupportedCustomerType(
                customer_type, phone=ports.settings.customer_service.phone
            )
        if (supported := normalize_language(language)) is None:
            raise UnsupportedLanguage(language)
        now = ports.clock.now()
        flow = cls(
            ports,
            flow_id=secrets.token_urlsafe(FLOW_ID_BYTES),
            language=supported,
            customer_type=customer_type,
            state=State.choosing_bank,
            created_at=now,
            expires_at=now + ports.settings.flow_ttl,
            data=FlowData(),
            audit=([now.isoformat(), "start", "choosing_bank", "choosing_bank", "ok"],),
        )
        log.info("flow %s started", flow.log_id)
        return flow

    @classmethod
    def restore(cls, snapshot: Snapshot, ports: Ports) -> RegistrationFlow:
        """Rebuild a flow from `snapshot()`'s output; builds no machine, calls no port.

        Raises `SnapshotInvalid` for a malformed snapshot or an unknown schema version. Does not
        check expiry: the next event does, or call `check_expiry()`.
        """
        return flow_from_snapshot(cls, snapshot, ports)

    def snapshot(self) -> Snapshot:
        """The flow as a versioned, JSON-safe dict (never a plaintext password)."""
        return flow_to_snapshot(self)

    # -- what the flow knows ------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current state."""
        return self._state

    @property
    def data(self) -> FlowData:
        """Everything gathered so far (read-only); in a terminal state, only the outcome."""
        return self._data

    @property
    def audit(self) -> tuple[AuditEntry, ...]:
        """The flow's history: time, event, from, to, outcome code."""
        return tuple(
            AuditEntry(dt.datetime.fromisoformat(at), event, State(source), State(dest), outcome)
            for at, event, source, dest, outcome in self._audit
        )

    def audit_records(self) -> list[list[str]]:
        """The audit trail in snapshot form: a fresh list of [at, event, from, to, outcome]."""
        return [list(entry) for entry in self._audit]

    @property
    def log_id(self) -> str:
        """A short prefix of the id for logs: enough to correlate, useless to hijack the flow."""
        return self.id[:8]

    @property
    def settings(self) -> Settings:
        """The operator's settings the flow runs under (contacts, required fields, ...)."""
        return self._ports.settings

    @property
    def banks(self) -> Sequence[Bank]:
        """Phase 1's bank list, from the identity port."""
        return self._ports.bank.banks()

    @property
    def redirect(self) -> BankRedirect | None:
        """Where the user was sent to identify (in `awaiting_bank`)."""
        return self._data.pending

    @property
    def personal_id(self) -> str | None:
        """The verified personal identity code (phase 2 shows it), once identified."""
        return self._data.person.personal_id if self._data.person else None

    @property
    def prefilled(self) -> ContactDetails | None:
        """Phase 3's starting point: the master record's details, once identified."""
        return self._data.customer.details if self._data.customer else None

    @property
    def details(self) -> ContactDetails | None:
        """The details as submitted and normalised (from `reviewing` on)."""
        return self._data.details

    @property
    def review_token(self) -> str | None:
        """The token `approve` needs: it names the details shown in review."""
        return self._data.review_token

    @property
    def last_error(self) -> str | None:
        """The code of the last failed identification, if any."""
        return self._data.last_error

    @property
    def bank_failures(self) -> int:
        """How many identifications have failed in this flow."""
        return self._data.bank_failures

    @property
    def outcome(self) -> Outcome | None:
        """What happened, once the flow is in a terminal state."""
        return self._data.outcome

    def allowed_events(self) -> tuple[str, ...]:
        """The events the table allows now."""
        return tuple(str(e) for e in machine.allowed_events(self._state))

    def requirements(self, language: str | None = None) -> Sequence[tuple[str, str]]:
        """The password rules for phase 3's checklist, in `language` (default: the flow's)."""
        return self._ports.policy.requirements(self.language if language is None else language)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, RegistrationFlow):
            return NotImplemented
        return self.snapshot() == other.snapshot()

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        return f"<RegistrationFlow {self.log_id}... {self._state}>"

    # -- events -------------------------------------------------------------------------------

    def select_bank(self, bank_id: str) -> BankRedirect:
        """Phase 1: choose a bank; returns where to send the user."""

        def decide() -> tuple[Branch | None, FlowData]:
            if not isinstance(bank_id, str) or bank_id not in {
                b.id for b in self._ports.bank.banks()
            }:
                raise UnknownBank(bank_id)
            redirect = self._ports.bank.begin(bank_id, flow_id=self.id, language=self.language)
            return None, self._data._replace(pending=redirect)

        self._apply(Event.select_bank, decide)
        assert self._data.pending is not None  # noqa: S101  # just set by the transition
        return self._data.pending

    def bank_not_listed(self) -> None:
        """Phase 1: the user's bank is not on the list; customer service can help."""
        self._apply(Event.bank_not_listed, lambda: (None, self._data))

    def choose_other_bank(self) -> None:
        """Back from the bank to the bank list, without an answer from the bank."""
        self._apply(Event.choose_other_bank, lambda: (None, self._data._replace(pending=None)))

    def complete_identification(self, callback: BankCallback) -> None:
        """Phase 1: the bank's answer arrived; verify it and look the person up.

        A callback that is not the pending attempt's (its `state` differs, or it has none)
        raises `CallbackMismatch` and changes nothing: the attempt stays open, no failure is
        counted, and `ports.security` records the event.
        """
        self._apply(Event.complete_identification, lambda: self._identify(callback))

    def confirm_personal_id(self) -> None:
        """Phase 2: the user checked their personal identity code and chose Next."""
        self._apply(
            Event.confirm_personal_id,
            lambda: (None, self._data._replace(personal_id_confirmed=True)),
        )

    def submit_details(self, details: ContactDetails, password: str) -> None:
        """Phase 3: contact details and password; raises `DetailsRejected` with every problem."""
        self._apply(Event.submit_details, lambda: (None, self._accept_details(details, password)))

    def edit(self) -> None:
        """Phase 4 back to phase 3; the details are kept, the review token is voided."""
        self._apply(Event.edit, lambda: (None, self._data._replace(review_token=None)))

    def approve(self, review_token: str) -> Outcome:
        """Phase 4: approve the reviewed details; creates the account and queues the email."""
        self._apply(Event.approve, lambda: (None, self._data), offered_token=review_token)
        assert self._data.outcome is not None  # noqa: S101  # set by the transition
        return self._data.outcome

    def cancel(self) -> None:
        """The user cancelled; allowed in every non-terminal state."""
        self._apply(Event.cancel, lambda: (None, self._data))

    def check_expiry(self) -> None:
        """Raise `FlowExpired` (moving the flow to `expired`) when it is past its expiry."""
        self._expire_if_due(self._ports.clock.now())

    # -- the one way an event changes the flow ------------------------------------------------

    def _apply(
        self,
        event: Event,
        decide: Callable[[], tuple[Branch | None, FlowData]],
        *,
        offered_token: object = None,
    ) -> None:
        now = self._ports.clock.now()
        self._expire_if_due(now)
        if not machine.rows_for(self._state, event):
            error = InvalidTransition(
                state=str(self._state), event=str(event), allowed=self.allowed_events()
            )
            log.info("flow %s: %s refused in %s", self.log_id, event, self._state)
            raise error
        branch, proposed = decide()  # reads ports; raises without touching the flow
        row = machine.row(self._state, event, branch)
        if row is None:  # decide() only returns branches of the table
            msg = f"no row for {event}.{branch} from {self._state}"
            raise AssertionError(msg)
        if row.dest.terminal:
            proposed = proposed._replace(outcome=self._outcome_for(row, proposed))
        self._take(row, Proposal(proposed, offered_token), now)

    def _take(self, row: Transition, proposal: Proposal[FlowData], now: dt.datetime) -> None:
        """Fire `row` on the shared machine with `proposal`; commit it only if it fired."""
        before = self._state
        try:
            # The machine checks the row's guards against the proposal, runs the row's effect
            # (which may replace the proposal's data), then sets the state.
            fired = machine.fire(self, row, proposal)
        except MachineError as error:  # the row was checked to exist; transitions refused it
            self._state = before
            raise InvalidTransition(
                state=str(before), event=str(row.event), allowed=self.allowed_events()
            ) from error
        except BaseException:
            self._state = before
            raise
        proposed = proposal.data
        if fired:
            self._state = row.dest  # the machine stored the plain name; keep the enum member
            if row.dest.terminal:
                # A finished flow keeps its outcome and audit trail, not the person's data:
                # the row's effect (approve's account) has used it, and no event follows.
                proposed = proposed.scrubbed()
        else:
            self._state = before
            failed = machine.failed_guard(row, proposal)
            assert failed is not None  # noqa: S101  # the machine refused: a guard failed
            log.info("flow %s: %s refused, guard %s", self.log_id, row.event, failed)
            raise GuardFailed(machine.GUARD_FAILURE_CODES[failed])
        self._data = proposed
        if row.event is not Event.expire:  # an expired flow's expiry stays when it expired
            self.expires_at = now + self._ports.settings.flow_ttl
        outcome = row.reason or (str(row.branch) if row.branch else "ok")
        if row.branch is Branch.bank_failed and proposed.last_error:
            outcome = proposed.last_error
        # str() gives a StrEnum's plain value, at a fraction of the cost of `.value`
        self._audit.append(
            [now.isoformat(), str(row.event), str(row.source), str(row.dest), outcome]
        )
        log.info("flow %s: %s %s -> %s (%s)", self.log_id, row.event, row.source, row.dest, outcome)

    def _expire_if_due(self, now: dt.datetime) -> None:
        if self._state.terminal or now <= self.expires_at:  # DESIGN: events *after* expires_at
            return
        row = machine.row(self._state, Event.expire)
        assert row is not None  # noqa: S101  # every active state has an expire row
        proposed = self._data._replace(outcome=self._outcome_for(row, self._data))
        self._take(row, Proposal(proposed), now)
        raise FlowExpired

    # -- what the events work out -------------------------------------------------------------

    def _identify(self, callback: BankCallback) -> tuple[Branch | None, FlowData]:
        data = self._data
        assert data.pending is not None  # noqa: S101  # awaiting_bank always has a redirect
        failure: str | None
        try:
            person = self._ports.bank.complete(callback, data.pending)
            failure = check_personal_id(
                person.personal_id,
                allow_temporary=self._ports.settings.allow_temporary_personal_ids,
            )
        except IdentificationFailed as error:
            if error.code == CallbackMismatch.code:
                # Not this attempt's answer (anyone can send a browser to the callback URL):
                # ignored, so that it can neither end the user's attempt nor count as a failure.
                self._ports.security.record(
                    CallbackMismatch.code,
                    flow=self.log_id,
                    event=str(Event.complete_identification),
                )
                if isinstance(error, CallbackMismatch):
                    raise
                # an adapter that reports it as a plain IdentificationFailed("state_mismatch")
                raise CallbackMismatch(detail=error.detail) from error
            failure = error.code
        if failure is not None:
            failures = data.bank_failures + 1
            branch = (
                Branch.identification_failed
                if failures >= self._ports.settings.max_bank_failures
                else Branch.bank_failed
            )
            return branch, data._replace(pending=None, bank_failures=failures, last_error=failure)
        person = attrs.evolve(person, personal_id=hetu.compact(person.personal_id))
        cleared = data._replace(pending=None, last_error=None)
        if self._ports.accounts.exists_for_person(person.personal_id):
            return Branch.already_registered, cleared
        record = self._ports.customers.find_by_personal_id(person.personal_id)
        if record is None:
            return Branch.customer_not_found, cleared
        if not record.identifiable:
            return Branch.incomplete_contract_data, cleared
        return Branch.identified, cleared._replace(person=person, customer=record)

    def _accept_details(self, details: ContactDetails, password: str) -> FlowData:
        if not isinstance(details, ContactDetails):
            msg = f"details must be ContactDetails, not {type(details).__name__}"
            raise TypeError(msg)
        if not isinstance(password, str):
            msg = f"password must be str, not {type(password).__name__}"
            raise TypeError(msg)
        errors: list[FieldError] = []
        try:
            clean = validate_details(details, self._ports.settings)
        except DetailsRejected as rejected:
            errors.extend(rejected.errors)
            clean = details
        person = self._data.person
        assert person is not None  # noqa: S101  # entering_details is reached identified only
        context = PersonalContext(  # capped: rejected fields may be arbitrarily long
            given_names=clean.given_names[:MAX_CONTEXT_FIELD],
            family_name=clean.family_name[:MAX_CONTEXT_FIELD],
            email=clean.email[:MAX_CONTEXT_FIELD],
            personal_id=person.personal_id,
            birth_date=birth_date(person.personal_id),
        )
        # The policy normalises (NFKC) after its own length guard, so hostile input is refused
        # before anything scans it; the same normal form is hashed below and verified at login.
        result = self._ports.policy.check(password, context, self.language)
        errors.extend(FieldError("password", v.code) for v in result.violations)
        if not any(e.field == "email" for e in errors) and self._ports.accounts.exists_for_email(
            clean.email
        ):
            errors.append(FieldError("email", "email_taken"))
        if errors:
            raise DetailsRejected(errors)
        return self._data._replace(
            details=clean,
            password_hash=self._ports.hasher.hash(normalize_password(password)),
            review_token=secrets.token_urlsafe(24),
        )

    def _create_account(self, proposal: Proposal[FlowData]) -> None:
        """approve's effect (see the table): account, contract links and email, in one unit."""
        proposal.data = self._account_created(proposal.data)

    def _account_created(self, data: FlowData) -> FlowData:
        # reviewing is reached only with all four (the guards held)
        assert data.person is not None  # noqa: S101
        assert data.customer is not None  # noqa: S101
        assert data.details is not None  # noqa: S101
        assert data.password_hash is not None  # noqa: S101
        settings = self._ports.settings
        linked = tuple(
            c.contract_number for c in data.customer.contracts if c.linkable and c.contract_number
        )
        unlinked = [c for c in data.customer.contracts if not c.linkable]
        warnings: list[str] = []
        contacts: list[Contact] = []
        if any(c.kind is ContractKind.district_heating for c in unlinked):
            warnings.append("district_heating_not_linked")
            contacts.append(settings.district_heating_advisory)
        if any(c.kind is not ContractKind.district_heating for c in unlinked):
            warnings.append("contract_not_linked")
            contacts.append(settings.customer_service)
        account_id = secrets.token_urlsafe(16)
        now = self._ports.clock.now()
        message = confirmation_email(
            flow_id=self.id,
            to=data.details.email,
            name=data.details.given_names.split(" ")[0] or data.details.family_name,
            language=data.details.language or self.language,  # the user's choice in phase 3
            customer_service=settings.customer_service,
            district_heating=settings.district_heating_advisory
            if "district_heating_not_linked" in warnings
            else None,
        )
        account = NewAccount(
            account_id=account_id,
            email=data.details.email,
            personal_id=data.person.personal_id,
            customer_number=data.customer.customer_number,
            password_hash=data.password_hash,
            profile=data.details,
            linked_contracts=linked,
            created_at=now,
            contract_links=[ContractLink.of(c, since=now) for c in data.customer.contracts],
        )
        outcome = Outcome(
            warnings=tuple(warnings),
            contacts=tuple(contacts),
            changed_fields=changed_fields(data.customer.details, data.details, settings),
            account_id=account_id,
        )
        # Last, so that nothing after the write can fail: the account and its email exist
        # exactly when the flow moves to completed.
        self._ports.accounts.create(account, message)
        return data._replace(outcome=outcome)  # the terminal state's scrub drops the rest

    def _outcome_for(self, row: Transition, data: FlowData) -> Outcome | None:
        if row.dest is State.completed:
            return data.outcome  # built by the approve effect
        contacts: tuple[Contact, ...] = ()
        if row.dest is State.needs_customer_service:
            contacts = (self._ports.settings.customer_service,)
        return Outcome(reason=row.reason, contacts=contacts)


def changed_fields(
    master: ContactDetails, profile: ContactDetails, settings: Settings
) -> tuple[str, ...]:
    """The contact fields where the e-services profile differs from the master record.

    Both sides are compared in normalised form, so a phone number written differently or an
    email in another letter case is not a change.
    """
    return tuple(
        name
        for name in CONTACT_FIELDS
        if name != "marketing_consent"
        and comparable(name, getattr(master, name), settings)
        != comparable(name, getattr(profile, name), settings)
    )
