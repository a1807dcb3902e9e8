"""The state table as data: consistent, complete, and the only thing the shared Machine knows."""

from __future__ import annotations

import pytest
from transitions import MachineError

from regflow import FlowData, RegistrationFlow
from regflow import machine as machine_module
from regflow.machine import (
    ACTIVE_STATES,
    GUARDS,
    TERMINAL_STATES,
    TRANSITIONS,
    Branch,
    Event,
    Guard,
    Proposal,
    State,
    allowed_events,
    fire,
    mermaid,
    shared_machine,
)
from regflow.ports import Ports
from tests.flows import flow_in


def test_states_are_the_design_names() -> None:
    """State values are the stable names of DESIGN section 1, and five of them are terminal."""
    assert [s.value for s in State] == [
        "choosing_bank",
        "awaiting_bank",
        "confirming_personal_id",
        "entering_details",
        "reviewing",
        "completed",
        "needs_customer_service",
        "already_registered",
        "cancelled",
        "expired",
    ]
    assert {s for s in State if s.terminal} == TERMINAL_STATES
    assert len(TERMINAL_STATES) == 5


def test_terminal_states_have_no_way_out() -> None:
    """No row leaves a terminal state; every active state can be cancelled and can expire."""
    assert not [r for r in TRANSITIONS if r.source in TERMINAL_STATES]
    for state in ACTIVE_STATES:
        assert Event.cancel in allowed_events(state)
        assert any(r.event is Event.expire for r in TRANSITIONS if r.source is state)


def test_events_are_methods_of_the_flow_and_guards_functions_of_the_machine() -> None:
    """Each event (but expire) is a flow method; each guard is the machine function of its name."""
    for event in Event:
        if event is not Event.expire:
            assert callable(getattr(RegistrationFlow, event.value))
    for guard in Guard:
        assert GUARDS[guard] is getattr(machine_module, guard.value)
    for row in TRANSITIONS:
        if row.effect:
            assert callable(getattr(RegistrationFlow, row.effect))


def test_approve_needs_all_four_guards() -> None:
    """The approve row is guarded by all four guards, in the design's order."""
    (row,) = [r for r in TRANSITIONS if r.event is Event.approve]
    assert row.guards == (
        Guard.is_identified,
        Guard.is_personal_id_confirmed,
        Guard.are_details_valid,
        Guard.is_approved,
    )


def test_shared_machine_is_built_once_without_auto_transitions() -> None:
    """One Machine serves all flows: no to_<state> triggers, invalid triggers not ignored."""
    machine = shared_machine()
    assert shared_machine() is machine
    assert not [name for name in machine.events if name.startswith("to_")]
    assert machine.ignore_invalid_triggers is False
    assert machine.models == []  # flows are never registered, so none is kept alive
    assert set(machine.events) == {r.trigger for r in TRANSITIONS}


@pytest.mark.parametrize("row", [r for r in TRANSITIONS if r.event not in {"cancel", "expire"}])
def test_diagram_draws_every_row(row: object) -> None:
    """Every row but the everywhere-rows cancel and expire is an arrow of the diagram."""
    assert f"    {row.source} --> {row.dest}: {row.event}" in mermaid()  # type: ignore[attr-defined]


def test_fire_refuses_a_row_of_another_state(ports: Ports) -> None:
    """The shared machine fires a row only on a flow in the row's source state, and says which
    row and which state."""
    flow = flow_in(State.choosing_bank, ports)
    (row,) = [r for r in TRANSITIONS if r.event is Event.confirm_personal_id]
    with pytest.raises(MachineError, match="confirm_personal_id fired from choosing_bank"):
        fire(flow, row, Proposal(FlowData()))
    assert flow.state is State.choosing_bank


def test_identification_rows_are_the_branches() -> None:
    """complete_identification has one row per `Branch`, and no other row has a branch."""
    identification = [r for r in TRANSITIONS if r.event is Event.complete_identification]
    assert [r.branch for r in identification] == list(Branch)
    assert all(r.branch is None for r in TRANSITIONS if r not in identification)
