"""The values that travel between the flow and its ports: frozen, typed, checked when built.

`ContactDetails` is the exception to "checked when built": it holds what the user typed, valid or
not, so that `submit_details` can report every problem at once as a `DetailsRejected`. It checks
only that each field has the right type; `regflow.validation` decides what is acceptable.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping
from typing import Final

import attrs

from regflow._i18n import LANGUAGES, resolve_language
from regflow.machine import State


def _utc(_instance: object, attribute: attrs.Attribute[dt.datetime], value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() != dt.timedelta(0):
        msg = f"{attribute.name} must be a timezone-aware UTC datetime, got {value!r}"
        raise ValueError(msg)


def _str_map(value: Mapping[str, str]) -> dict[str, str]:
    result = dict(value)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in result.items()):
        msg = "keys and values must be strings"
        raise TypeError(msg)
    return result


def _contracts(value: Iterable[Contract]) -> tuple[Contract, ...]:
    return tuple(value)


def _strs(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _bank_names(_instance: object, _attribute: object, value: Mapping[str, str]) -> None:
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        msg = f"bank names in unsupported languages: {sorted(unknown)}"
        raise ValueError(msg)


_str = attrs.validators.instance_of(str)
_opt_str = attrs.validators.optional(_str)
_BANK_ID = re.compile(r"^[a-z0-9_-]{1,40}$")


@attrs.frozen
class ContactDetails:
    """Phase 3's contact details; the email address becomes the username.

    Empty strings stand for "not given". Which fields are required is configuration
    (`Settings.required_fields`).
    """

    given_names: str = attrs.field(default="", validator=_str)
    family_name: str = attrs.field(default="", validator=_str)
    email: str = attrs.field(default="", validator=_str)
    phone: str = attrs.field(default="", validator=_str)
    street_address: str = attrs.field(default="", validator=_str)
    postal_code: str = attrs.field(default="", validator=_str)
    post_office: str = attrs.field(default="", validator=_str)
    language: str = attrs.field(default="", validator=_str)
    marketing_consent: bool = attrs.field(
        default=False, validator=attrs.validators.instance_of(bool)
    )


CONTACT_FIELDS: Final[tuple[str, ...]] = tuple(a.name for a in attrs.fields(ContactDetails))
REQUIRED_BY_DEFAULT: Final[frozenset[str]] = frozenset(
    {"given_names", "family_name", "email", "phone", "street_address", "postal_code", "post_office"}
)


@attrs.frozen
class Bank:
    """One entry of phase 1's bank list: `name`, and `names` where a language calls it otherwise.

    `Bank("spankki", "S-Pankki", names={"sv": "S-Banken", "en": "S-Bank"})`; show
    `bank.label(language)`.
    """

    id: str = attrs.field(validator=attrs.validators.matches_re(_BANK_ID))
    name: str = attrs.field(validator=_str)
    # language (sv, fi, en) -> the bank's name in it; left out of the hash, as dicts cannot be
    names: Mapping[str, str] = attrs.field(
        factory=dict, converter=_str_map, validator=_bank_names, hash=False
    )

    def label(self, language: str | None) -> str:
        """The name in `language` (any other value: English, like all rendering), else `name`."""
        return self.names.get(resolve_language(language), self.name)


@attrs.frozen
class BankRedirect:
    """Where to send the user to identify, and what the answer must match.

    `state` and `nonce` are single-use and bound to one flow. `secrets` holds what the adapter
    needs to finish (for OIDC the PKCE code verifier); it stays on the server, inside the flow's
    snapshot, and is never shown to the user.
    """

    bank_id: str = attrs.field(validator=_str)
    # url carries the signed request (with state and nonce): none of them belongs in a log
    url: str = attrs.field(validator=_str, repr=False)
    state: str = attrs.field(validator=_str, repr=False)
    nonce: str = attrs.field(validator=_str, repr=False)
    secrets: Mapping[str, str] = attrs.field(factory=dict, converter=_str_map, repr=False)


@attrs.frozen
class BankCallback:
    """The bank's answer as it arrives at the redirect URI: its query parameters."""

    params: Mapping[str, str] = attrs.field(converter=_str_map)

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> BankCallback:
        """Build from a web framework's query mapping."""
        return cls(params=dict(query))


@attrs.frozen
class VerifiedPerson:
    """Who the bank says the user is. `personal_id` is checked by the flow, not here."""

    personal_id: str = attrs.field(validator=_str, repr=False)
    given_names: str = attrs.field(default="", validator=_str)
    family_name: str = attrs.field(default="", validator=_str)


class ContractKind(enum.StrEnum):
    """What a customer buys from the utility."""

    electricity = "electricity"
    district_heating = "district_heating"
    district_cooling = "district_cooling"
    gas = "gas"


@attrs.frozen
class Contract:
    """One contract in the customer data system.

    A contract can be linked to an account when the data that identifies it is present: its
    contract number and its site (metering point or heat delivery point).
    """

    kind: ContractKind = attrs.field(converter=ContractKind)
    contract_number: str | None = attrs.field(default=None, validator=_opt_str)
    site_id: str | None = attrs.field(default=None, validator=_opt_str)

    @property
    def linkable(self) -> bool:
        """Whether the contract has the data needed to link it to an account."""
        return bool(self.contract_number) and bool(self.site_id)


class LinkStatus(enum.StrEnum):
    """Whether a contract of the account's customer is linked to the account yet."""

    linked = "linked"
    pending = "pending"


# Why a contract is pending: the codes `approve` warns with (`regflow.errors.MESSAGES`).
PENDING_REASONS: Final = frozenset({"district_heating_not_linked", "contract_not_linked"})


@attrs.frozen
class ContractLink:
    """One contract of an account's customer, as the account keeps it: linked or pending.

    `since` is when it was linked, or first found pending. A pending contract lacks the data
    that identifies it (`missing` names which: `contract_number`, `site_id`); `reason` is the
    warning the user saw (`district_heating_not_linked` or `contract_not_linked`).
    """

    kind: ContractKind = attrs.field(converter=ContractKind)
    contract_number: str | None = attrs.field(validator=_opt_str)
    site_id: str | None = attrs.field(validator=_opt_str)
    status: LinkStatus = attrs.field(converter=LinkStatus)
    since: dt.datetime = attrs.field(validator=_utc)
    reason: str | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.in_(PENDING_REASONS))
    )

    def __attrs_post_init__(self) -> None:
        if (self.status is LinkStatus.pending) != (self.reason is not None):
            msg = "a pending contract has a reason, a linked one has none"
            raise ValueError(msg)
        if self.status is LinkStatus.linked and not (self.contract_number and self.site_id):
            msg = "a linked contract has its contract number and site"
            raise ValueError(msg)

    @classmethod
    def of(cls, contract: Contract, *, since: dt.datetime) -> ContractLink:
        """The link record for a directory contract: linked when it is linkable, else pending."""
        if contract.linkable:
            return cls(
                contract.kind, contract.contract_number, contract.site_id, LinkStatus.linked, since
            )
        reason = (
            "district_heating_not_linked"
            if contract.kind is ContractKind.district_heating
            else "contract_not_linked"
        )
        return cls(
            contract.kind,
            contract.contract_number,
            contract.site_id,
            LinkStatus.pending,
            since,
            reason,
        )

    @property
    def key(self) -> str:
        """What identifies the record within its account: the contract number once linked."""
        if self.status is LinkStatus.linked:
            return f"linked:{self.contract_number}"
        return f"pending:{self.kind}:{self.contract_number or ''}:{self.site_id or ''}"

    @property
    def missing(self) -> tuple[str, ...]:
        """The identifying fields the customer data system lacks (empty once linked)."""
        return tuple(name for name in ("contract_number", "site_id") if not getattr(self, name))


def _links(value: Iterable[ContractLink]) -> tuple[ContractLink, ...]:
    return tuple(value)


@attrs.frozen
class CustomerRecord:
    """The customer data system's record of one person: prefill data and contracts."""

    customer_number: str = attrs.field(validator=_str)
    personal_id: str = attrs.field(validator=_str, repr=False)
    details: ContactDetails = attrs.field(
        validator=attrs.validators.instance_of(ContactDetails), repr=False
    )
    contracts: tuple[Contract, ...] = attrs.field(default=(), converter=_contracts)

    @property
    def identifiable(self) -> bool:
        """Whether the contract data can identify this customer: at least one linkable contract."""
        return any(c.linkable for c in self.contracts)


@attrs.frozen
class EmailMessage:
    """One email to send. `message_id` makes sending idempotent (the outbox resends the same id)."""

    message_id: str = attrs.field(validator=_str)
    to: str = attrs.field(validator=_str)
    subject: str = attrs.field(validator=_str)
    text: str = attrs.field(validator=_str)
    html: str = attrs.field(validator=_str)
    language: str = attrs.field(default="en", validator=attrs.validators.in_(LANGUAGES))


@attrs.frozen
class NewAccount:
    """What `approve` asks the account store to create, in one unit of work with its email."""

    account_id: str = attrs.field(validator=_str)
    email: str = attrs.field(validator=_str)
    personal_id: str = attrs.field(validator=_str, repr=False)
    customer_number: str = attrs.field(validator=_str)
    password_hash: str = attrs.field(validator=_str, repr=False)
    profile: ContactDetails = attrs.field(validator=attrs.validators.instance_of(ContactDetails))
    linked_contracts: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    created_at: dt.datetime = attrs.field(kw_only=True, validator=_utc)
    # every contract of the customer at registration, linked or pending (`ContractLink`)
    contract_links: tuple[ContractLink, ...] = attrs.field(
        default=(), converter=_links, kw_only=True
    )

    def stored(self) -> Account:
        """The account as a store returns it once created (its contract links are kept apart)."""
        fields = attrs.asdict(self, recurse=False)
        del fields["contract_links"]
        return Account(**fields)


@attrs.frozen
class Account:
    """A stored account, as the account store returns it."""

    account_id: str
    email: str
    personal_id: str = attrs.field(repr=False)
    customer_number: str
    password_hash: str = attrs.field(repr=False)
    profile: ContactDetails
    linked_contracts: tuple[str, ...]
    created_at: dt.datetime

    def public(self) -> PublicAccount:
        """What an application may show of the account (see `PublicAccount`)."""
        return PublicAccount(
            account_id=self.account_id,
            username=self.email,
            profile=self.profile,
            linked_contracts=self.linked_contracts,
            created_at=self.created_at,
        )


@attrs.frozen
class PublicAccount:
    """An account as a page may show it to its owner: the username (the email address), the
    e-services profile and the linked contracts; never the personal identity code, the customer
    number or the password hash. `RegistrationService.account(account_id)` returns it."""

    account_id: str
    username: str
    profile: ContactDetails = attrs.field(repr=False)
    linked_contracts: tuple[str, ...]
    created_at: dt.datetime


@attrs.frozen
class OutboxMessage:
    """A queued email with its delivery bookkeeping."""

    message: EmailMessage
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    last_error: str = ""


@attrs.frozen
class Contact:
    """A contact to show the user: who to call, and when."""

    kind: str
    phone: str
    hours: str = ""


# The guide's contacts: `Settings`' defaults (errors name customer service without a Settings).
CUSTOMER_SERVICE: Final = Contact("customer_service", "09 617 8080")
DISTRICT_HEATING_ADVISORY: Final = Contact(
    "district_heating_advisory", "09 617 8013", "8.30\u201316.00"
)


@attrs.frozen
class Outcome:
    """What happened, once the flow is in a terminal state. No personal data: a reason code,
    warning codes, contacts from configuration, the *names* of the fields that differ from the
    master record, and (completed) the new account's id, by which
    `RegistrationService.account` finds its username."""

    reason: str | None = None
    warnings: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    changed_fields: tuple[str, ...] = ()
    account_id: str | None = None


@attrs.frozen
class PendingContract:
    """A contract not linked yet, with whom the user should contact about it."""

    contract: ContractLink
    contact: Contact


@attrs.frozen
class AccountContracts:
    """An account's contracts for a service-selection page: linked, and pending with contacts.

    A pending district heating contract names the district heating advisory, any other pending
    contract customer service (`RegistrationService.account_contracts`).
    """

    account_id: str
    linked: tuple[ContractLink, ...] = ()
    pending: tuple[PendingContract, ...] = ()


@attrs.frozen
class AuditEntry:
    """One step of the flow's history. No personal data: codes and state names only."""

    at: dt.datetime
    event: str
    source: State
    dest: State
    outcome: str


class _Keep(enum.Enum):
    """The default of `FlowData._replace`'s arguments: the field keeps its value."""

    KEEP = enum.auto()


_KEEP: Final = _Keep.KEEP


# The `FlowData` fields that hold the person's data or the bank's secrets: a finished flow keeps
# none of them (`FlowData.scrubbed`).
PERSONAL_FIELDS: Final = (
    "pending",
    "person",
    "customer",
    "details",
    "password_hash",
    "review_token",
)


@attrs.frozen
class FlowData:
    """Everything a flow has gathered; replaced as a whole by each successful event.

    While the flow runs it holds the person's data; once it reaches a terminal state only
    `scrubbed()` is kept.
    """

    # personal data stays out of reprs (and so out of tracebacks and logs)
    pending: BankRedirect | None = attrs.field(default=None, repr=False)
    bank_failures: int = 0
    last_error: str | None = None
    person: VerifiedPerson | None = attrs.field(default=None, repr=False)
    customer: CustomerRecord | None = attrs.field(default=None, repr=False)
    personal_id_confirmed: bool = False
    details: ContactDetails | None = attrs.field(default=None, repr=False)
    password_hash: str | None = attrs.field(default=None, repr=False)
    review_token: str | None = attrs.field(default=None, repr=False)
    outcome: Outcome | None = None

    def scrubbed(self) -> FlowData:
        """What a finished flow keeps: its outcome and the bank-failure count and code, none of
        the person's data (`PERSONAL_FIELDS`) and no bank secrets."""
        return FlowData(
            bank_failures=self.bank_failures, last_error=self.last_error, outcome=self.outcome
        )

    def _replace(
        self,
        *,
        pending: BankRedirect | _Keep | None = _KEEP,
        bank_failures: int | _Keep = _KEEP,
        last_error: str | _Keep | None = _KEEP,
        person: VerifiedPerson | _Keep | None = _KEEP,
        customer: CustomerRecord | _Keep | None = _KEEP,
        personal_id_confirmed: bool | _Keep = _KEEP,
        details: ContactDetails | _Keep | None = _KEEP,
        password_hash: str | _Keep | None = _KEEP,
        review_token: str | _Keep | None = _KEEP,
        outcome: Outcome | _Keep | None = _KEEP,
    ) -> FlowData:
        """A copy with the fields given changed, like `attrs.evolve` at under half its cost.

        Every event makes at least one; evolve looks the fields up and calls with keywords.
        Typed per field, so mypy checks the calls as its attrs plugin checks evolve's; a test
        keeps the parameters equal to the fields.
        """
        return FlowData(
            self.pending if pending is _KEEP else pending,
            self.bank_failures if bank_failures is _KEEP else bank_failures,
            self.last_error if last_error is _KEEP else last_error,
            self.person if person is _KEEP else person,
            self.customer if customer is _KEEP else customer,
            self.personal_id_confirmed if personal_id_confirmed is _KEEP else personal_id_confirmed,
            self.details if details is _KEEP else details,
            self.password_hash if password_hash is _KEEP else password_hash,
            self.review_token if review_token is _KEEP else review_token,
            self.outcome if outcome is _KEEP else outcome,
        )
