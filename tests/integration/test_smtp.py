"""The SMTP mailer against aiosmtpd on loopback: content, language, Message-ID, TLS, failures."""

from __future__ import annotations

import ssl

import attrs
import pytest
from tests.smtp_fixtures import (  # noqa: F401  # fixtures
    SMTP_PASSWORD,
    SMTP_USER,
    SmtpServer,
    free_port,
    smtp_server,
    smtp_tls_server,
)
from tests.storage_support import memory_service, people, register_until_review

from regflow import AdapterError, CustomerRecord, EmailMessage, deliver_pending_emails
from regflow.adapters.smtp import SmtpConfig, SmtpMailer, message_id_header
from regflow.emails import SUBJECT, confirmation_message_id
from regflow.outbox import OutboxPorts
from regflow.service import RegistrationService

RECORD = people(1)[0]
# RECORD as a person who chose no language in phase 3: the email goes out in the flow's
NO_CHOICE = attrs.evolve(RECORD, details=attrs.evolve(RECORD.details, language=""))
SENDER = "no-reply@example.fi"


def registered(
    language: str, record: CustomerRecord = NO_CHOICE
) -> tuple[RegistrationService, str]:
    """An in-memory service where `record` completed a registration in `language`."""
    service = memory_service([record])
    flow = register_until_review(service, record, language=language)
    assert flow.review_token is not None
    service.approve(flow.id, flow.review_token)
    return service, flow.id


def relay_through(service: RegistrationService, mailer: SmtpMailer) -> int:
    """One relay pass of the service's outbox through `mailer`."""
    ports = OutboxPorts(outbox=service.ports.outbox, mailer=mailer, clock=service.ports.clock)
    return deliver_pending_emails(ports)


@pytest.mark.parametrize("language", ["sv", "fi", "en"])
def test_confirmation_email_arrives_in_the_flow_language(
    smtp_server: SmtpServer,  # noqa: F811  # the fixture imported above
    language: str,
) -> None:
    """The email arrives with the flow's language, text and HTML parts, and a stable id."""
    service, flow_id = registered(language)
    (queued,) = service.ports.accounts.pending_messages(service.ports.clock.now(), 10)
    mailer = SmtpMailer(SmtpConfig(sender=SENDER, host=smtp_server.host, port=smtp_server.port))
    assert relay_through(service, mailer) == 1
    (received,) = smtp_server.inbox.messages
    assert received["Message-ID"] == f"<{confirmation_message_id(flow_id)}@example.fi>"
    assert received["From"] == SENDER
    assert received["To"] == RECORD.details.email
    assert received["Content-Language"] == language
    assert received["Subject"] == queued.message.subject
    assert (received["Subject"] == SUBJECT) == (language == "en")  # translated unless English
    assert received.get_content_type() == "multipart/alternative"
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == queued.message.text  # SMTP's CRLF
    assert html.get_content().rstrip() == queued.message.html.rstrip()
    assert RECORD.details.email in text.get_content()


def _lines(raw: bytes) -> list[bytes]:
    """The message's lines; every one must end in CRLF (no bare CR or LF anywhere)."""
    assert raw.endswith(b"\r\n")
    lines = raw[:-2].split(b"\r\n")
    assert not [line for line in lines if b"\r" in line or b"\n" in line]
    return lines


@pytest.mark.parametrize("language", ["sv", "fi", "en"])
def test_raw_message_keeps_the_line_limits(
    smtp_server: SmtpServer,  # noqa: F811  # the fixture imported above
    language: str,
) -> None:
    """As received: 7-bit, CRLF lines, quoted-printable lines <= 76, every line <= 998."""
    long_name = attrs.evolve(RECORD.details, given_names="Anna-Liisa Maria Eveliina", language="")
    record = attrs.evolve(RECORD, details=long_name)
    service, flow_id = registered(language, record)
    (queued,) = service.ports.accounts.pending_messages(service.ports.clock.now(), 10)
    mailer = SmtpMailer(SmtpConfig(sender=SENDER, host=smtp_server.host, port=smtp_server.port))
    assert relay_through(service, mailer) == 1
    (raw,) = smtp_server.inbox.raw
    assert raw.isascii()  # no 8BITMIME needed
    lines = _lines(raw)
    assert max(len(line) for line in lines) <= 998  # RFC 5322 section 2.1.1, the hard limit
    header = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert f"\r\nMessage-ID: <{confirmation_message_id(flow_id)}@example.fi>\r\n" in header
    # RFC 2045 section 6.7: the body lines of every quoted-printable part are at most 76
    (received,) = smtp_server.inbox.messages
    boundary = received.get_boundary()
    assert boundary is not None
    parts = raw.split(f"\r\n--{boundary}".encode())[1:-1]  # between preamble and the end
    assert len(parts) == 2  # text and HTML
    for part in parts:
        part_header, body = part.split(b"\r\n\r\n", 1)
        assert b"\r\nContent-Transfer-Encoding: quoted-printable" in part_header
        assert body.strip()
        assert max(len(line) for line in body.split(b"\r\n")) <= 76
    # and it decodes to what was queued
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == queued.message.text
    assert html.get_content().rstrip() == queued.message.html.rstrip()


def test_starttls_and_login(smtp_tls_server: SmtpServer) -> None:  # noqa: F811  # fixture
    """With STARTTLS and a login the email is delivered; a wrong password is retried later."""
    assert smtp_tls_server.cafile is not None
    context = ssl.create_default_context(cafile=str(smtp_tls_server.cafile))
    config = SmtpConfig(
        sender=SENDER,
        host=smtp_tls_server.host,
        port=smtp_tls_server.port,
        starttls=True,
        username=SMTP_USER,
        password="wrong",
        ssl_context=context,
        timeout=2,  # smtplib tries a second mechanism after the refusal; aiosmtpd never answers
    )
    service, _ = registered("fi")
    assert relay_through(service, SmtpMailer(config)) == 0
    (queued,) = service.ports.outbox.claim_messages(
        service.ports.clock.now().replace(year=2100), 10, service.ports.clock.now()
    )
    assert queued.attempts == 1
    assert queued.last_error.startswith("mailer: SMTP")  # the class only: no server text
    good = SmtpMailer(attrs.evolve(config, password=SMTP_PASSWORD, timeout=30))
    good.send(queued.message)
    assert len(smtp_tls_server.inbox.messages) == 1


def test_plain_server_refuses_starttls_configuration(smtp_server: SmtpServer) -> None:  # noqa: F811
    """Asking for STARTTLS from a server that does not offer it fails: no silent downgrade."""
    config = SmtpConfig(sender=SENDER, host=smtp_server.host, port=smtp_server.port, starttls=True)
    with pytest.raises(AdapterError) as error:
        SmtpMailer(config).send(sample())
    assert error.value.port == "mailer"
    assert smtp_server.inbox.messages == []


def test_unreachable_server_is_an_adapter_error() -> None:
    """A server that cannot be reached raises AdapterError naming only the error class."""
    mailer = SmtpMailer(SmtpConfig(sender=SENDER, host="127.0.0.1", port=free_port(), timeout=2))
    with pytest.raises(AdapterError) as error:
        mailer.send(sample())
    assert error.value.detail == "ConnectionRefusedError"


def test_login_without_tls_is_refused() -> None:
    """A configuration that would send the SMTP password in clear is refused."""
    with pytest.raises(ValueError, match="STARTTLS"):
        SmtpConfig(sender=SENDER, username="u", password="p")


def test_message_id_is_derived_from_the_outbox_id() -> None:
    """The Message-ID is the outbox id at the domain; an unusual id becomes a stable digest."""
    assert message_id_header("registration-confirmation.a_b-C", "example.fi") == (
        "<registration-confirmation.a_b-C@example.fi>"
    )
    odd = message_id_header("has space<>", "example.fi")
    assert odd == message_id_header("has space<>", "example.fi")
    assert " " not in odd
    assert odd.endswith("@example.fi>")


def sample() -> EmailMessage:
    """A small message to send."""
    return EmailMessage(
        message_id="m1", to="anna@example.fi", subject="Hei", text="Hei", html="<p>Hei</p>"
    )
