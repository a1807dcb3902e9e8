"""Property-based test of the flow: random events, valid and invalid payloads, many flows at once.

Invariants checked after every step: an event returns having taken a row of the table, or raises
and changes nothing; `completed` only with all four guards held; at most one account per person
and per email; terminal states never change; snapshot-then-restore gives the same flow; no
plaintext password in any snapshot; exactly one confirmation email per completed flow; a flow
in a terminal state holds none of the personal data it ever held.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import attrs
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from regflow import (
    AdapterError,
    Argon2Hasher,
    BankCallback,
    BankRedirect,
    ContractKind,
    FlowExpired,
    RegflowError,
    RegistrationFlow,
    State,
    deliver_pending_emails,
)
from regflow.adapters.memory import (
    DEMO_CUSTOMERS,
    InMemoryAccountStore,
    ManualClock,
    RecordingMailer,
    SimulatedBank,
    demo_ports,
)
from regflow.emails import confirmation_message_id
from regflow.machine import TERMINAL_STATES, TRANSITIONS
from regflow.model import PERSONAL_FIELDS
from regflow.validation import email_key

PEOPLE = ["131052-308T", "010594Y239M", "240467-541E", "280699-255N", "071290-873K"]
PEOPLE += ["150380-123P", "131052-308X", "131052-9085", "not a code"]
EMAILS = ["a@example.fi", "A@EXAMPLE.fi", "b@example.fi", "johan.eriksson@example.fi", "bad@"]
PASSWORDS = ["Kukkaruukku7Q", "Tulppaani84Xz", "Sininen#Lintu42", "short", "Virtuoso2024x", ""]
BANKS = ["nordea", "op", "aktia", "nonexistent", "", "\u00e4"]
ANY_TEXT = st.text(max_size=40)
FAKES = ["bank", "customers", "accounts", "mailer"]
# Values of FlowData's personal fields that are not personal: a finished flow may name them.
NOT_PERSONAL = {str(kind) for kind in ContractKind} | set(BANKS)
# Personal values every finished flow must not hold, whichever flow they were typed into.
KNOWN_PERSONAL = (
    {
        value
        for record in DEMO_CUSTOMERS
        for value in (
            record.personal_id,
            record.personal_id.replace("-", ""),
            *attrs.astuple(record.details)[:7],  # names, email, phone, address
        )
        if isinstance(value, str) and len(value) >= 5
    }
    | {e for e in EMAILS if "." in e}
    | {p for p in PEOPLE if len(p) == 11}
)

STEPS = {"count": 0}


class RegistrationMachine(RuleBasedStateMachine):
    """Many flows over one set of ports, driven by random events."""

    flows = Bundle("flows")

    def __init__(self) -> None:
        super().__init__()
        self.ports = demo_ports(hasher=Argon2Hasher.insecure_fast())
        self.bank = self.ports.bank
        assert isinstance(self.bank, SimulatedBank)
        assert isinstance(self.ports.accounts, InMemoryAccountStore)
        assert isinstance(self.ports.mailer, RecordingMailer)
        assert isinstance(self.ports.clock, ManualClock)
        self.accounts = self.ports.accounts
        self.mailer = self.ports.mailer
        self.clock = self.ports.clock
        self.all_flows: list[RegistrationFlow] = []
        self.terminal: dict[str, State] = {}
        self.approved_with_current_token: set[str] = set()
        self.personal: dict[str, set[str]] = {}  # flow id -> the personal values it ever held

    # -- the one rule ---------------------------------------------------------------------------

    def apply(self, flow: RegistrationFlow, event: str, call: object) -> None:
        """Run one event and check it returned with a table row, or raised and changed nothing."""
        before_state = flow.state
        before = json.dumps(flow.snapshot(), sort_keys=True)
        self.personal.setdefault(flow.id, set()).update(personal_values(flow.snapshot()))
        try:
            call()  # type: ignore[operator]
        except FlowExpired:
            assert flow.state is State.expired
            assert before_state not in TERMINAL_STATES
            return
        except RegflowError:
            assert json.dumps(flow.snapshot(), sort_keys=True) == before
            return
        rows = {(r.source, r.event, r.dest) for r in TRANSITIONS}
        assert (before_state, event, flow.state) in rows

    @initialize(target=flows)
    def first_flow(self) -> RegistrationFlow:
        """Every run starts with one flow."""
        return self.new_flow("fi")

    def new_flow(self, language: str) -> RegistrationFlow:
        """Start and remember a flow."""
        flow = RegistrationFlow.start(self.ports, language=language)
        self.all_flows.append(flow)
        return flow

    @rule(target=flows, language=st.sampled_from(["sv", "fi", "en"]))
    def start(self, language: str) -> RegistrationFlow:
        """Start another flow."""
        return self.new_flow(language)

    @rule(flow=flows, bank_id=st.sampled_from(BANKS) | ANY_TEXT)
    def select_bank(self, flow: RegistrationFlow, bank_id: str) -> None:
        """Choose a bank, listed or not."""
        self.apply(flow, "select_bank", lambda: flow.select_bank(bank_id))

    @rule(flow=flows)
    def bank_not_listed(self, flow: RegistrationFlow) -> None:
        """The user's bank is not on the list."""
        self.apply(flow, "bank_not_listed", flow.bank_not_listed)

    @rule(flow=flows)
    def choose_other_bank(self, flow: RegistrationFlow) -> None:
        """Back to the bank list."""
        self.apply(flow, "choose_other_bank", flow.choose_other_bank)

    @rule(
        flow=flows,
        person=st.sampled_from(PEOPLE),
        answer=st.sampled_from(["approve", "approve", "approve", "cancel", "fail", "forged"]),
        junk=st.dictionaries(st.sampled_from(["state", "code", "error", "x"]), ANY_TEXT),
    )
    def complete_identification(
        self, flow: RegistrationFlow, person: str, answer: str, junk: dict[str, str]
    ) -> None:
        """The bank answers: approval as someone, a cancel, a failure, or forged/junk params."""
        redirect = flow.redirect or BankRedirect(bank_id="op", url="-", state="s", nonce="n")
        callback = {
            "approve": lambda: self.bank.approve(redirect, personal_id=person),
            "cancel": lambda: self.bank.cancel(redirect),
            "fail": lambda: self.bank.fail(redirect),
            "forged": lambda: BankCallback({"state": "forged", "code": "forged", **junk}),
        }[answer]()
        self.apply(flow, "complete_identification", lambda: flow.complete_identification(callback))

    @rule(flow=flows)
    def confirm_personal_id(self, flow: RegistrationFlow) -> None:
        """The user checks the personal identity code."""
        self.apply(flow, "confirm_personal_id", flow.confirm_personal_id)

    @rule(
        flow=flows,
        email=st.sampled_from(EMAILS) | ANY_TEXT,
        password=st.sampled_from(PASSWORDS) | ANY_TEXT,
        postal=st.sampled_from(["00100", "0010", ""]),
    )
    def submit_details(
        self, flow: RegistrationFlow, email: str, password: str, postal: str
    ) -> None:
        """The user submits details and a password, valid or not."""
        details = flow.prefilled or DEMO_CUSTOMERS[0].details
        details = attrs.evolve(details, email=email, postal_code=postal)
        self.apply(flow, "submit_details", lambda: flow.submit_details(details, password))

    @rule(flow=flows)
    def edit(self, flow: RegistrationFlow) -> None:
        """Back from review to the details."""
        self.apply(flow, "edit", flow.edit)

    @rule(
        flow=flows,
        token=st.sampled_from(["current", "current", "stale", "garbage"]),
        text=ANY_TEXT,
    )
    def approve(self, flow: RegistrationFlow, token: str, text: str) -> None:
        """Approve with the current review token, a stale one or garbage."""
        offered = {
            "current": flow.review_token or "",
            "stale": "x" * 32,
            "garbage": text,
        }[token]
        current = flow.review_token is not None and offered == flow.review_token
        self.apply(flow, "approve", lambda: flow.approve(offered))
        newly_completed = flow.id not in self.approved_with_current_token
        if flow.state is State.completed and newly_completed:
            assert current, "completed without the current review token"
            self.approved_with_current_token.add(flow.id)

    @rule(
        flow=flows,
        person=st.sampled_from(PEOPLE[:3]),
        email=st.sampled_from(EMAILS[:3]),
        token=st.sampled_from(["current", "stale", "garbage"]),
    )
    def progress(self, flow: RegistrationFlow, person: str, email: str, token: str) -> None:
        """Drive the flow through the phases with valid input up to an approve with `token`."""
        for _ in range(5):
            state = flow.state
            if state is State.choosing_bank:
                self.apply(flow, "select_bank", lambda: flow.select_bank("nordea"))
            elif state is State.awaiting_bank and flow.redirect is not None:
                callback = self.bank.approve(flow.redirect, personal_id=person)
                self.apply(
                    flow,
                    "complete_identification",
                    lambda callback=callback: flow.complete_identification(callback),
                )
            elif state is State.confirming_personal_id:
                self.apply(flow, "confirm_personal_id", flow.confirm_personal_id)
            elif state is State.entering_details and flow.prefilled is not None:
                details = attrs.evolve(flow.prefilled, email=email)
                self.apply(
                    flow,
                    "submit_details",
                    lambda details=details: flow.submit_details(details, PASSWORDS[1]),
                )
            elif state is State.reviewing:
                self.approve(flow, token, "")
            if flow.state is state:
                return

    @rule(fake=st.sampled_from(FAKES), down=st.booleans())
    def outage(self, fake: str, down: bool) -> None:
        """A backend goes down or comes back; events meanwhile must change nothing."""
        getattr(self.ports, fake).outage = down

    @rule(flow=flows)
    def cancel(self, flow: RegistrationFlow) -> None:
        """The user cancels."""
        self.apply(flow, "cancel", flow.cancel)

    @rule(flow=consumes(flows), target=flows)
    def snapshot_and_restore(self, flow: RegistrationFlow) -> RegistrationFlow:
        """The flow goes through JSON to another worker, which goes on with it."""
        restored = RegistrationFlow.restore(json.loads(json.dumps(flow.snapshot())), self.ports)
        assert restored == flow
        self.all_flows[self.all_flows.index(flow)] = restored
        return restored

    @rule(minutes=st.integers(min_value=1, max_value=40))
    def time_passes(self, minutes: int) -> None:
        """Time passes; flows left alone long enough expire at their next event."""
        self.clock.advance(dt.timedelta(minutes=minutes))

    @rule()
    def deliver(self) -> None:
        """The outbox relay runs (an account-store outage stops the pass, losing nothing)."""
        try:
            deliver_pending_emails(self.ports)
        except AdapterError:
            assert self.accounts.outage

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def count_steps(self) -> None:
        """Count the steps run (invariants run after every step)."""
        STEPS["count"] += 1

    @invariant()
    def completed_only_with_all_guards(self) -> None:
        """A completed flow was identified, confirmed, had valid details and was approved."""
        for flow in self.all_flows:
            if flow.state is State.completed:
                # the flow no longer holds the data: its account does
                assert flow.outcome is not None
                account = self.accounts.accounts[flow.outcome.account_id or ""]
                assert account.personal_id in PEOPLE
                assert account.password_hash.startswith("$argon2id$")
                events = [entry.event for entry in flow.audit]
                assert "confirm_personal_id" in events
                assert events[-1] == "approve"

    @invariant()
    def finished_flows_hold_no_personal_data(self) -> None:
        """A flow in a terminal state keeps its outcome and audit trail, nothing personal."""
        for flow in self.all_flows:
            if flow.state not in TERMINAL_STATES:
                continue
            assert all(getattr(flow.data, name) is None for name in PERSONAL_FIELDS)
            snapshot = flow.snapshot()
            # every field but the audit's times, which could contain a postal code's digits
            text = json.dumps(
                [
                    {k: v for k, v in snapshot.items() if k != "audit"},
                    [entry[1:] for entry in snapshot["audit"]],
                ]
            )
            held = self.personal.get(flow.id, set()) | KNOWN_PERSONAL
            assert not {value for value in held if value in text}
            if flow.state is State.completed:
                account = self.accounts.accounts[flow.outcome.account_id or ""]  # type: ignore[union-attr]
                assert account.password_hash not in text

    @invariant()
    def one_account_per_person_and_email(self) -> None:
        """No two accounts share a person or an email (case-insensitively)."""
        accounts = list(self.accounts.accounts.values())
        assert len({a.personal_id for a in accounts}) == len(accounts)
        assert len({email_key(a.email) for a in accounts}) == len(accounts)

    @invariant()
    def terminal_states_never_change(self) -> None:
        """Once terminal, a flow stays in that state."""
        for flow in self.all_flows:
            if flow.id in self.terminal:
                assert flow.state is self.terminal[flow.id]
            elif flow.state in TERMINAL_STATES:
                self.terminal[flow.id] = flow.state

    @invariant()
    def snapshots_round_trip_without_passwords(self) -> None:
        """Every flow survives JSON and restore unchanged, and no snapshot holds a password."""
        for flow in self.all_flows:
            text = json.dumps(flow.snapshot())
            assert RegistrationFlow.restore(json.loads(text), self.ports) == flow
            for password in PASSWORDS:
                if len(password) >= 5:
                    assert password not in text

    @invariant()
    def one_confirmation_email_per_completed_flow(self) -> None:
        """Each completed flow queued exactly one email, and none was sent twice."""
        completed = {f.id for f in self.all_flows if f.state is State.completed}
        queued = list(self.accounts.outbox)
        assert sorted(queued) == sorted(confirmation_message_id(i) for i in completed)
        sent = [m.message_id for m in self.mailer.sent]
        assert len(sent) == len(set(sent))
        assert set(sent) <= set(queued)


def personal_values(snapshot: dict[str, object]) -> set[str]:
    """The strings in a snapshot's personal fields (`PERSONAL_FIELDS`), but codes and names of
    things (contract kinds, bank ids) and strings too short to tell apart from others."""
    data = snapshot["data"]
    assert isinstance(data, dict)
    found: set[str] = set()
    pending: list[object] = [data[name] for name in PERSONAL_FIELDS]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and len(value) >= 5 and value not in NOT_PERSONAL:
            found.add(value)
    return found


def test_registration_state_machine() -> None:
    """Random event sequences never break the flow's invariants (100 000+ steps under CI)."""
    ci = os.environ.get("HYPOTHESIS_PROFILE") == "ci"
    STEPS["count"] = 0
    run_state_machine_as_test(
        RegistrationMachine,
        settings=settings(
            max_examples=2000 if ci else 60,
            stateful_step_count=60 if ci else 30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"stateful steps: {STEPS['count']}")
    assert STEPS["count"] >= (100_000 if ci else 500)
