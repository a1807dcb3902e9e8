"""What a registration page shows, per state: one UI model that the web and the terminal render.

`page(flow)` turns a flow's public view into a `Page`: which of the guide's four phases it is,
its title, the form fields (value, required mark, input type, autocomplete, every field error),
the actions the state table allows there, messages (a failed identification, an outcome's
warnings) and the contacts to call. The models are Ory Kratos's `ui.nodes` and Keycloak's
`messagesPerField`: a renderer lays the model out and never asks the flow what it may do; the
table (`regflow.machine.allowed_events`) and the flow's data have already answered.

Pure: no I/O, no ports. Texts come from the library's catalogues (gettext domain `regflow_ui`
for the page texts, `regflow` for error and outcome messages), in the language the caller asks
for (a web app's language switch) or else the flow's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, Literal

import attrs

from regflow._i18n import N_, Language, resolve_language, translate
from regflow.errors import DetailsRejected, FieldError, message_for
from regflow.machine import Event, State, allowed_events
from regflow.model import CONTACT_FIELDS, Contact, ContactDetails
from regflow.validation import MAX_LENGTHS

if TYPE_CHECKING:
    from regflow.flow import RegistrationFlow
    from regflow.model import Account

__all__ = [
    "PHASES",
    "Action",
    "BankChoice",
    "ContactLine",
    "Field",
    "Message",
    "Page",
    "SummaryRow",
    "contact_lines",
    "ended",
    "page",
    "text",
]

DOMAIN: Final = "regflow_ui"
PHASES: Final = 4  # the guide's phases: identify, personal identity code, details, confirm

PHASE_OF: Final[Mapping[State, int]] = {
    State.choosing_bank: 1,
    State.awaiting_bank: 1,
    State.confirming_personal_id: 2,
    State.entering_details: 3,
    State.reviewing: 4,
}

TEXTS: Final[Mapping[str, str]] = {
    # page titles, per state
    "title.choosing_bank": N_("Identify yourself with your bank"),
    "title.awaiting_bank": N_("Continue at your bank"),
    "title.confirming_personal_id": N_("Check your personal identity code"),
    "title.entering_details": N_("Your details"),
    "title.reviewing": N_("Check and approve"),
    "title.completed": N_("Registration complete"),
    "title.needs_customer_service": N_("Please contact customer service"),
    "title.already_registered": N_("You are already registered"),
    "title.cancelled": N_("Registration cancelled"),
    "title.expired": N_("Registration expired"),
    # phase names, for a progress list
    "phase.1": N_("Identification"),
    "phase.2": N_("Personal identity code"),
    "phase.3": N_("Details"),
    "phase.4": N_("Confirmation"),
    "phase_of": N_("Phase {phase} of {phases}"),
    # what each page says first
    "intro.choosing_bank": N_(
        "Choose your bank or the mobile certificate. You will return here after identifying."
    ),
    "intro.awaiting_bank": N_("Identify yourself at {bank}, then you will return here."),
    "intro.confirming_personal_id": N_(
        "The bank gave us this personal identity code. If it is yours, choose Next."
    ),
    "intro.entering_details": N_(
        "We filled in the details we have. Check them and choose a password. Fields marked * "
        "are required. Your email address will be your username."
    ),
    "intro.reviewing": N_("Check your details. Approve creates your account."),
    "intro.completed": N_(
        "Your account has been created. We sent a confirmation to your email address."
    ),
    "intro.needs_customer_service": N_("Customer service can register you on your behalf."),
    "intro.already_registered": N_(
        "You already have an account. Log in with your email address and password."
    ),
    "intro.cancelled": N_("You can start again at any time."),
    "intro.expired": N_("You can start again at any time."),
    # fields
    "field.given_names": N_("Given names"),
    "field.family_name": N_("Family name"),
    "field.email": N_("Email address"),
    "field.phone": N_("Phone number"),
    "field.street_address": N_("Street address"),
    "field.postal_code": N_("Postal code"),
    "field.post_office": N_("Post office"),
    "field.language": N_("Preferred language"),
    "field.marketing_consent": N_("I would like to receive offers and news by email"),
    "field.password": N_("Password"),
    "field.personal_id": N_("Personal identity code"),
    "field.username": N_("Username"),
    "hint.email": N_("This will be your username."),
    "hint.password": N_("The password must meet these requirements:"),
    "language.sv": N_("Swedish"),
    "language.fi": N_("Finnish"),
    "language.en": N_("English"),
    "value.yes": N_("Yes"),
    "value.no": N_("No"),
    # actions
    "action.select_bank": N_("Identify"),
    "action.bank_not_listed": N_("My bank is not on the list"),
    "action.choose_other_bank": N_("Choose another bank"),
    "action.confirm_personal_id": N_("Next"),
    "action.submit_details": N_("Next"),
    "action.edit": N_("Edit"),
    "action.approve": N_("Approve"),
    "action.cancel": N_("Cancel registration"),
    "action.continue_at_bank": N_("Continue to the bank"),
    "action.service_selection": N_("Go to service selection"),
    "action.log_in": N_("Log in"),
    "action.start_again": N_("Start again"),
    # contacts
    "contact.customer_service": N_("Customer service"),
    "contact.district_heating_advisory": N_("District heating advisory"),
    "contact.hours": N_("open {hours}"),
    # review and outcome
    "changed_fields": N_(
        "These details differ from our customer register: {fields}. Your e-services profile "
        "uses what you entered; to change the customer register, contact customer service."
    ),
    "error_summary": N_("Please correct the following:"),
}

# Phase 3's fields in the guide's order, each with its input type and autocomplete token.
_INPUTS: Final[Mapping[str, tuple[str, str]]] = {
    "given_names": ("text", "given-name"),
    "family_name": ("text", "family-name"),
    "email": ("email", "email"),
    "phone": ("tel", "tel"),
    "street_address": ("text", "street-address"),
    "postal_code": ("text", "postal-code"),
    "post_office": ("text", "address-level2"),
    "language": ("select", "language"),
    "marketing_consent": ("checkbox", "off"),
}
# Events a user chooses on a page; complete_identification is the bank's answer, not a button.
_USER_EVENTS: Final = frozenset(Event) - {Event.complete_identification, Event.expire}
_PRIMARY: Final = frozenset({Event.confirm_personal_id, Event.submit_details, Event.approve})


def text(key: str, language: object, /, **params: object) -> str:
    """One of this module's `TEXTS` in `language` (English for a language regflow lacks)."""
    return translate(DOMAIN, TEXTS[key], language, **params)


@attrs.frozen
class Field:
    """One form field: the `name` a form posts, its label, value and every error on it."""

    name: str
    label: str
    value: str
    input_type: Literal["text", "email", "tel", "password", "select", "checkbox"]
    autocomplete: str
    required: bool
    errors: tuple[str, ...] = ()  # localised messages, in the order found
    error_codes: tuple[str, ...] = ()
    hint: str = ""
    max_length: int | None = None
    options: tuple[tuple[str, str], ...] = ()  # (value, label) for a select
    checked: bool = False  # a checkbox's state


@attrs.frozen
class Action:
    """An event the table allows in this state, as a button: post `event` to choose it."""

    event: str
    label: str
    kind: Literal["primary", "secondary", "cancel"]


@attrs.frozen
class BankChoice:
    """One button of phase 1's bank list."""

    id: str
    label: str


@attrs.frozen
class Message:
    """Something to tell the user: `kind` is error, warning or info; `code` is stable."""

    kind: Literal["error", "warning", "info"]
    code: str
    text: str


@attrs.frozen
class ContactLine:
    """A contact to call: who, the number, and when they answer."""

    kind: str
    label: str
    phone: str
    hours: str = ""

    @property
    def text(self) -> str:
        """The number and the hours, for a sentence."""
        return f"{self.phone} ({self.hours})" if self.hours else self.phone


@attrs.frozen
class SummaryRow:
    """One row of the review page (or of phase 2): a labelled value."""

    name: str
    label: str
    value: str


@attrs.frozen
class Page:
    """Everything one state's page shows. `phase` is None on the terminal pages."""

    state: State
    language: Language
    title: str
    intro: str
    phase: int | None = None
    phase_label: str = ""
    banks: tuple[BankChoice, ...] = ()
    fields: tuple[Field, ...] = ()
    actions: tuple[Action, ...] = ()
    messages: tuple[Message, ...] = ()
    contacts: tuple[ContactLine, ...] = ()
    requirements: tuple[tuple[str, str], ...] = ()  # the password checklist: (code, text)
    summary: tuple[SummaryRow, ...] = ()
    review_token: str | None = None  # the approve form's hidden value
    bank_url: str | None = None  # awaiting_bank: where the user identifies
    username: str | None = None  # completed, from the account

    @property
    def terminal(self) -> bool:
        """Whether the registration has ended on this page."""
        return self.state.terminal

    @property
    def field_errors(self) -> tuple[tuple[Field, str], ...]:
        """Every (field, message) pair, in form order: the error summary at the top."""
        return tuple((f, e) for f in self.fields for e in f.errors)

    def action(self, event: str) -> Action | None:
        """The action for `event`, if the state allows it."""
        return next((a for a in self.actions if a.event == event), None)


def page(
    flow: RegistrationFlow,
    *,
    language: object = None,
    rejected: DetailsRejected | None = None,
    entered: ContactDetails | None = None,
    account: Account | None = None,
) -> Page:
    """The page for `flow`'s current state.

    - `language`: what to render in (any tag; `normalize_language` maps it); default the flow's.
    - `rejected`, `entered`: phase 3 after a refused `submit_details`: the errors and the values
      the user typed (kept; the password never).
    - `account`: the completed flow's account (`RegistrationService.account`), for the
      username: a completed flow keeps no personal data of its own.
    """
    lang = resolve_language(flow.language if language is None else language)
    state = flow.state
    phase = PHASE_OF.get(state)
    base = Page(
        state=state,
        language=lang,
        title=text(f"title.{state}", lang),
        intro="",
        phase=phase,
        phase_label=text("phase_of", lang, phase=phase, phases=PHASES) if phase else "",
        actions=_actions(state, lang),
    )
    if state is State.choosing_bank:
        messages = (
            (Message("error", flow.last_error, message_for(flow.last_error, lang)),)
            if flow.last_error
            else ()
        )
        banks = tuple(BankChoice(b.id, b.label(lang)) for b in flow.banks)
        return attrs.evolve(
            base, intro=text("intro.choosing_bank", lang), banks=banks, messages=messages
        )
    if state is State.awaiting_bank:
        redirect = flow.redirect
        bank = next(
            (b.label(lang) for b in flow.banks if redirect and b.id == redirect.bank_id), ""
        )
        return attrs.evolve(
            base,
            intro=text("intro.awaiting_bank", lang, bank=bank),
            bank_url=redirect.url if redirect else None,
        )
    if state is State.confirming_personal_id:
        summary = (
            SummaryRow("personal_id", text("field.personal_id", lang), flow.personal_id or ""),
        )
        return attrs.evolve(base, intro=text("intro.confirming_personal_id", lang), summary=summary)
    if state is State.entering_details:
        return attrs.evolve(
            base,
            intro=text("intro.entering_details", lang),
            fields=_detail_fields(flow, lang, rejected, entered),
            requirements=tuple(flow.requirements(lang)),
        )
    if state is State.reviewing:
        details = flow.details or ContactDetails()
        return attrs.evolve(
            base,
            intro=text("intro.reviewing", lang),
            summary=_summary(details, lang),
            review_token=flow.review_token,
        )
    return _ending(flow, base, lang, account)


def _actions(state: State, lang: Language) -> tuple[Action, ...]:
    actions = []
    for event in allowed_events(state):
        if event not in _USER_EVENTS or event is Event.select_bank:
            continue  # select_bank is the bank list itself
        kind: Literal["primary", "secondary", "cancel"] = (
            "primary" if event in _PRIMARY else "cancel" if event is Event.cancel else "secondary"
        )
        actions.append(Action(str(event), text(f"action.{event}", lang), kind))
    # primary first, cancel last: the order a form shows them
    order = {"primary": 0, "secondary": 1, "cancel": 2}
    return tuple(sorted(actions, key=lambda a: order[a.kind]))


def _detail_fields(
    flow: RegistrationFlow,
    lang: Language,
    rejected: DetailsRejected | None,
    entered: ContactDetails | None,
) -> tuple[Field, ...]:
    values = entered or flow.details or flow.prefilled or ContactDetails()
    required = flow.settings.required_fields
    errors: dict[str, list[FieldError]] = {}
    for error in rejected.errors if rejected else ():
        errors.setdefault(error.field, []).append(error)
    fields = []
    for name in CONTACT_FIELDS:
        input_type, autocomplete = _INPUTS[name]
        value = getattr(values, name)
        found = errors.get(name, [])
        fields.append(
            Field(
                name=name,
                label=text(f"field.{name}", lang),
                value="" if isinstance(value, bool) else value,
                input_type=input_type,  # type: ignore[arg-type]  # the table's literal values
                autocomplete=autocomplete,
                required=name in required,
                errors=tuple(e.message(lang) for e in found),
                error_codes=tuple(e.code for e in found),
                hint=text("hint.email", lang) if name == "email" else "",
                max_length=MAX_LENGTHS.get(name),
                options=_language_options(lang) if name == "language" else (),
                checked=value is True,
            )
        )
    password_errors = errors.get("password", [])
    fields.append(
        Field(
            name="password",
            label=text("field.password", lang),
            value="",  # never shown again
            input_type="password",
            autocomplete="new-password",
            required=True,
            errors=tuple(e.message(lang) for e in password_errors),
            error_codes=tuple(e.code for e in password_errors),
            hint=text("hint.password", lang),
        )
    )
    return tuple(fields)


def _language_options(lang: Language) -> tuple[tuple[str, str], ...]:
    return tuple((code, text(f"language.{code}", lang)) for code in ("sv", "fi", "en"))


def _summary(details: ContactDetails, lang: Language) -> tuple[SummaryRow, ...]:
    rows = []
    for name in CONTACT_FIELDS:
        value = getattr(details, name)
        if name == "marketing_consent":
            shown = text("value.yes" if value else "value.no", lang)
        elif name == "language":
            shown = text(f"language.{value}", lang) if value in {"sv", "fi", "en"} else ""
        else:
            shown = value
        rows.append(SummaryRow(name, text(f"field.{name}", lang), shown))
    return tuple(rows)


def ended(state: State, language: object, *, contacts: Iterable[Contact] = ()) -> Page:
    """A terminal page shown without its flow: `expired` for an expired or unknown flow."""
    lang = resolve_language(language)
    if not state.terminal:
        msg = f"ended() renders terminal states only, not {state}"
        raise ValueError(msg)
    return Page(
        state=state,
        language=lang,
        title=text(f"title.{state}", lang),
        intro=text(f"intro.{state}", lang),
        contacts=contact_lines(contacts, lang),
    )


def contact_lines(contacts: Iterable[Contact], language: object) -> tuple[ContactLine, ...]:
    """`contacts` labelled in `language`, for a page's footer or an outcome."""
    return _contacts(contacts, resolve_language(language))


def _contacts(contacts: Iterable[Contact], lang: Language) -> tuple[ContactLine, ...]:
    return tuple(
        ContactLine(
            kind=c.kind,
            label=text(f"contact.{c.kind}", lang) if f"contact.{c.kind}" in TEXTS else c.kind,
            phone=c.phone,
            hours=c.hours,
        )
        for c in contacts
    )


def _ending(flow: RegistrationFlow, base: Page, lang: Language, account: Account | None) -> Page:
    state = flow.state
    outcome = flow.outcome
    messages: list[Message] = []
    contacts: tuple[Contact, ...] = outcome.contacts if outcome else ()
    if state is State.needs_customer_service:
        reason = outcome.reason if outcome and outcome.reason else "bank_not_listed"
        messages.append(Message("info", reason, message_for(reason, lang)))
        if not contacts:
            contacts = (flow.settings.customer_service,)
    if outcome and state is State.completed:
        messages.extend(Message("warning", w, message_for(w, lang)) for w in outcome.warnings)
        if outcome.changed_fields:
            names = ", ".join(text(f"field.{f}", lang) for f in outcome.changed_fields)
            messages.append(
                Message("info", "changed_fields", text("changed_fields", lang, fields=names))
            )
    summary: tuple[SummaryRow, ...] = ()
    username = account.email if account else None
    if username:
        summary = (SummaryRow("username", text("field.username", lang), username),)
    return attrs.evolve(
        base,
        intro=text(f"intro.{state}", lang),
        messages=tuple(messages),
        contacts=_contacts(contacts, lang),
        summary=summary,
        username=username,
    )
