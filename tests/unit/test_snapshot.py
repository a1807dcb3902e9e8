"""Snapshots: JSON-safe, versioned, equivalent on restore, and never holding a password."""

from __future__ import annotations

import copy
import functools
import json
import operator
from collections.abc import Iterable, Iterator
from typing import Any

import attrs
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


def _rich_snapshot(state: State, ports: Ports) -> dict[str, Any]:
    """A JSON snapshot of a flow in `state`, with the data's empty collections filled in."""
    snapshot: dict[str, Any] = json.loads(json.dumps(flow_in(state, ports).snapshot()))
    data = snapshot["data"]
    if data["pending"] is not None:
        data["pending"]["secrets"] = {"code_verifier": "v3r1f13r"}
    if data["outcome"] is not None:
        data["outcome"]["warnings"] = ["contract_not_linked"]
    return snapshot


def _positions(value: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every position below the top of a JSON value, as a path of keys and indices."""
    items: Iterable[tuple[str | int, object]] = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        yield (*path, key)
        yield from _positions(item, (*path, key))


# For a position holding a value of this JSON type: values of another type that a lenient
# converter would take (True for 1, "5" for a string, a string for a list, ...).
_NEAR_MISSES: dict[type, tuple[object, ...]] = {
    bool: (1, 0, "true"),
    int: (True, 1.0, "1"),
    str: (5, ["x"]),
    list: ("abc", {}),
    dict: ([], "x"),
    type(None): (),
}
_MISSING = object()  # in place of a wrong value: the key is dropped


@pytest.mark.parametrize("state", list(State), ids=str)
def test_snapshot_data_is_the_values_as_json(state: State, ports: Ports) -> None:
    """The data of a snapshot is attrs' own rendering of the values, and restores to them."""
    snapshot = _rich_snapshot(state, ports)
    restored = RegistrationFlow.restore(snapshot, ports)
    rendered = attrs.asdict(restored.data)  # tuples stay tuples: JSON writes them as lists
    assert json.dumps(restored.snapshot()) == json.dumps(snapshot)
    assert json.dumps(restored.snapshot()["data"]) == json.dumps(rendered)
    if state is State.awaiting_bank:  # the flow holds copies, not the snapshot's containers
        snapshot["data"]["pending"]["secrets"]["code_verifier"] = "changed"
        assert restored.snapshot()["data"]["pending"]["secrets"] == {"code_verifier": "v3r1f13r"}


@pytest.mark.parametrize("state", list(State), ids=str)
def test_every_field_of_the_data_refuses_wrong_types(state: State, ports: Ports) -> None:
    """Restore refuses a wrong JSON type, or a missing key, anywhere in the data."""
    snapshot = _rich_snapshot(state, ports)
    accepted = []
    for path in _positions(snapshot["data"]):
        *parents, key = path
        original = functools.reduce(operator.getitem, path, snapshot["data"])
        for wrong in (*_NEAR_MISSES[type(original)], 1.5, _MISSING):
            if wrong is _MISSING and (isinstance(key, int) or parents[-1:] == ["secrets"]):
                continue  # list items and map entries are not fields that must be there
            changed = copy.deepcopy(snapshot)
            parent = functools.reduce(operator.getitem, parents, changed["data"])
            if wrong is _MISSING:
                del parent[key]
            else:
                parent[key] = wrong
            try:
                RegistrationFlow.restore(changed, ports)
            except SnapshotInvalid:
                continue
            accepted.append((path, wrong))
    assert accepted == []


@pytest.mark.parametrize(
    ("state", "mutate"),
    [
        (State.reviewing, lambda s: s["data"]["customer"]["contracts"][0].update(kind="water")),
        (State.awaiting_bank, lambda s: s["data"]["pending"].update(secrets={1: "v"})),
        (State.awaiting_bank, lambda s: s["data"]["pending"].update(secrets=None)),
    ],
)
def test_values_outside_the_types_are_refused(ports: Ports, state: State, mutate: object) -> None:
    """An unknown contract kind, and bank secrets that are not a map of strings, are refused."""
    snapshot = _rich_snapshot(state, ports)
    mutate(snapshot)  # type: ignore[operator]
    with pytest.raises(SnapshotInvalid):
        RegistrationFlow.restore(snapshot, ports)


def _as_version_1(flow: RegistrationFlow, unscrubbed: dict[str, Any]) -> dict[str, Any]:
    """`flow`'s snapshot as release 1 wrote it: schema 1, the data of `unscrubbed` (a flow's
    data before it finished), and the outcome with its username."""
    snapshot: dict[str, Any] = json.loads(json.dumps(flow.snapshot()))
    snapshot["schema"] = 1
    outcome = snapshot["data"]["outcome"]
    snapshot["data"] = {**unscrubbed, "outcome": {**outcome, "username": "anna@example.fi"}}
    return snapshot


@pytest.mark.parametrize("state", [State.completed, State.cancelled, State.expired], ids=str)
def test_version_1_snapshot_of_a_finished_flow_restores_scrubbed(
    state: State, ports: Ports
) -> None:
    """A schema 1 snapshot of a finished flow, personal data and username included, restores
    to a flow with only its outcome; the next snapshot is schema 2 and holds none of it."""
    unscrubbed = json.loads(json.dumps(flow_in(State.reviewing, ports).snapshot()))["data"]
    flow = flow_in(state, ports)
    old = _as_version_1(flow, unscrubbed)
    restored = RegistrationFlow.restore(old, ports)
    assert restored == flow
    assert restored.data == restored.data.scrubbed()
    text = json.dumps(restored.snapshot())
    assert restored.snapshot()["schema"] == SCHEMA_VERSION == 2
    assert "131052-308T" not in text
    assert "anna@example.fi" not in text
    assert "$argon2id$" not in text


def test_version_1_snapshot_of_a_running_flow_keeps_its_data(ports: Ports) -> None:
    """A schema 1 snapshot of a flow still in review restores with its details."""
    flow = flow_in(State.reviewing, ports)
    old: dict[str, Any] = json.loads(json.dumps(flow.snapshot()))
    old["schema"] = 1
    assert RegistrationFlow.restore(old, ports) == flow


@pytest.mark.parametrize("field", ["person", "customer", "details", "password_hash", "pending"])
def test_finished_flow_holding_personal_data_is_refused(ports: Ports, field: str) -> None:
    """A current snapshot of a finished flow that holds personal data was not made by regflow."""
    running = json.loads(json.dumps(flow_in(State.reviewing, ports).snapshot()))["data"]
    running["pending"] = json.loads(json.dumps(flow_in(State.awaiting_bank, ports).snapshot()))[
        "data"
    ]["pending"]
    snapshot = json.loads(json.dumps(flow_in(State.cancelled, ports).snapshot()))
    snapshot["data"][field] = running[field]
    with pytest.raises(SnapshotInvalid):
        RegistrationFlow.restore(snapshot, ports)
