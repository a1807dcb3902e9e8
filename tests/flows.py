"""Test support: drive a flow to any state and take any row of the table with a valid payload."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Callable

import attrs
import pytest

from regflow import FlowExpired, RegistrationFlow, State
from regflow.adapters.memory import DEMO_CUSTOMERS, ManualClock, SimulatedBank
from regflow.machine import TRANSITIONS, Event, Transition
from regflow.ports import Ports

GOOD_PASSWORD = "Kukkaruukku7Q"

# For each branch of complete_identification: who identifies, and how the bank answers.
IDENTIFY_AS: dict[str | None, str] = {
    "identified": "131052-308T",  # Anna-Liisa Virtanen
    "customer_not_found": "071290-873K",  # Erik Lindqvist
    "incomplete_contract_data": "280699-255N",  # Mikko Nieminen
    "already_registered": "150380-123P",  # Johan Eriksson
}


def bank(ports: Ports) -> SimulatedBank:
    """The simulated bank of demo ports."""
    assert isinstance(ports.bank, SimulatedBank)
    return ports.bank


def clock(ports: Ports) -> ManualClock:
    """The manual clock of demo ports."""
    assert isinstance(ports.clock, ManualClock)
    return ports.clock


def take(flow: RegistrationFlow, ports: Ports, row: Transition) -> None:
    """Fire `row` on `flow` with a payload that takes exactly that row."""
    event, branch = row.event, row.branch
    if event is Event.select_bank:
        flow.select_bank("nordea")
    elif event is Event.bank_not_listed:
        flow.bank_not_listed()
    elif event is Event.choose_other_bank:
        flow.choose_other_bank()
    elif event is Event.complete_identification:
        assert flow.redirect is not None
        if branch in {"bank_failed", "identification_failed"}:
            flow.complete_identification(bank(ports).cancel(flow.redirect))
        else:
            callback = bank(ports).approve(flow.redirect, personal_id=IDENTIFY_AS[branch])
            flow.complete_identification(callback)
    elif event is Event.confirm_personal_id:
        flow.confirm_personal_id()
    elif event is Event.submit_details:
        assert flow.prefilled is not None
        flow.submit_details(attrs.evolve(flow.prefilled, email="anna@example.fi"), GOOD_PASSWORD)
    elif event is Event.edit:
        flow.edit()
    elif event is Event.approve:
        assert flow.review_token is not None
        flow.approve(flow.review_token)
    elif event is Event.cancel:
        flow.cancel()
    elif event is Event.expire:
        clock(ports).advance(ports.settings.flow_ttl + dt.timedelta(seconds=1))
        with pytest.raises(FlowExpired):
            flow.check_expiry()
    else:  # pragma: no cover
        raise AssertionError(event)


# An abstract state for path search: the table's state plus the bank-failure count, since the
# table sends the max_bank_failures-th failure elsewhere than the earlier ones.
Node = tuple[State, int]


def _enabled(row: Transition, failures: int, max_failures: int) -> bool:
    if row.branch == "bank_failed":
        return failures + 1 < max_failures
    if row.branch == "identification_failed":
        return failures + 1 == max_failures
    return True


def _next(row: Transition, failures: int) -> int:
    return failures + 1 if row.branch in {"bank_failed", "identification_failed"} else failures


def shortest_paths(max_failures: int = 3) -> dict[Transition, list[Transition]]:
    """For each row of the table, a shortest list of rows from the start that ends with it."""
    start: Node = (State.choosing_bank, 0)
    paths: dict[Node, list[Transition]] = {start: []}
    queue = collections.deque([start])
    result: dict[Transition, list[Transition]] = {}
    while queue:
        node = queue.popleft()
        state, failures = node
        for row in TRANSITIONS:
            if row.source is not state or not _enabled(row, failures, max_failures):
                continue
            path = [*paths[node], row]
            result.setdefault(row, path)
            nxt: Node = (row.dest, _next(row, failures))
            if nxt not in paths:
                paths[nxt] = path
                queue.append(nxt)
    return result


def path_to_state(state: State) -> list[Transition]:
    """A shortest list of rows from the start to `state`."""
    if state is State.choosing_bank:
        return []
    candidates = [p for row, p in shortest_paths().items() if row.dest is state]
    return min(candidates, key=len)


def flow_in(state: State, ports: Ports, *, language: str = "sv") -> RegistrationFlow:
    """A new flow driven to `state` with valid payloads."""
    flow = RegistrationFlow.start(ports, language=language)
    for row in path_to_state(state):
        take(flow, ports, row)
    assert flow.state is state
    return flow


EventCall = Callable[[RegistrationFlow, Ports], object]


def valid_call(event: Event) -> EventCall:
    """A call of `event` with a payload that is valid wherever the event is allowed."""

    def call(flow: RegistrationFlow, ports: Ports) -> object:
        if event is Event.select_bank:
            return flow.select_bank("op")
        if event is Event.bank_not_listed:
            return flow.bank_not_listed()
        if event is Event.choose_other_bank:
            return flow.choose_other_bank()
        if event is Event.complete_identification:
            redirect = flow.redirect or bank(ports).begin("op", flow_id=flow.id, language="sv")
            callback = bank(ports).approve(redirect, personal_id="131052-308T")
            return flow.complete_identification(callback)
        if event is Event.confirm_personal_id:
            return flow.confirm_personal_id()
        if event is Event.submit_details:
            details = flow.prefilled or DEMO_CUSTOMERS[0].details
            return flow.submit_details(attrs.evolve(details, email="m@example.fi"), GOOD_PASSWORD)
        if event is Event.edit:
            return flow.edit()
        if event is Event.approve:
            return flow.approve(flow.review_token or "no-token")
        if event is Event.cancel:
            return flow.cancel()
        raise AssertionError(event)  # pragma: no cover

    return call


USER_EVENTS = tuple(e for e in Event if e is not Event.expire)
