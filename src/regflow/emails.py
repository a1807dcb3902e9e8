"""The emails regflow queues, in the user's language, as text and HTML: the confirmation of a
registration, and the notice that contracts were linked to an account later."""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Sequence
from typing import Final

from regflow._i18n import N_, resolve_language, translate
from regflow.model import Contact, ContractLink, EmailMessage

DOMAIN: Final = "regflow"

SUBJECT: Final = N_("Your e-services account is ready")
GREETING: Final = N_("Hello {name},")
BODY: Final = N_(
    "Your registration for the e-services is complete. Your username is {username}. "
    "From now on, log in with your email address and the password you chose; bank codes "
    "are not needed any more."
)
DISTRICT_HEATING: Final = N_(
    "Your district heating contract could not be linked to your account automatically. "
    "Please call the district heating advisory, {phone} ({hours})."
)
NOT_ME: Final = N_("If you did not register, please contact customer service, {phone}.")


def confirmation_message_id(flow_id: str) -> str:
    """The outbox id of a flow's confirmation email: the same on every retry of `approve`.

    Derived from the flow id by a hash, so that mail logs and headers never carry the flow id
    itself (which is what lets a browser continue the flow).
    """
    digest = hashlib.sha256(flow_id.encode()).hexdigest()[:32]
    return f"registration-confirmation.{digest}"


def confirmation_email(
    *,
    flow_id: str,
    to: str,
    name: str,
    language: str,
    customer_service: Contact,
    district_heating: Contact | None,
) -> EmailMessage:
    """Build the confirmation email; `district_heating` adds the advisory's contact.

    `language` is mapped by `normalize_language`; one regflow does not speak gives English.
    """
    language = resolve_language(language)
    paragraphs = [
        translate(DOMAIN, GREETING, language, name=name),
        translate(DOMAIN, BODY, language, username=to),
    ]
    if district_heating is not None:
        paragraphs.append(
            translate(
                DOMAIN,
                DISTRICT_HEATING,
                language,
                phone=district_heating.phone,
                hours=district_heating.hours,
            )
        )
    paragraphs.append(translate(DOMAIN, NOT_ME, language, phone=customer_service.phone))
    text = "\n\n".join(paragraphs) + "\n"
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    markup = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8"></head>'
        f"<body>{body}</body></html>"
    )
    return EmailMessage(
        message_id=confirmation_message_id(flow_id),
        to=to,
        subject=translate(DOMAIN, SUBJECT, language),
        text=text,
        html=markup,
        language=language,
    )


# -- a contract linked after registration (`RegistrationService.link_pending_contracts`) --------

LINKED_SUBJECT: Final = N_("A contract was linked to your e-services account")
LINKED_BODY: Final = N_(
    "The following contracts are now linked to your e-services account, and you can manage "
    "them when you log in:"
)
KIND_NAMES: Final[dict[str, str]] = {
    "electricity": N_("Electricity"),
    "district_heating": N_("District heating"),
    "district_cooling": N_("District cooling"),
    "gas": N_("Gas"),
}
LINKED_CONTRACT: Final = N_("{kind}, contract {number}")
LINKED_QUESTIONS: Final = N_(
    "If you have questions about your contracts, please contact customer service, {phone}."
)


def contracts_linked_message_id(account_id: str, contract_numbers: Iterable[str]) -> str:
    """The outbox id of the email for one linking: the same for the same account and contracts,
    so that a linking recorded twice queues one email. Hashed: no account id in mail logs."""
    key = "\x1f".join([account_id, *sorted(contract_numbers)])
    return f"contracts-linked.{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def contracts_linked_email(
    *,
    account_id: str,
    to: str,
    name: str,
    language: str,
    contracts: Sequence[ContractLink],
    customer_service: Contact,
) -> EmailMessage:
    """The email telling the user that `contracts` are now linked to their account."""
    language = resolve_language(language)
    lines = [
        translate(
            DOMAIN,
            LINKED_CONTRACT,
            language,
            kind=translate(DOMAIN, KIND_NAMES[str(c.kind)], language),
            number=c.contract_number,
        )
        for c in contracts
    ]
    greeting = translate(DOMAIN, GREETING, language, name=name)
    body = translate(DOMAIN, LINKED_BODY, language)
    questions = translate(DOMAIN, LINKED_QUESTIONS, language, phone=customer_service.phone)
    text = "\n\n".join([greeting, body, "\n".join(f"- {line}" for line in lines), questions])
    text += "\n"
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    markup = (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8"></head><body>'
        f"<p>{html.escape(greeting)}</p><p>{html.escape(body)}</p><ul>{items}</ul>"
        f"<p>{html.escape(questions)}</p></body></html>"
    )
    return EmailMessage(
        message_id=contracts_linked_message_id(
            account_id, [str(c.contract_number) for c in contracts]
        ),
        to=to,
        subject=translate(DOMAIN, LINKED_SUBJECT, language),
        text=text,
        html=markup,
        language=language,
    )
