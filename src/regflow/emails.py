"""The confirmation email, in the user's language, as text and HTML."""

from __future__ import annotations

import hashlib
import html
from typing import Final

from regflow._i18n import N_, resolve_language, translate
from regflow.model import Contact, EmailMessage

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
