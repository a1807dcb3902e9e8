"""regflow: self-service registration for a utility's e-services, as an explicit state machine.

Start with `RegistrationFlow.start(ports)`; see the README for the whole flow. The state
table is in `regflow.machine`, the ports in `regflow.ports`, the fakes in
`regflow.adapters.memory`, the password rules in `regflow.policy`.
"""

from regflow._i18n import normalize_language
from regflow.errors import (
    AdapterError,
    AlreadyRegistered,
    CallbackMismatch,
    ConcurrentUpdate,
    CustomerServiceNeeded,
    DatabaseUnavailable,
    DetailsRejected,
    EmailTaken,
    FieldError,
    FlowExpired,
    FlowNotFound,
    GuardFailed,
    IdentificationFailed,
    InvalidTransition,
    LoginFailed,
    LoginThrottled,
    RegflowError,
    SchemaMissing,
    SnapshotInvalid,
    UnknownBank,
    UnsupportedCustomerType,
    UnsupportedDatabaseUrl,
    UnsupportedLanguage,
    message_for,
)
from regflow.flow import RegistrationFlow
from regflow.hashing import Argon2Hasher
from regflow.linking import LinkReport
from regflow.login import LoginThrottle, authenticate
from regflow.machine import Event, State
from regflow.model import (
    Account,
    AccountContracts,
    AuditEntry,
    Bank,
    BankCallback,
    BankRedirect,
    Contact,
    ContactDetails,
    Contract,
    ContractKind,
    ContractLink,
    CustomerRecord,
    EmailMessage,
    FlowData,
    LinkStatus,
    NewAccount,
    OutboxMessage,
    Outcome,
    PendingContract,
    VerifiedPerson,
)
from regflow.outbox import Backoff, OutboxPorts, deliver_pending_emails
from regflow.ports import Ports
from regflow.security import SecurityEvents
from regflow.service import RegistrationService
from regflow.settings import Settings

__all__ = [
    "Account",
    "AccountContracts",
    "AdapterError",
    "AlreadyRegistered",
    "Argon2Hasher",
    "AuditEntry",
    "Backoff",
    "Bank",
    "BankCallback",
    "BankRedirect",
    "CallbackMismatch",
    "ConcurrentUpdate",
    "Contact",
    "ContactDetails",
    "Contract",
    "ContractKind",
    "ContractLink",
    "CustomerRecord",
    "CustomerServiceNeeded",
    "DatabaseUnavailable",
    "DetailsRejected",
    "EmailMessage",
    "EmailTaken",
    "Event",
    "FieldError",
    "FlowData",
    "FlowExpired",
    "FlowNotFound",
    "GuardFailed",
    "IdentificationFailed",
    "InvalidTransition",
    "LinkReport",
    "LinkStatus",
    "LoginFailed",
    "LoginThrottle",
    "LoginThrottled",
    "NewAccount",
    "OutboxMessage",
    "OutboxPorts",
    "Outcome",
    "PendingContract",
    "Ports",
    "RegflowError",
    "RegistrationFlow",
    "RegistrationService",
    "SchemaMissing",
    "SecurityEvents",
    "Settings",
    "SnapshotInvalid",
    "State",
    "UnknownBank",
    "UnsupportedCustomerType",
    "UnsupportedDatabaseUrl",
    "UnsupportedLanguage",
    "VerifiedPerson",
    "authenticate",
    "deliver_pending_emails",
    "message_for",
    "normalize_language",
]
