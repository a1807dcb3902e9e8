"""Flow snapshots: versioned, JSON-safe dicts, made and read with cattrs.

A snapshot holds everything a flow needs to go on in another process: state, times, gathered
data and the audit trail. It never holds a plaintext password (only the argon2 hash from
`submit_details`), and a finished flow's snapshot holds no personal data at all (see
`regflow.flow`); restore refuses one that does. `SCHEMA_VERSION` goes up whenever the layout
changes; `MIGRATIONS` turns a snapshot of an older version into the next one, and a version with
no path to the current one is refused with `SnapshotInvalid`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import typing
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

import attrs
import cattrs
from cattrs.preconf.json import make_converter

from regflow import model
from regflow.errors import SnapshotInvalid, UnsupportedLanguage
from regflow.machine import State
from regflow.model import ContractKind, FlowData

if TYPE_CHECKING:
    from regflow.ports import Ports, Snapshot

SCHEMA_VERSION: Final = 2
_TERMINAL_NAMES: Final = frozenset(str(s) for s in State if s.terminal)


def _scrub_finished(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Version 1 to 2: the outcome no longer holds the username, and a finished flow keeps
    none of the person's data (what `FlowData.scrubbed` keeps, as JSON)."""
    migrated = {**snapshot, "schema": 2}
    data = snapshot.get("data")
    if not isinstance(data, dict):
        return migrated  # malformed: restore refuses it with the usual reasons
    data = dict(data)
    if isinstance(outcome := data.get("outcome"), dict):
        data["outcome"] = {k: v for k, v in outcome.items() if k != "username"}
    if snapshot.get("state") in _TERMINAL_NAMES:
        data.update(dict.fromkeys(model.PERSONAL_FIELDS), personal_id_confirmed=False)
    migrated["data"] = data
    return migrated


# version -> function turning a snapshot of that version into one of version + 1
MIGRATIONS: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {1: _scrub_finished}

_converter = make_converter(detailed_validation=False)  # generated code is ~2x faster
_converter.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
_converter.register_structure_hook(dt.datetime, lambda v, _: _aware(v))


def _exact(kind: type[Any]) -> Callable[[Any, Any], Any]:
    # cattrs' default for str/int/bool is to call the type (so 5 becomes "5" and "no" becomes
    # True); a snapshot comes from storage and must already have the right types.
    def structure(value: Any, _type: Any) -> Any:
        if type(value) is not kind:
            msg = f"expected {kind.__name__}, got {type(value).__name__}"
            raise TypeError(msg)
        return value

    return structure


for _kind in (str, int, bool):
    _converter.register_structure_hook(_kind, _exact(_kind))


def _enum(kind: type[enum.Enum]) -> Callable[[Any, Any], Any]:
    def structure(value: Any, _type: Any) -> Any:
        return kind(_str(value))

    return structure


# The str enums would otherwise take str's exact hook above (a subclass dispatches to it).
for _enum_type in (ContractKind, State):
    _converter.register_structure_hook(_enum_type, _enum(_enum_type))


class SnapshotFlow(Protocol):
    """What the codec reads of a flow: `RegistrationFlow` has it.

    A protocol rather than the class, so that this module does not import `regflow.flow` (which
    imports this one): the import graph stays acyclic (see the import-linter contracts).
    """

    # read-only: the codec only reads (and a flow's `language` is a narrower Literal)
    @property
    def id(self) -> str: ...

    @property
    def language(self) -> str: ...

    @property
    def customer_type(self) -> str: ...

    @property
    def created_at(self) -> dt.datetime: ...

    @property
    def expires_at(self) -> dt.datetime: ...

    @property
    def state(self) -> State: ...

    @property
    def data(self) -> FlowData: ...

    def audit_records(self) -> list[list[str]]: ...


_F = TypeVar("_F", bound=SnapshotFlow)
_STATE_NAMES: Final = frozenset(State)
_FLOW_ID: Final = re.compile(r"[A-Za-z0-9_-]{22,64}")
# The shape of a compact personal identity code (fully validated when the bank returned it; a
# full stdnum check here would cost more than the rest of restore).
_PERSONAL_ID: Final = re.compile(r"[0-9]{6}[-+A-FU-Y][0-9]{3}[0-9A-Y]", re.ASCII)
_IDENTIFIED: Final = frozenset(
    {State.confirming_personal_id, State.entering_details, State.reviewing}
)
# Per state, the FlowData fields that every sequence of events reaching it has filled in.
_NEEDED: Final[dict[State, tuple[str, ...]]] = {
    state: tuple(
        name
        for name, needed in (
            ("pending", state is State.awaiting_bank),
            ("person", state in _IDENTIFIED),
            ("customer", state in _IDENTIFIED),
            ("details", state is State.reviewing),
            ("password_hash", state is State.reviewing),
            ("review_token", state is State.reviewing),
            ("outcome", state.terminal),
        )
        if needed
    )
    for state in State
}


def _tuple_hook(item_type: type[Any]) -> Callable[[Any, Any], tuple[Any, ...]]:
    item_hook = _converter.get_structure_hook(item_type)

    def structure(value: Any, _type: Any) -> tuple[Any, ...]:
        if type(value) is not list:  # JSON arrays only: a string is not a tuple of strings
            msg = f"expected a list, got {type(value).__name__}"
            raise TypeError(msg)
        return tuple([item_hook(v, item_type) for v in value])

    return structure


def _optional_hook(item_type: type[Any]) -> Callable[[Any, Any], Any]:
    item_hook = _converter.get_structure_hook(item_type)

    def structure(value: Any, _type: Any) -> Any:
        return None if value is None else item_hook(value, item_type)

    return structure


_set = object.__setattr__  # frozen attrs values refuse setattr; building one is the exception


def _record_hook(cls: type[Any]) -> Callable[[Any, Any], Any]:
    """A structure hook for a frozen attrs value that checks each field's type with the field
    hooks above and builds the instance without re-running its attrs validators.

    The field hooks are exactly as strict as the validators (exact types, enums by value), and
    restore is the hot path of every request: this halves its cost. Field hooks are looked up on
    first use, so every hook of the snapshot is registered by then.
    """
    names = [a.name for a in attrs.fields(cls)]
    hints = typing.get_type_hints(cls)
    # per field: (name, type, plain types accepted as they are, or a hook for anything else)
    fields: list[tuple[str, Any, frozenset[type], Callable[[Any, Any], Any] | None]] = []

    def prepare() -> None:
        for name in names:
            plain = _PLAIN.get(hints[name])
            hook = None if plain else _converter.get_structure_hook(hints[name])
            fields.append((name, hints[name], plain or frozenset(), hook))

    def structure(value: Any, _type: Any) -> Any:
        if type(value) is not dict:
            msg = f"expected an object for {cls.__name__}, got {type(value).__name__}"
            raise TypeError(msg)
        if not fields:
            prepare()
        instance = object.__new__(cls)
        for name, field_type, plain, hook in fields:
            item = value[name]
            if hook is not None:
                item = hook(item, field_type)
            elif type(item) not in plain:  # exact types only: True is not an int, 5 not a str
                msg = f"{cls.__name__}.{name}: expected {field_type}, got {type(item).__name__}"
                raise TypeError(msg)
            _set(instance, name, item)
        return instance

    return structure


# Field types whose JSON values are taken as they are once their exact type is checked.
_PLAIN: Final[dict[Any, frozenset[type]]] = {
    str: frozenset({str}),
    bool: frozenset({bool}),
    int: frozenset({int}),
    str | None: frozenset({str, type(None)}),
}


def _register_fast_hooks() -> None:
    # cattrs' generic tuple and Optional handling, and the values' attrs validators, dominate
    # restore time; the snapshot has a handful of shapes, so give them direct hooks.
    from regflow.model import (
        BankRedirect,
        Contact,
        ContactDetails,
        Contract,
        CustomerRecord,
        Outcome,
        VerifiedPerson,
    )

    for record in (
        Contact,
        Contract,
        ContactDetails,
        VerifiedPerson,
        BankRedirect,
        CustomerRecord,
        Outcome,
        FlowData,
    ):
        _converter.register_structure_hook(record, _record_hook(record))
    for item_type in (Contract, Contact, str):
        tuple_type: Any = tuple[item_type, ...]  # type: ignore[valid-type]
        _converter.register_structure_hook_func(_is(tuple_type), _tuple_hook(item_type))
    for optional in (BankRedirect, VerifiedPerson, CustomerRecord, ContactDetails, Outcome):
        _converter.register_structure_hook_func(_is(optional | None), _optional_hook(optional))
    _converter.register_structure_hook_func(
        _is(str | None), lambda value, _: value if value is None else _str(value)
    )
    _converter.register_structure_hook_func(_is(Mapping[str, str]), _str_map)


def _str_map(value: Any, _type: Any) -> dict[str, str]:
    # cattrs' generic mapping hook calls .items() on anything (AttributeError for a list) and
    # converts keys and values with str(): a bank's secrets must be a JSON object of strings,
    # which the value's own converter checks (and copies, so the caller keeps the snapshot).
    if type(value) is not dict:
        msg = f"expected an object, got {type(value).__name__}"
        raise TypeError(msg)
    return model._str_map(value)


def _is(expected: Any) -> Callable[[Any], bool]:
    def predicate(candidate: Any) -> bool:
        return bool(candidate == expected)

    return predicate


_register_fast_hooks()


def _aware(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        msg = f"expected an ISO 8601 string, got {type(value).__name__}"
        raise TypeError(msg)
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        msg = "naive datetime in snapshot"
        raise ValueError(msg)
    return parsed.astimezone(dt.UTC)


def flow_to_snapshot(flow: SnapshotFlow) -> Snapshot:
    """The JSON-safe snapshot of `flow`."""

    return {
        "schema": SCHEMA_VERSION,
        "id": flow.id,
        "language": flow.language,
        "customer_type": flow.customer_type,
        "state": str(flow.state),
        "created_at": flow.created_at.isoformat(),
        "expires_at": flow.expires_at.isoformat(),
        "data": _converter.unstructure(flow.data, FlowData),
        "audit": flow.audit_records(),
    }


def flow_from_snapshot(cls: Callable[..., _F], snapshot: Snapshot, ports: Ports) -> _F:
    """Rebuild a flow of class `cls` from a snapshot, migrating older schema versions."""

    if not isinstance(snapshot, dict):
        raise SnapshotInvalid(f"expected a dict, got {type(snapshot).__name__}")
    snapshot = migrate(snapshot)
    try:
        flow = cls(
            ports,
            flow_id=_str(snapshot["id"]),
            language=_str(snapshot["language"]),
            customer_type=_str(snapshot["customer_type"]),
            state=State(snapshot["state"]),
            created_at=_aware(snapshot["created_at"]),
            expires_at=_aware(snapshot["expires_at"]),
            data=_converter.structure(snapshot["data"], FlowData),
            audit=[_audit_record(item) for item in snapshot["audit"]],
        )
        _check_consistent(flow)
    except (KeyError, TypeError, ValueError, ArithmeticError, cattrs.BaseValidationError) as error:
        raise SnapshotInvalid(f"{type(error).__name__}: {error}") from error
    except UnsupportedLanguage as error:
        raise SnapshotInvalid("unsupported language") from error
    return flow


def _check_consistent(flow: SnapshotFlow) -> None:
    """Refuse data that no sequence of events could have produced for the flow's state."""
    data, state = flow.data, flow.state
    if not _FLOW_ID.fullmatch(flow.id):
        msg = "malformed flow id"
        raise ValueError(msg)
    if flow.customer_type != "consumer":
        msg = "unsupported customer type"
        raise ValueError(msg)
    if data.bank_failures < 0:
        msg = "negative bank failure count"
        raise ValueError(msg)
    missing = [name for name in _NEEDED[state] if getattr(data, name) is None]
    if missing:
        msg = f"state {state} lacks {', '.join(missing)}"
        raise ValueError(msg)
    if state.terminal and any(getattr(data, name) is not None for name in model.PERSONAL_FIELDS):
        msg = f"finished flow ({state}) holds personal data"
        raise ValueError(msg)
    if data.person is not None and not _PERSONAL_ID.fullmatch(data.person.personal_id):
        msg = "invalid personal identity code"
        raise ValueError(msg)


def _audit_record(item: Any) -> list[str]:
    # Audit entries are stored as compact lists of strings: [at, event, from, to, outcome].
    # Written out long-hand: this runs for every entry of every restore.
    if type(item) is not list or len(item) != 5:
        msg = "malformed audit entry"
        raise TypeError(msg)
    at, event, source, dest, outcome = item
    if type(at) is not str or type(event) is not str or type(outcome) is not str:
        msg = "malformed audit entry"
        raise TypeError(msg)
    if source not in _STATE_NAMES or dest not in _STATE_NAMES:
        msg = "unknown state in audit entry"
        raise ValueError(msg)
    dt.datetime.fromisoformat(at)  # raises ValueError for a malformed time
    return [at, event, source, dest, outcome]


def migrate(snapshot: dict[str, Any]) -> dict[str, Any]:
    """Bring a snapshot to `SCHEMA_VERSION`, or raise `SnapshotInvalid`."""
    version = snapshot.get("schema")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotInvalid("missing or malformed schema version")
    if version > SCHEMA_VERSION:
        raise SnapshotInvalid(
            f"schema version {version} is newer than this release reads ({SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SnapshotInvalid(f"schema version {version} is no longer supported")
        snapshot = step(snapshot)
        version = snapshot["schema"]
    return snapshot


def _str(value: Any) -> str:
    if not isinstance(value, str):
        msg = f"expected a string, got {type(value).__name__}"
        raise TypeError(msg)
    return value
