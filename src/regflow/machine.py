"""The registration flow's states, events and transition table: the one place the flow is defined.

Theory of operation. `TRANSITIONS` below is the whole state machine, as data: one row per
(event, source state, branch), naming the destination, the guards that must hold, the outcome
reason a terminal row records and the effect run on the way. One `transitions.Machine` is built
from it, once, at first use, and serves every flow: a flow is never added to it as a model (that
would keep a reference to every flow alive); instead `fire` runs the row's transition on the flow
passed in. `auto_transitions` is off (its `to_<state>()` triggers would skip the guards) and
invalid triggers raise.

An event never changes the flow while it works. The flow reads its ports, builds its next data as
a new frozen value and wraps it in a `Proposal` (with the review token offered, for approve).
The guards are the pure functions below, of that proposal alone; the machine calls them as the
row's conditions with the proposal as the event's argument. A row's `effect` is a flow method the
machine runs once the guards held and before the state changes (approve's account creation); it
puts its result on the proposal. If a guard fails or the effect raises, the flow keeps its state
and data; only when the row fired does the flow take the proposal's data.

Some events have several outcomes (identification can succeed, find no customer, find the person
already registered, ...). Each outcome is its own row, told apart by its `Branch`; the flow works
out which branch applies from the ports' answers, then fires that row, so the table still decides
where the flow goes and which guards must hold.

The README's state diagram is generated from this table (`mermaid()`), and a test keeps the two
equal. This module does no I/O and imports nothing else of regflow (the flow's data records in
`regflow.model` name these states; the guards read them through `ProposedData`).
"""

from __future__ import annotations

import enum
import hmac
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final, Generic, Protocol, TypeVar

import attrs
from transitions import Machine, MachineError
from transitions.core import EventData


class State(enum.StrEnum):
    """Where a registration is; the values are stable names (stored in snapshots)."""

    choosing_bank = "choosing_bank"
    awaiting_bank = "awaiting_bank"
    confirming_personal_id = "confirming_personal_id"
    entering_details = "entering_details"
    reviewing = "reviewing"
    completed = "completed"
    needs_customer_service = "needs_customer_service"
    already_registered = "already_registered"
    cancelled = "cancelled"
    expired = "expired"

    @property
    def terminal(self) -> bool:
        """Whether no event can leave this state."""
        return self in TERMINAL_STATES


TERMINAL_STATES: Final = frozenset(
    {
        State.completed,
        State.needs_customer_service,
        State.already_registered,
        State.cancelled,
        State.expired,
    }
)
ACTIVE_STATES: Final = tuple(s for s in State if s not in TERMINAL_STATES)


class Event(enum.StrEnum):
    """The flow's events: each is a method of `RegistrationFlow` of the same name."""

    select_bank = "select_bank"
    bank_not_listed = "bank_not_listed"
    choose_other_bank = "choose_other_bank"
    complete_identification = "complete_identification"
    confirm_personal_id = "confirm_personal_id"
    submit_details = "submit_details"
    edit = "edit"
    approve = "approve"
    cancel = "cancel"
    expire = "expire"  # not a method: any event after the expiry time fires it


class Branch(enum.StrEnum):
    """The outcomes of `complete_identification`, each a row of its own."""

    identified = "identified"
    customer_not_found = "customer_not_found"
    incomplete_contract_data = "incomplete_contract_data"
    already_registered = "already_registered"
    bank_failed = "bank_failed"  # the bank said no, or its answer did not verify: try again
    identification_failed = "identification_failed"  # bank_failed once too often


class Guard(enum.StrEnum):
    """Conditions named in the table; each is the function of the same name below."""

    is_identified = "is_identified"
    is_personal_id_confirmed = "is_personal_id_confirmed"
    are_details_valid = "are_details_valid"
    is_approved = "is_approved"


# What a failed guard reports (`GuardFailed.code`).
GUARD_FAILURE_CODES: Final[dict[Guard, str]] = {
    Guard.is_identified: "not_identified",
    Guard.is_personal_id_confirmed: "personal_id_not_confirmed",
    Guard.are_details_valid: "details_missing",
    Guard.is_approved: "stale_review",
}


class ProposedData(Protocol):
    """What the guards read of a flow's proposed data (`regflow.model.FlowData` has it)."""

    @property
    def person(self) -> object | None: ...

    @property
    def customer(self) -> object | None: ...

    @property
    def personal_id_confirmed(self) -> bool: ...

    @property
    def details(self) -> object | None: ...

    @property
    def password_hash(self) -> str | None: ...

    @property
    def review_token(self) -> str | None: ...


_D = TypeVar("_D", bound=ProposedData)


class Proposal(Generic[_D]):
    """An event's proposed next data, and the review token offered (approve only).

    The machine passes it to the guards and to the row's effect, which may replace `data`.
    """

    __slots__ = ("data", "offered_token")

    def __init__(self, data: _D, offered_token: object = None) -> None:
        self.data = data
        self.offered_token = offered_token  # as the caller gave it: is_approved checks the type


# -- the guards: pure functions of the proposal ------------------------------------------------
# Each event builds its data before the guards run, so some guards cannot fail through the
# public events: `are_details_valid` on submit_details (the event sets details and password hash,
# or raises DetailsRejected first), and, on flows that `RegistrationFlow.restore` accepts,
# `is_identified` and `are_details_valid` (restore refuses a state without the data every way
# into it gathers). They still hold the table's rules: the tests call them directly and fire them
# on flows built with the low-level constructor.


def is_identified(proposal: Proposal[_D]) -> bool:
    """The bank verified the person, the code is valid, and a customer record matches it."""
    data = proposal.data
    return data.person is not None and data.customer is not None


def is_personal_id_confirmed(proposal: Proposal[_D]) -> bool:
    """The user checked their personal identity code (phase 2)."""
    return proposal.data.personal_id_confirmed


def are_details_valid(proposal: Proposal[_D]) -> bool:
    """Details and password passed validation and the policy (checked in submit_details)."""
    data = proposal.data
    return data.details is not None and data.password_hash is not None


def is_approved(proposal: Proposal[_D]) -> bool:
    """The review token offered matches the details shown in review."""
    token, offered = proposal.data.review_token, proposal.offered_token
    if token is None or not isinstance(offered, str):
        return False
    return hmac.compare_digest(token.encode(), offered.encode())


GUARDS: Final[dict[Guard, Callable[[Proposal[Any]], bool]]] = {
    Guard.is_identified: is_identified,
    Guard.is_personal_id_confirmed: is_personal_id_confirmed,
    Guard.are_details_valid: are_details_valid,
    Guard.is_approved: is_approved,
}


def failed_guard(transition: Transition, proposal: Proposal[_D]) -> Guard | None:
    """The first of `transition`'s guards that does not hold for `proposal`, or None."""
    for guard in transition.guards:
        if not GUARDS[guard](proposal):
            return guard
    return None


@attrs.frozen
class Transition:
    """One row of the table. `reason` is the outcome reason a terminal row records."""

    event: Event
    source: State
    dest: State
    guards: tuple[Guard, ...] = ()
    branch: Branch | None = None
    reason: str | None = None
    effect: str | None = None  # flow method run after the guards held, before the state changes

    @property
    def trigger(self) -> str:
        """The name the shared machine knows this row's trigger by."""
        return f"{self.event}.{self.branch}" if self.branch else str(self.event)


_S, _E, _G, _B, _T = State, Event, Guard, Branch, Transition  # short names: one row per line
_I = (_E.complete_identification, _S.awaiting_bank)  # identification: a row per branch
_APPROVAL = (_G.is_identified, _G.is_personal_id_confirmed, _G.are_details_valid, _G.is_approved)

TRANSITIONS: Final[tuple[Transition, ...]] = (
    # event, source, dest, guards, branch, reason (a terminal row's outcome reason), effect=
    _T(_E.select_bank, _S.choosing_bank, _S.awaiting_bank),
    _T(_E.bank_not_listed, _S.choosing_bank, _S.needs_customer_service, reason="bank_not_listed"),
    _T(_E.choose_other_bank, _S.awaiting_bank, _S.choosing_bank),
    _T(*_I, _S.confirming_personal_id, (_G.is_identified,), _B.identified),
    _T(*_I, _S.needs_customer_service, (), _B.customer_not_found, "customer_not_found"),
    _T(*_I, _S.needs_customer_service, (), _B.incomplete_contract_data, "incomplete_contract_data"),
    _T(*_I, _S.already_registered, (), _B.already_registered, "already_registered"),
    _T(*_I, _S.choosing_bank, (), _B.bank_failed),
    _T(*_I, _S.needs_customer_service, (), _B.identification_failed, "identification_failed"),
    _T(_E.confirm_personal_id, _S.confirming_personal_id, _S.entering_details, (_G.is_identified,)),
    _T(_E.submit_details, _S.entering_details, _S.reviewing, (_G.are_details_valid,)),
    _T(_E.edit, _S.reviewing, _S.entering_details),
    _T(_E.approve, _S.reviewing, _S.completed, _APPROVAL, effect="_create_account"),
    *(_T(_E.cancel, s, _S.cancelled, reason="cancelled") for s in ACTIVE_STATES),
    *(_T(_E.expire, s, _S.expired, reason="expired") for s in ACTIVE_STATES),
)


# runs once per process, before mutmut can switch a mutant on
def _index() -> dict[tuple[State, str], Transition]:  # pragma: no mutate block
    index = {}
    for row in TRANSITIONS:
        key = (row.source, row.trigger)
        if key in index:
            msg = f"two rows for {key}"
            raise AssertionError(msg)
        index[key] = row
    return index


_BY_TRIGGER: Final = _index()


def allowed_events(state: State) -> tuple[Event, ...]:
    """The user-facing events the table allows in `state`, in table order (no `expire`)."""
    seen: dict[Event, None] = {}
    for row in TRANSITIONS:
        if row.source is state and row.event is not Event.expire:
            seen[row.event] = None
    return tuple(seen)


# runs once per process, before mutmut can switch a mutant on
def _rows_index() -> dict[tuple[State, Event], tuple[Transition, ...]]:  # pragma: no mutate block
    index: dict[tuple[State, Event], list[Transition]] = {}
    for r in TRANSITIONS:
        index.setdefault((r.source, r.event), []).append(r)
    return {key: tuple(rows) for key, rows in index.items()}


_BY_EVENT: Final = _rows_index()  # derived from TRANSITIONS once; every event looks here


def rows_for(state: State, event: Event) -> tuple[Transition, ...]:
    """The table rows that `event` can take from `state` (empty: not allowed)."""
    return _BY_EVENT.get((state, event), ())


def row(state: State, event: Event, branch: Branch | None = None) -> Transition | None:
    """The row for `event` (and `branch`) from `state`, or None."""
    trigger = f"{event}.{branch}" if branch else str(event)
    return _BY_TRIGGER.get((state, trigger))


_machine_lock = threading.Lock()
_machine: Machine | None = None


# runs once per process, before mutmut can switch a mutant on
def _new_machine() -> Machine:  # pragma: no mutate block
    return Machine(
        model=None,  # flows are passed per trigger, never registered
        # Plain names, not the enum: transitions then skips its Enum handling on every
        # trigger; the flow turns the destination back into a `State` from the row.
        states=[s.value for s in State],
        initial=None,
        transitions=[
            {
                "trigger": r.trigger,
                "source": r.source.value,
                "dest": r.dest.value,
                "conditions": [GUARDS[g] for g in r.guards],
                "before": [r.effect] if r.effect else [],
            }
            for r in TRANSITIONS
        ],
        auto_transitions=False,
        ignore_invalid_triggers=False,
        model_attribute="_state",
        send_event=False,
    )


# runs once per process, before mutmut can switch a mutant on
def shared_machine() -> Machine:  # pragma: no mutate block
    """The one `transitions.Machine` every flow uses, built once, on first use."""
    global _machine  # noqa: PLW0603  # a lazily built module singleton, guarded by a lock
    if _machine is None:
        with _machine_lock:
            if _machine is None:
                _machine = _new_machine()
    return _machine


def fire(model: object, transition: Transition, proposal: Proposal[_D]) -> bool:
    """Fire `transition`'s trigger on `model` with `proposal`; False when a guard did not hold.

    The guards and the row's effect get `proposal` as the event's argument; the effect may
    replace `proposal.data`.

    The shared machine's transition for the row runs itself (`transitions.Transition.execute`):
    it checks the guards, runs the effect and sets the state. `Event.trigger` would first find
    that transition from the model's state and wrap it in the event queue and the prepare,
    finalize and exception callbacks, none of which this machine has: a third of the time an
    event spends in transitions.

    The caller has already checked that the row exists for the model's state, so a
    `MachineError` here would be a bug in the table, not a user error.
    """
    shared = shared_machine()
    source = str(transition.source)  # the plain name the machine knows; cheaper than .value
    if getattr(model, shared.model_attribute) != source:
        msg = f"{transition.trigger} fired from {getattr(model, shared.model_attribute)}"
        raise MachineError(msg)
    event = shared.events[transition.trigger]
    # one row, so one transitions.Transition, per source and trigger (checked by `_index`)
    [executable] = event.transitions[source]
    result: bool = executable.execute(
        EventData(shared.states[source], event, shared, model, (proposal,), {})
    )
    return result


def mermaid(rows: Iterable[Transition] = TRANSITIONS) -> str:
    """The state diagram as Mermaid `stateDiagram-v2` source, generated from the table.

    `cancel` and `expire` (allowed from every non-terminal state) are drawn once, as notes.
    """
    lines = ["stateDiagram-v2", f"    [*] --> {State.choosing_bank}"]
    for r in rows:
        if r.event in {Event.cancel, Event.expire}:
            continue
        label = str(r.event)
        if r.branch and r.branch is not Branch.identified:
            label += f" [{r.branch}]"
        if r.guards:
            label += " / " + " and ".join(str(g) for g in r.guards)
        lines.append(f"    {r.source} --> {r.dest}: {label}")
    lines.extend(f"    {s} --> [*]" for s in State if s in TERMINAL_STATES)
    lines.append(
        "    note right of cancelled: cancel from any non-terminal state\n"
        "    note right of expired: any event after expires_at"
    )
    return "\n".join(lines)
