"""Every error regflow raises: one base class, a stable `code` each, messages in sv, fi and en.

Callers branch on the class or on `error.code` (a snake_case string that never changes once
released) and show `error.message(language)` to the user. `str(error)` is the English message,
for logs; no message ever contains a password or a personal identity code.

Every `message(language)` and `message_for(code, language)` accepts any language value: tags such
as `"FI"`, `"fi-FI"` or `"sv_FI"` map to their language (`regflow.normalize_language`), and
anything regflow does not speak (`"de"`, `None`, `""`) gives the English message. Rendering never
raises for a language; only `RegistrationFlow.start` refuses one, with `UnsupportedLanguage`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import ClassVar, Final, NamedTuple

from regflow._i18n import N_, translate
from regflow.model import CUSTOMER_SERVICE

DOMAIN: Final = "regflow"
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,39}")

# code -> English message (the gettext msgid). Every code regflow can put in front of a user is
# here, including the field-error and identification-failure codes that travel inside other
# errors; tests check that each has a Swedish and a Finnish translation.
MESSAGES: Final[Mapping[str, str]] = {
    # flow errors
    "invalid_transition": N_(
        "This step is not possible at this point of the registration. Please continue from where "
        "you left off."
    ),
    "flow_expired": N_("The registration has expired. Please start again."),
    "flow_not_found": N_("The registration was not found. Please start again."),
    "details_rejected": N_("Some details need to be corrected."),
    "identification_failed": N_("Identification with your bank did not succeed."),
    "customer_service_needed": N_(
        "Please contact customer service, {phone}; they can register you on your behalf."
    ),
    "unknown_bank": N_("The chosen bank is not available for identification."),
    "unsupported_language": N_("Please choose Swedish, Finnish or English."),
    "unsupported_customer_type": N_(
        "Self-service registration is available to consumer customers only. Business customers "
        "can register through customer service, {phone}."
    ),
    "concurrent_update": N_(
        "The registration was changed in another window or tab. Please reload and try again."
    ),
    "adapter_error": N_("The service is temporarily unavailable. Please try again shortly."),
    # the database (DatabaseUnavailable and its reasons, SchemaMissing, UnsupportedDatabaseUrl):
    # what the demo, `regflow relay` and `regflow init-db` tell the person running them
    "database_unavailable": N_("The database cannot be reached. Please try again shortly."),
    "database_connection_refused": N_(
        "The database refused the connection (connection refused). Check that the database "
        "server is running at the host and port of the database URL."
    ),
    "database_host_not_found": N_(
        "The database server's host name was not found. Check the database URL."
    ),
    "database_timed_out": N_("The database server did not answer in time."),
    "database_login_refused": N_(
        "The database refused the login. Check the user name and password of the database URL."
    ),
    "database_no_such_database": N_("The database named in the database URL does not exist."),
    "database_file_unopenable": N_(
        "The SQLite database file cannot be opened. Check that its folder exists and is writable."
    ),
    "schema_missing": N_(
        "The database has no regflow tables (no such table). Create the schema with "
        "`regflow init-db`."
    ),
    "unsupported_database_url": N_(
        "Unsupported database URL scheme {scheme}. Use memory:, sqlite:///FILE or "
        "postgresql://USER@HOST/DATABASE."
    ),
    "database_url_malformed": N_(
        "The database URL cannot be read. Use memory:, sqlite:///FILE or "
        "postgresql://USER@HOST/DATABASE."
    ),
    # adapter timeouts (AdapterTimeout.code) and a commit whose outcome is unknown
    "connect_timeout": N_(
        "The service could not reach its database in time. Please try again shortly."
    ),
    "statement_timeout": N_(
        "The service's database did not answer in time. Please try again shortly."
    ),
    "lock_timeout": N_(
        "The service was busy with another change to the same data. Please try again shortly."
    ),
    "commit_outcome_unknown": N_(
        "The connection was lost while your step was being saved, so it may or may not have been "
        "saved. Please reload the page to see where the registration is."
    ),
    "snapshot_invalid": N_("The saved registration could not be read."),
    "not_identified": N_("You have not been identified yet."),
    "personal_id_not_confirmed": N_("Please check your personal identity code first."),
    "details_missing": N_("Please fill in your details first."),
    "stale_review": N_(
        "The details have changed since this page was shown. Please check them again."
    ),
    "email_taken": N_("This email address is already in use. Please use another one."),
    "already_registered": N_(
        "You already have an account. Please log in with your email address and password."
    ),
    "login_failed": N_("The email address or password is incorrect."),
    "login_throttled": N_("Too many failed attempts. Please try again after {retry_at}."),
    "rate_limited": N_(
        "There have been too many requests from your network address. Please try again in "
        "{seconds} s."
    ),
    # outcome reasons and warnings (Outcome.reason, Outcome.warnings)
    "bank_not_listed": N_(
        "If your bank is not on the list, customer service can register you on your behalf."
    ),
    "customer_not_found": N_(
        "We could not find a customer relationship for your personal identity code. Customer "
        "service can help you."
    ),
    "incomplete_contract_data": N_(
        "Your contract data is incomplete, so we could not identify your customer relationship. "
        "Customer service can help you."
    ),
    "cancelled": N_("The registration was cancelled."),
    "expired": N_("The registration has expired. Please start again."),
    "district_heating_not_linked": N_(
        "Your district heating contract could not be linked to your account. Please call the "
        "district heating advisory."
    ),
    "contract_not_linked": N_(
        "A contract could not be linked to your account. Please contact customer service."
    ),
    # field errors (DetailsRejected.errors)
    "required": N_("This field is required."),
    "too_long_field": N_("This field is too long."),
    "control_characters": N_("This field contains characters that are not allowed."),
    "invalid_email": N_("Please enter a valid email address."),
    "invalid_phone": N_("Please enter a valid phone number."),
    "invalid_postal_code": N_("A postal code has five digits."),
    "invalid_language": N_("Please choose Swedish, Finnish or English."),
    # identification failures (IdentificationFailed.code, flow.last_error)
    "identification_cancelled": N_("Identification was cancelled at the bank."),
    "identification_rejected": N_("The bank could not identify you."),
    "invalid_callback": N_("The answer from the bank could not be verified."),
    "state_mismatch": N_("The answer from the bank did not belong to this registration."),
    "code_rejected": N_("The bank's answer had already been used or was not accepted."),
    "nonce_mismatch": N_("The answer from the bank did not belong to this identification."),
    "token_expired": N_("The answer from the bank had expired."),
    "token_invalid": N_("The answer from the bank could not be read."),
    "signature_invalid": N_("The signature of the bank's answer could not be verified."),
    "issuer_mismatch": N_("The answer did not come from the expected identification service."),
    "audience_mismatch": N_("The answer from the bank was meant for another service."),
    "assurance_too_low": N_("The identification was not strong enough."),
    "invalid_personal_id": N_("The bank returned an invalid personal identity code."),
    "temporary_personal_id": N_(
        "A temporary personal identity code cannot be used for self-service registration."
    ),
    "personal_id_missing": N_("The bank did not return a personal identity code."),
}


def message_for(code: str, language: str | None = "en", /, **params: object) -> str:
    """The user-facing text for any code regflow reports (errors, reasons, warnings, fields).

    `language` is mapped by `normalize_language`; one regflow does not speak gives English.
    """
    return translate(DOMAIN, MESSAGES[code], language, **params)


class RegflowError(Exception):
    """Base class of every regflow error; never raised itself."""

    code: ClassVar[str] = "regflow_error"

    def __init__(self, **params: object) -> None:
        self.params: dict[str, object] = params
        super().__init__(self.message("en"))

    def message(self, language: str | None = "en") -> str:
        """The user-facing message in `language` (sv, fi or en; any other value: English)."""
        return translate(DOMAIN, MESSAGES[self.code], language, **self.params)


class InvalidTransition(RegflowError):
    """The event is not allowed in the flow's current state; nothing changed.

    The user-facing message names no internal state or event; `state`, `event` and `allowed`
    carry them, and `str(error)` (for logs) names them too.
    """

    code = "invalid_transition"

    def __init__(self, *, state: str, event: str, allowed: Sequence[str]) -> None:
        self.state = state
        self.event = event
        self.allowed: tuple[str, ...] = tuple(allowed)
        super().__init__()

    def __str__(self) -> str:
        allowed = ", ".join(self.allowed) or "-"
        return f"{self.event} is not allowed in state {self.state} (allowed: {allowed})"


class FlowExpired(RegflowError):
    """The flow passed its expiry time; it is now in `expired`."""

    code = "flow_expired"


class FlowNotFound(RegflowError):
    """No flow with that id is stored (never existed, or was purged)."""

    code = "flow_not_found"


class GuardFailed(RegflowError):
    """A guard of the transition table did not hold; `code` names what was missing."""

    def __init__(self, code: str) -> None:
        if code not in MESSAGES:
            msg = f"unknown guard failure code {code!r}"
            raise ValueError(msg)
        self.code = code  # type: ignore[misc]  # per-instance code: one class, several guards
        super().__init__()


class FieldError(NamedTuple):
    """One problem with one field of the submitted details (`password` for the password)."""

    field: str
    code: str

    def message(self, language: str | None = "en") -> str:
        """The user-facing message for this problem in `language` (any other value: English)."""
        if self.code in MESSAGES:
            return translate(DOMAIN, MESSAGES[self.code], language)
        from regflow.policy import violation_message  # the password rules' own catalogue

        return violation_message(self.code, language)


class DetailsRejected(RegflowError):
    """The submitted details or password are not acceptable; every problem is in `errors`."""

    code = "details_rejected"

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__()

    def field_codes(self) -> dict[str, list[str]]:
        """Field name -> its error codes, in the order they were found."""
        out: dict[str, list[str]] = {}
        for error in self.errors:
            out.setdefault(error.field, []).append(error.code)
        return out


class IdentificationFailed(RegflowError):
    """The bank's answer was negative or did not verify; `code` says which failure it was."""

    def __init__(self, code: str, *, detail: str = "") -> None:
        if code not in MESSAGES:
            msg = f"unknown identification failure code {code!r}"
            raise ValueError(msg)
        self.code = code  # type: ignore[misc]  # per-instance code: one family, several causes
        self.detail = detail  # for logs; never personal data, tokens or codes
        super().__init__()


class CallbackMismatch(IdentificationFailed):
    """A bank callback that does not belong to the flow's pending attempt: its `state` is not
    the one the flow sent the user away with (or it carries none).

    Anyone can send a browser to the callback URL, so such a callback says nothing about the
    user's real attempt: `complete_identification` raises this error, changes nothing (the
    attempt stays open, no failure is counted) and records a security event. Its code is
    `state_mismatch`; a bank adapter raises it before it redeems anything.
    """

    code = "state_mismatch"

    def __init__(self, *, detail: str = "") -> None:
        super().__init__(type(self).code, detail=detail)


class UnknownBank(RegflowError):
    """The bank id is not in the identity port's list."""

    code = "unknown_bank"

    def __init__(self, bank_id: str) -> None:
        self.bank_id = bank_id
        super().__init__()


class UnsupportedCustomerType(RegflowError):
    """Only consumer customers can register themselves; the message names customer service.

    `phone` is customer service's number: the flow passes its `Settings.customer_service`; left
    out, it is that setting's default (the guide's 09 617 8080).
    """

    code = "unsupported_customer_type"

    def __init__(self, customer_type: str, *, phone: str | None = None) -> None:
        self.customer_type = customer_type
        super().__init__(phone=CUSTOMER_SERVICE.phone if phone is None else phone)


class UnsupportedLanguage(RegflowError):
    """`RegistrationFlow.start` got a language it cannot map to sv, fi or en.

    `language` is the refused value cut to 40 characters (its `repr` if it is not a string): it may
    be anything a client sent.
    """

    code = "unsupported_language"

    def __init__(self, language: object) -> None:
        self.language = (language if isinstance(language, str) else repr(language))[:40]
        super().__init__()


class CustomerServiceNeeded(RegflowError):
    """The registration cannot go on in self-service; `reason` says why."""

    code = "customer_service_needed"

    def __init__(self, reason: str, *, phone: str) -> None:
        self.reason = reason
        super().__init__(phone=phone)


class EmailTaken(RegflowError):
    """Another account already uses this email address (compared case-insensitively)."""

    code = "email_taken"


class AlreadyRegistered(RegflowError):
    """The person already has an account."""

    code = "already_registered"


class ConcurrentUpdate(RegflowError):
    """Someone else saved the flow first; reload it and apply the event again."""

    code = "concurrent_update"


class AdapterError(RegflowError):
    """A port could not answer (database down, broker timeout, mail server refusing)."""

    code = "adapter_error"

    def __init__(self, port: str, detail: str = "") -> None:
        self.port = port
        self.detail = detail
        super().__init__()

    def __str__(self) -> str:
        return f"{self.port}: {self.detail or self.message('en')}"


class DatabaseUnavailable(AdapterError):
    """The database cannot be reached; `reason` says why, as one of `REASONS`.

    `connection_refused`, `host_not_found`, `timed_out`, `login_refused`, `no_such_database`,
    `file_unopenable` (a SQLite file), or `unknown`. The message names the reason, never the
    URL, its password, the host or the user; `detail` is the driver error's class only.
    """

    code = "database_unavailable"
    REASONS: ClassVar[frozenset[str]] = frozenset(
        {
            "connection_refused",
            "host_not_found",
            "timed_out",
            "login_refused",
            "no_such_database",
            "file_unopenable",
            "unknown",
        }
    )

    def __init__(self, port: str, reason: str = "unknown", detail: str = "") -> None:
        if reason not in self.REASONS:
            msg = f"unknown database reason {reason!r}"
            raise ValueError(msg)
        self.reason = reason
        super().__init__(port, detail)

    def message(self, language: str | None = "en") -> str:
        """The reason's message in `language` (sv, fi or en; any other value: English)."""
        key = self.code if self.reason == "unknown" else f"database_{self.reason}"
        return translate(DOMAIN, MESSAGES[key], language)

    def __str__(self) -> str:
        detail = f" [{self.detail}]" if self.detail else ""
        return f"{self.port}: {self.message('en')}{detail}"


class SchemaMissing(AdapterError):
    """The database answers but lacks regflow's tables: run `regflow init-db` (or
    `SqlStore.create_schema()`). `table` is the missing table's name when the driver said it."""

    code = "schema_missing"

    def __init__(self, port: str, table: str = "", detail: str = "") -> None:
        self.table = table
        super().__init__(port, detail)

    def __str__(self) -> str:
        table = f" ({self.table})" if self.table else ""
        return f"{self.port}: {self.message('en')}{table}"


class UnsupportedDatabaseUrl(RegflowError, ValueError):
    """A database URL regflow cannot use: an unknown scheme, no URL at all, or (`malformed`) a
    URL of a known scheme that cannot be read (a port that is not a number, an unknown driver).

    `scheme` is the URL's scheme only (`""` when there is none): never the rest of the URL,
    which may hold a password. `bootstrap` raises it as a `ConfigError` too.
    """

    code = "unsupported_database_url"

    def __init__(self, scheme: str, *, malformed: bool = False) -> None:
        # a scheme is letters, digits, "+", "-", "."; anything else is not repeated
        self.scheme = scheme if _SCHEME.fullmatch(scheme) else ""
        self.malformed = malformed
        super().__init__(scheme=repr(self.scheme) if self.scheme else "(none)")

    def message(self, language: str | None = "en") -> str:
        """The message in `language` (sv, fi or en; any other value: English)."""
        if self.malformed:
            return translate(DOMAIN, MESSAGES["database_url_malformed"], language)
        return super().message(language)


class AdapterTimeout(AdapterError):
    """A port did not answer in time; `code` names what timed out.

    - `connect_timeout`: no connection within the connect timeout (or no pooled connection
      became free within it);
    - `statement_timeout`: a statement ran past the statement timeout, or the database did not
      answer at all (a frozen server, a network gone quiet);
    - `lock_timeout`: a statement waited past the lock timeout for a row or table another
      transaction holds (SQLite: past its busy timeout).

    Nothing was changed, except where a `CommitOutcomeUnknown` says otherwise.
    """

    CODES: ClassVar[frozenset[str]] = frozenset(
        {"connect_timeout", "statement_timeout", "lock_timeout"}
    )

    def __init__(self, code: str, port: str, detail: str = "") -> None:
        if code not in self.CODES:
            msg = f"unknown timeout code {code!r}"
            raise ValueError(msg)
        self.code = code  # type: ignore[misc]  # per-instance code: one class, three timeouts
        super().__init__(port, detail)


class CommitOutcomeUnknown(AdapterError):
    """The connection was lost while the database committed: the change may or may not be saved.

    The one case where an event that raised may have changed the stored flow (approve may have
    created the account and queued its email). The database knows: reload the flow
    (`RegistrationService.view(flow_id)`) and show the state it is in; applying the event again
    is safe, since the version check refuses a second save of the same step.
    """

    code = "commit_outcome_unknown"


class SnapshotInvalid(RegflowError):
    """A snapshot is malformed or of a schema version this release cannot read."""

    code = "snapshot_invalid"

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__()

    def __str__(self) -> str:
        return f"{self.message('en')} ({self.detail})"


class LoginFailed(RegflowError):
    """Unknown email or wrong password: deliberately the same error for both."""

    code = "login_failed"


class LoginThrottled(RegflowError):
    """Too many failed logins for this account; try again at `retry_at`."""

    code = "login_throttled"

    def __init__(self, retry_at: dt.datetime) -> None:
        self.retry_at = retry_at
        super().__init__(retry_at=retry_at.strftime("%H:%M UTC"))


class RateLimited(RegflowError):
    """Too many requests of one kind from the client's address (`regflow.ratelimit`); nothing
    was done. `action` is `start`, `password` or `login`; `retry_after` the whole seconds until
    the limit's window ends (an HTTP `Retry-After`)."""

    code = "rate_limited"

    def __init__(self, *, action: str, retry_after: int) -> None:
        self.action = action
        self.retry_after = retry_after
        super().__init__(seconds=retry_after)
