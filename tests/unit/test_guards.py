"""The guards are pure functions of a proposal, and hold on flows that lack the data they check."""

from __future__ import annotations

import attrs
import pytest

from regflow import FlowData, GuardFailed, RegistrationFlow, SnapshotInvalid, State
from regflow.adapters.memory import InMemoryAccountStore
from regflow.machine import (
    Proposal,
    are_details_valid,
    is_approved,
    is_identified,
    is_personal_id_confirmed,
)
from regflow.ports import Ports
from tests.flows import flow_in


def reviewing_data(ports: Ports) -> FlowData:
    """The data of a flow driven through the public events to `reviewing`."""
    return flow_in(State.reviewing, ports).data


def accounts(ports: Ports) -> InMemoryAccountStore:
    """The in-memory account store of demo ports."""
    assert isinstance(ports.accounts, InMemoryAccountStore)
    return ports.accounts


def built(ports: Ports, state: State, data: FlowData) -> RegistrationFlow:
    """A flow in `state` with `data`, made with the low-level constructor (no checks)."""
    now = ports.clock.now()
    return RegistrationFlow(
        ports,
        flow_id="A" * 32,
        language="en",
        customer_type="consumer",
        state=state,
        created_at=now,
        expires_at=now + ports.settings.flow_ttl,
        data=data,
        audit=(),
    )


def test_guards_hold_on_the_data_of_a_reviewed_flow(ports: Ports) -> None:
    """Every guard holds for the data a flow gathered on its way to review, with its token."""
    data = reviewing_data(ports)
    proposal = Proposal(data, data.review_token)
    assert is_identified(proposal)
    assert is_personal_id_confirmed(proposal)
    assert are_details_valid(proposal)
    assert is_approved(proposal)


def test_guards_are_false_on_a_proposal_without_data() -> None:
    """On empty data (no person, customer, confirmation, details or token) every guard fails."""
    proposal = Proposal(FlowData(), "some-token")
    assert not is_identified(proposal)
    assert not is_personal_id_confirmed(proposal)
    assert not are_details_valid(proposal)
    assert not is_approved(proposal)


@pytest.mark.parametrize("missing", ["person", "customer"])
def test_is_identified_needs_person_and_customer(ports: Ports, missing: str) -> None:
    """Without the verified person or without the customer record, the flow is not identified."""
    data = attrs.evolve(reviewing_data(ports), **{missing: None})
    assert not is_identified(Proposal(data))


@pytest.mark.parametrize("missing", ["details", "password_hash"])
def test_are_details_valid_needs_details_and_hash(ports: Ports, missing: str) -> None:
    """Without the details or without the password hash, the details are not valid."""
    data = attrs.evolve(reviewing_data(ports), **{missing: None})
    assert not are_details_valid(Proposal(data))


@pytest.mark.parametrize("offered", [None, "", "stale", 42])
def test_is_approved_needs_the_review_token(ports: Ports, offered: object) -> None:
    """Only the review token itself approves: not none, another string, nor a non-string."""
    assert not is_approved(Proposal(reviewing_data(ports), offered))


def test_is_approved_fails_when_no_token_was_issued(ports: Ports) -> None:
    """A flow whose review token was voided cannot be approved, whatever is offered."""
    data = reviewing_data(ports)
    assert data.review_token is not None
    assert not is_approved(Proposal(attrs.evolve(data, review_token=None), data.review_token))


def test_restored_flow_without_confirmation_cannot_approve(ports: Ports) -> None:
    """A restored review whose code was never confirmed fails approve's second guard."""
    snapshot = flow_in(State.reviewing, ports).snapshot()
    snapshot["data"]["personal_id_confirmed"] = False
    flow = RegistrationFlow.restore(snapshot, ports)
    existing = dict(accounts(ports).accounts)
    token = flow.review_token
    assert token is not None
    with pytest.raises(GuardFailed) as info:
        flow.approve(token)
    assert info.value.code == "personal_id_not_confirmed"
    assert flow.snapshot() == snapshot
    assert accounts(ports).accounts == existing


@pytest.mark.parametrize(
    ("state", "missing"),
    [
        (State.confirming_personal_id, "person"),
        (State.entering_details, "person"),
        (State.entering_details, "customer"),
        (State.reviewing, "details"),
        (State.reviewing, "password_hash"),
        (State.reviewing, "review_token"),
    ],
)
def test_restore_refuses_a_state_without_its_data(ports: Ports, state: State, missing: str) -> None:
    """Restore refuses the snapshots that would reach is_identified or are_details_valid unmet."""
    snapshot = flow_in(state, ports).snapshot()
    snapshot["data"][missing] = None
    with pytest.raises(SnapshotInvalid):
        RegistrationFlow.restore(snapshot, ports)


def test_confirm_personal_id_on_an_unidentified_flow_fails_is_identified(ports: Ports) -> None:
    """A flow built in confirming_personal_id without a person cannot confirm the code."""
    flow = built(ports, State.confirming_personal_id, FlowData())
    before = flow.snapshot()
    with pytest.raises(GuardFailed) as info:
        flow.confirm_personal_id()
    assert info.value.code == "not_identified"
    assert flow.snapshot() == before


@pytest.mark.parametrize(
    ("missing", "code"),
    [
        ({"person": None}, "not_identified"),
        ({"customer": None}, "not_identified"),
        ({"personal_id_confirmed": False}, "personal_id_not_confirmed"),
        ({"details": None}, "details_missing"),
        ({"password_hash": None}, "details_missing"),
        ({"review_token": None}, "stale_review"),
    ],
)
def test_approve_on_a_flow_without_the_data_fails_the_first_unmet_guard(
    ports: Ports, missing: dict[str, object], code: str
) -> None:
    """approve on a built flow lacking one datum names the first guard that fails; nothing made."""
    data = reviewing_data(ports)
    token = data.review_token
    assert token is not None
    flow = built(ports, State.reviewing, attrs.evolve(data, **missing))
    before, existing = flow.snapshot(), dict(accounts(ports).accounts)
    with pytest.raises(GuardFailed) as info:
        flow.approve(token)
    assert info.value.code == code
    assert flow.snapshot() == before
    assert accounts(ports).accounts == existing
