"""regflow: self-service registration for a utility's e-services, as an explicit state machine.

Start with `RegistrationFlow.start(ports)`; see the README for the whole flow. The state
table is in `regflow.machine`, the ports in `regflow.ports`, the fakes in
`regflow.adapters.memory`, the password rules in `regflow.policy`.
"""

from regflow._i18n import normalize_language
from regflow.errors import (
    AdapterError,
    AlreadyRegistered,
    ConcurrentUpdate,
    CustomerServiceNeeded,
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
    SnapshotInvalid,
    UnknownBank,
    UnsupportedCustomerType,
    UnsupportedLanguage,
    message_for,
)
from regflow.flow import RegistrationFlow
from regflow.hashing import Argon2Hasher
from regflow.login import LoginThrottle, authenticate
from regflow.machine import Event, State
from regflow.model import (
    Account,
    AuditEntry,
    Bank,
    BankCallback,
    BankRedirect,
    Contact,
    ContactDetails,
    Contract,
    ContractKind,
    CustomerRecord,
    EmailMessage,
    FlowData,
    NewAccount,
    OutboxMessage,
    Outcome,
    PublicAccount,
    VerifiedPerson,
)
from regflow.outbox import Backoff, OutboxPorts, deliver_pending_emails
from regflow.ports import Ports
from regflow.service import RegistrationService
from regflow.settings import Settings

__all__ = [
    "Account",
    "AdapterError",
    "AlreadyRegistered",
    "Argon2Hasher",
    "AuditEntry",
    "Backoff",
    "Bank",
    "BankCallback",
    "BankRedirect",
    "ConcurrentUpdate",
    "Contact",
    "ContactDetails",
    "Contract",
    "ContractKind",
    "CustomerRecord",
    "CustomerServiceNeeded",
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
    "LoginFailed",
    "LoginThrottle",
    "LoginThrottled",
    "NewAccount",
    "OutboxMessage",
    "OutboxPorts",
    "Outcome",
    "Ports",
    "PublicAccount",
    "RegflowError",
    "RegistrationFlow",
    "RegistrationService",
    "Settings",
    "SnapshotInvalid",
    "State",
    "UnknownBank",
    "UnsupportedCustomerType",
    "UnsupportedLanguage",
    "VerifiedPerson",
    "authenticate",
    "deliver_pending_emails",
    "message_for",
    "normalize_language",
]
