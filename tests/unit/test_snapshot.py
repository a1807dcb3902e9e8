"""Snapshots: JSON-safe, versioned, equivalent on restore, and never holding a password."""

from __future__ import annotations

import json

import pytest

from regflow import RegistrationFlow, SnapshotInvalid, State
from regflow.machine import TRANSITIONS
from regflow.ports import Ports
from regflow.snapshot import SCHEMA_VERSION
from tests.flows import GOOD_PASSWORD, flow_in, take


@pytest.mark.parametrize("state", list(State), ids=str)
def test_restore_in_any_state_gives_an_equivalent_flow(state: State, ports: Ports) -> None:
    """A flow restored from its snapshot is equal to it and goes on the same way."""
    flow = flow_in(state, ports)
    snapshot = json.loads(json.dumps(flow.snapshot()))
    restored = RegistrationFlow.restore(snapshot, ports)
    assert restored == flow
    assert restored.state is flow.state
    assert restored.audit == flow.audit
    assert restored.outcome == flow.outcome
    rows = [r for r in TRANSITIONS if r.source is state and r.event == "cancel"]
    for row in rows:
        take(restored, ports, row)
        assert restored.state is State.cancelled


def test_snapshot_never_holds_the_password(ports: Ports) -> None:
    """Only the argon2id hash of the password travels in the snapshot."""
    flow = flow_in(State.reviewing, ports)
    text = json.dumps(flow.snapshot())
    assert GOOD_PASSWORD not in text
    assert "$argon2id$" in text


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.update(schema=SCHEMA_VERSION + 1),
        lambda s: s.update(schema=0),
        lambda s: s.pop("schema"),
        lambda s: s.update(state="nowhere"),
        lambda s: s.update(expires_at="yesterday"),
        lambda s: s["data"].update(bank_failures="many"),
        lambda s: s.update(audit=[["x"]]),
    ],
)
def test_bad_snapshots_are_refused_clearly(ports: Ports, mutate: object) -> None:
    """A malformed or unknown-version snapshot raises SnapshotInvalid, never a raw error."""
    snapshot = flow_in(State.reviewing, ports).snapshot()
    mutate(snapshot)  # type: ignore[operator]
    with pytest.raises(SnapshotInvalid) as info:
        RegistrationFlow.restore(snapshot, ports)
    assert info.value.code == "snapshot_invalid"


def test_restore_builds_no_machine(ports: Ports, monkeypatch: pytest.MonkeyPatch) -> None:
    """Restoring a flow and applying events reuses the one shared transitions Machine."""
    import transitions

    from regflow import machine

    flow = flow_in(State.confirming_personal_id, ports)
    shared = machine.shared_machine()

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a Machine was built")

    monkeypatch.setattr(transitions.Machine, "__init__", forbidden)
    restored = RegistrationFlow.restore(flow.snapshot(), ports)
    restored.confirm_personal_id()
    assert machine.shared_machine() is shared
    assert restored.state is State.entering_details


@pytest.mark.parametrize(
    ("state", "mutate"),
    [
        (State.reviewing, lambda s: s["data"].update(bank_failures=float("inf"))),
        (State.reviewing, lambda s: s["data"].update(bank_failures=-50)),
        (State.reviewing, lambda s: s["data"].update(bank_failures="2")),
        (State.reviewing, lambda s: s["data"].update(personal_id_confirmed="no")),
        (State.reviewing, lambda s: s["data"]["details"].update(given_names=123)),
        (State.completed, lambda s: s["data"]["outcome"].update(warnings="abc")),
        (State.reviewing, lambda s: s.update(customer_type="business")),
        (State.reviewing, lambda s: s.update(id="")),
        (State.reviewing, lambda s: s.update(language="de")),
        (State.reviewing, lambda s: s["data"]["person"].update(personal_id="not a code")),
        (State.reviewing, lambda s: s["audit"][0].__setitem__(0, "garbage")),
        (State.awaiting_bank, lambda s: s["data"].update(pending=None)),
        (State.entering_details, lambda s: s["data"].update(person=None)),
        (State.reviewing, lambda s: s["data"].update(review_token=None)),
        (State.completed, lambda s: s["data"].update(outcome=None)),
    ],
)
def test_inconsistent_snapshots_are_refused(ports: Ports, state: State, mutate: object) -> None:
    """Wrong types, impossible values and data that does not fit the state are refused."""
    snapshot = json.loads(json.dumps(flow_in(state, ports).snapshot()))
    mutate(snapshot)  # type: ignore[operator]
    with pytest.raises(SnapshotInvalid):
        RegistrationFlow.restore(snapshot, ports)
