"""The transition table: every (state, event) pair, and full coverage of its rows by paths."""

from __future__ import annotations

import json

import pytest

from regflow import InvalidTransition, State
from regflow.machine import TERMINAL_STATES, TRANSITIONS, Event, rows_for
from regflow.ports import Ports
from tests.flows import USER_EVENTS, flow_in, shortest_paths, take, valid_call


@pytest.mark.parametrize("event", USER_EVENTS, ids=str)
@pytest.mark.parametrize("state", list(State), ids=str)
def test_every_state_and_event(state: State, event: Event, ports: Ports) -> None:
    """Each (state, event) pair either takes a row of the table or is refused, changing nothing."""
    flow = flow_in(state, ports)
    before = json.dumps(flow.snapshot(), sort_keys=True)
    rows = rows_for(state, event)
    if not rows:
        with pytest.raises(InvalidTransition) as info:
            valid_call(event)(flow, ports)
        assert info.value.state == state
        assert info.value.event == event
        assert set(info.value.allowed) == {
            r.event for r in TRANSITIONS if r.source is state and r.event is not Event.expire
        }
        assert json.dumps(flow.snapshot(), sort_keys=True) == before
        return
    valid_call(event)(flow, ports)
    assert flow.state in {r.dest for r in rows}
    assert flow.audit[-1].event == event
    assert flow.audit[-1].source == state


def _row_taken(entry_event: str, source: State, dest: State, outcome: str) -> object:
    candidates = [
        r for r in TRANSITIONS if r.event == entry_event and r.source is source and r.dest is dest
    ]
    if len(candidates) > 1:
        candidates = [r for r in candidates if r.branch == outcome]
    assert len(candidates) == 1, (entry_event, source, dest, outcome)
    return candidates[0]


def test_paths_cover_every_row(ports: Ports) -> None:
    """Shortest paths computed from the table itself, run with valid payloads, take 100% of rows."""
    from regflow import Argon2Hasher, RegistrationFlow
    from regflow.adapters.memory import demo_ports

    paths = shortest_paths(ports.settings.max_bank_failures)
    assert set(paths) == set(TRANSITIONS), "some rows are unreachable from the start state"
    taken = set()
    for path in paths.values():
        ports = demo_ports(hasher=Argon2Hasher.insecure_fast())  # fresh per path
        flow = RegistrationFlow.start(ports, language="fi")
        for row in path:
            take(flow, ports, row)
        assert flow.state is path[-1].dest
        for entry in flow.audit[1:]:
            taken.add(_row_taken(entry.event, entry.source, entry.dest, entry.outcome))
    assert taken == set(TRANSITIONS)
    assert len(taken) / len(TRANSITIONS) == 1.0


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES), ids=str)
def test_terminal_states_allow_no_event(state: State, ports: Ports) -> None:
    """A terminal state refuses every event and keeps its outcome."""
    flow = flow_in(state, ports)
    outcome = flow.outcome
    assert outcome is not None
    for event in USER_EVENTS:
        with pytest.raises(InvalidTransition):
            valid_call(event)(flow, ports)
    assert flow.state is state
    assert flow.outcome == outcome
